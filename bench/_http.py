"""A lean HTTP/1.1 client for load generation: one keep-alive connection per simulated client.

httpx's AsyncClient spends more CPU per request than the gateway it measures (60 % of a core
at 94 requests/s with 32 clients on the 2-core machine; encode/httpx#3215), so on this
machine the load generator, not the gateway, set the ceiling. This client writes a request
with one ``write`` and reads the status, headers and a ``Content-Length`` body; nothing else
(no redirects, no chunked bodies: the gateway sends neither).
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit


class HttpError(Exception):
    """The connection broke or the answer was not plain HTTP/1.1 with a Content-Length."""


class KeepAliveClient:
    """POSTs JSON over one persistent connection; reconnects after a failure."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_json(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send one POST (``headers`` added to the client's) and return (status, body);
        HttpError if the exchange broke."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        request = (
            f"POST {path} HTTP/1.1\r\nhost: {self._host}:{self._port}\r\n{self._head}{extra}"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode() + body
        try:
            self._writer.write(request)
            head = await self._reader.readuntil(b"\r\n\r\n")
            status, length = _parse_head(head)
            return status, await self._reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            await self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _parse_head(head: bytes) -> tuple[int, int]:
    """(status, Content-Length) of a response head."""
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError) as exc:
        raise HttpError(f"not an HTTP status line: {lines[0]!r}") from exc
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return status, int(value.strip())
    raise HttpError("answer without Content-Length")
