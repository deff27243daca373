"""Pure ASGI middleware of the gateway: header and body size limits, per-route metrics."""

from __future__ import annotations

import time
from typing import Any

import orjson

from core.metrics import GATEWAY_LATENCY, GATEWAY_REQUESTS
from core.tokens import MAX_TOKEN_CHARS
from producers.gateway.cors import send_error

ASGIApp = Any
Scope = dict[str, Any]
Message = dict[str, Any]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: Where BodyLimitMiddleware leaves the body it buffered (bytes).
BODY_SCOPE_KEY = "redeemflow.body"


class HeaderLimitMiddleware:
    """Refuses requests whose headers total over ``limit`` bytes, or whose Authorization is
    longer than any token could be, with 431 before anything else runs (nothing published).
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        if scope["type"] == "http":
            total = 0
            for name, value in scope["headers"]:
                total += len(name) + len(value)
                if name == b"authorization" and len(value) > MAX_TOKEN_CHARS + 16:
                    await send_error(send, 431, "authorization_too_large",
                                     f"Authorization header over {MAX_TOKEN_CHARS} bytes")
                    return
            if total > self.limit:
                await send_error(send, 431, "headers_too_large",
                                 f"request headers larger than {self.limit} bytes")
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with 413, before any handler runs.

    Checks ``Content-Length`` first, then counts the bytes actually streamed (a client may
    lie or send chunked), buffering at most ``limit`` bytes, and replays them to the app.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        scope[BODY_SCOPE_KEY] = body  # the redeem fast path reads it here, not via receive
        await self.app(scope, _replay(body, receive), send)

    async def _refuse(self, send: Any) -> None:
        body = orjson.dumps(
            {"error": "payload_too_large",
             "message": f"request body larger than {self.limit} bytes", "fields": []}
        )
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: Message = await receive()
        return message

    return replay


class MetricsMiddleware:
    """Counts requests by route template and status, and times them (bounded labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._counters: dict[tuple[str, int], Any] = {}
        self._timers: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self._counter(label, status).inc()
            self._timer(label).observe(time.perf_counter() - started)

    def _counter(self, route: str, status: int) -> Any:
        """The labelled counter child, looked up once per (route, status)."""
        child = self._counters.get((route, status))
        if child is None:
            child = self._counters[(route, status)] = GATEWAY_REQUESTS.labels(
                route=route, status=str(status))
        return child

    def _timer(self, route: str) -> Any:
        child = self._timers.get(route)
        if child is None:
            child = self._timers[route] = GATEWAY_LATENCY.labels(route=route)
        return child
