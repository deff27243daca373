"""A stand-in for the gateway that answers every POST after a fixed delay, to measure what
the load generator itself adds to the latencies it reports (``bench/gateway.py --stub-ms``).

On the two-core machine the load generator shares the cores with what it measures: its own
pauses (a busy event loop, a garbage collection) delay both the sending of a request and the
reading of its answer, and a fixed-rate run counts both. Against this stub every answer takes
exactly the delay, so whatever a percentile shows beyond it is the generator's (and the
machine's) share. The stub runs in a process of its own, on uvloop.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import socket
import time
from collections.abc import Iterator
from typing import cast

import uvloop

_BODY = b'{"requestId":"stub","outcome":"REDEEMED"}'
_ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
    % (len(_BODY), _BODY)
)


class _StubProtocol(asyncio.Protocol):
    """Reads requests with a Content-Length body; answers each ``delay`` seconds later."""

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to answer on."""
        self._transport = cast(asyncio.Transport, transport)  # uvloop's: no subclass

    def data_received(self, data: bytes) -> None:
        """Schedule one answer per complete request."""
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            length = _content_length(self._buffer[:end])
            if len(self._buffer) < end + 4 + length:
                return
            self._buffer = self._buffer[end + 4 + length:]
            asyncio.get_running_loop().call_later(self._delay, self._answer)

    def _answer(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_ANSWER)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _serve(sock: socket.socket, delay: float) -> None:
    loop = uvloop.new_event_loop()
    loop.run_until_complete(loop.create_server(lambda: _StubProtocol(delay), sock=sock))
    loop.run_forever()


@contextlib.contextmanager
def stub_server(delay: float) -> Iterator[tuple[str, int]]:
    """(base URL, pid) of a stub answering after ``delay`` seconds, for the block's length."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    process = multiprocessing.get_context("fork").Process(
        target=_serve, args=(sock, delay), daemon=True
    )
    process.start()
    time.sleep(0.2)  # listening already: this only lets the child reach its loop
    try:
        assert process.pid is not None
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", process.pid
    finally:
        process.kill()
        process.join(5)
        sock.close()
