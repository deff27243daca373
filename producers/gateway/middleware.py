"""Pure ASGI middleware of the gateway: a body size limit and per-route Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any

from core.metrics import GATEWAY_LATENCY, GATEWAY_REQUESTS

ASGIApp = Any
Scope = dict[str, Any]
Message = dict[str, Any]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class PayloadTooLarge(Exception):
    """The body is larger than the gateway's limit (answered 413 ``payload_too_large``)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with 413, when the app reads the body.

    The limit is enforced in ``receive``: a declared ``Content-Length`` over the limit, or more
    bytes streamed than the limit (a client may lie or send chunked), raise
    :class:`PayloadTooLarge` on the app's first read past it, answered 413 by the app's handler.
    Enforcing it at read time, not before the app runs, keeps authentication first: a route
    authenticates before it reads the body, so a request without a valid key is 401 whatever
    its size. At most ``limit`` bytes are ever read.
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
        limit = self.limit
        size = 0

        async def limited() -> Message:
            nonlocal size
            if declared is not None and declared > limit:
                raise PayloadTooLarge(limit)
            message: Message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise PayloadTooLarge(limit)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class MetricsMiddleware:
    """Counts requests by route template and status, and times them (bounded labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            GATEWAY_REQUESTS.labels(route=label, status=str(status)).inc()
            GATEWAY_LATENCY.labels(route=label).observe(time.perf_counter() - started)
