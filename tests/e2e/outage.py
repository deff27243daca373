"""A TCP proxy in front of a real service that a test can cut and restore: an outage of
MariaDB or Redis as a worker sees it, without stopping the machine's shared server.

While cut, every open connection is closed and new ones are accepted and closed at once
(the client sees "connection lost", as when a server goes away); restored, it forwards
again. One thread accepts, two threads per connection pump bytes.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from sqlalchemy.engine import make_url

from core.adapters.mysql.engine import database_url
from core.settings import Settings

CHUNK = 65_536


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to ``target``; :meth:`cut` and :meth:`restore` it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._up = True
        self._closed = False
        self.refused = 0  # connections accepted and closed while cut
        self._acceptor = threading.Thread(target=self._accept_forever, daemon=True)

    def __enter__(self) -> CuttableProxy:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        self._listener.close()
        self._close_all()
        self._acceptor.join(5)

    def cut(self) -> None:
        """The service goes away: drop every connection, refuse new ones."""
        with self._lock:
            self._up = False
        self._close_all()

    def restore(self) -> None:
        """The service is back."""
        with self._lock:
            self._up = True

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept_forever(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            with self._lock:
                up = self._up
            if not up:
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(CHUNK):
                sink.sendall(chunk)
        with self._lock:  # one side ended: end the other, forget both
            self._open.difference_update((source, sink))
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def service_address(settings: Settings, service: str) -> tuple[str, int]:
    """Host and port of the settings' ``"mysql"`` or ``"redis"`` server."""
    url = database_url(settings) if service == "mysql" else make_url(settings.redis_url)
    return url.host or "127.0.0.1", url.port or (3306 if service == "mysql" else 6379)


def through(settings: Settings, service: str, proxy: CuttableProxy) -> Settings:
    """``settings`` with the ``"mysql"`` or ``"redis"`` URL pointing at ``proxy``."""
    if service == "mysql":
        url = database_url(settings).set(port=proxy.port).render_as_string(hide_password=False)
        return settings.model_copy(update={"database_url": url})
    redis = make_url(settings.redis_url)  # same shape: scheme://host:port/db
    url = f"redis://{redis.host}:{proxy.port}/{redis.database or 0}"
    return settings.model_copy(update={"redis_url": url})
