"""CORS for browsers calling the gateway with end-user tokens (pure ASGI middleware).

Origins are allowed per tenant (``REDEEMFLOW_GATEWAY_CORS_ORIGINS``, tenant id -> origins).
A preflight carries no credentials, so it is answered for an origin allowed for *some*
tenant; the real answer then carries ``Access-Control-Allow-Origin`` only when the origin is
allowed for the tenant the request authenticated as (the route notes it in the scope), so a
page of tenant A cannot read tenant B's answers. Answers given before the tenant is known
(401, 413, 422, 431) carry only a generic error and are readable by any allowed origin.
Credentials (cookies) are never needed nor allowed: no ``Allow-Credentials``. An origin not
allowed gets no CORS header at all; a malformed ``Origin`` (CR/LF, path, spaces) is 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

ASGIApp = Any
Scope = dict[str, Any]
Message = dict[str, Any]

#: The scope key the routes set to the authenticated tenant id.
TENANT_SCOPE_KEY = "redeemflow.tenant"
ALLOWED_METHODS = frozenset({"GET", "POST"})
#: Request headers a browser may send (never x-api-key: API keys stay server side).
ALLOWED_HEADERS = frozenset(
    {"authorization", "content-type", "idempotency-key", "x-product-code", "x-device-id",
     "accept"}
)
_EXPOSED = b"Location, Retry-After, Idempotency-Key"
_MAX_AGE = b"600"
_ORIGIN = re.compile(rb"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$|^null$")


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a request header (names are lower case in ASGI)."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def send_error(send: Any, status: int, error: str, message: str,
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer ``{"error", "message", "fields": []}`` and close the connection."""
    body = orjson.dumps({"error": error, "message": message, "fields": []})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


class CorsMiddleware:
    """Answers preflights and adds CORS headers for allowed origins (see module doc)."""

    def __init__(self, app: ASGIApp, origins: Mapping[str, Iterable[str]]) -> None:
        self.app = app
        self._by_tenant = {
            tenant: frozenset(o.rstrip("/").lower() for o in listed)
            for tenant, listed in origins.items()
        }
        self._any = frozenset().union(*self._by_tenant.values()) if self._by_tenant else frozenset()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = header(scope, b"origin")
        if raw is None:
            await self.app(scope, receive, send)
            return
        if not _ORIGIN.match(raw):
            await send_error(send, 400, "invalid_origin",
                             "the Origin header must be scheme://host[:port]")
            return
        origin = raw.decode("ascii").lower()
        if scope["method"] == "OPTIONS" and header(scope, b"access-control-request-method"):
            await self._preflight(scope, origin, send)
            return
        await self.app(scope, receive, self._with_headers(scope, origin, send))

    def allowed(self, origin: str, tenant_id: str | None) -> bool:
        """Whether ``origin`` may read an answer of ``tenant_id`` (None: not known yet)."""
        if tenant_id is None:
            return origin in self._any
        return origin in self._by_tenant.get(tenant_id, frozenset())

    async def _preflight(self, scope: Scope, origin: str, send: Any) -> None:
        method = (header(scope, b"access-control-request-method") or b"").decode("latin-1")
        wanted = (header(scope, b"access-control-request-headers") or b"").decode("latin-1")
        names = {n.strip().lower() for n in wanted.split(",") if n.strip()}
        if origin not in self._any or method not in ALLOWED_METHODS or not names <= ALLOWED_HEADERS:
            await send_error(send, 403, "cors_refused",
                             "origin, method or headers not allowed for cross-origin calls")
            return
        await send({"type": "http.response.start", "status": 204, "headers": [
            (b"access-control-allow-origin", origin.encode()),
            (b"access-control-allow-methods", b"GET, POST"),
            (b"access-control-allow-headers", ", ".join(sorted(ALLOWED_HEADERS)).encode()),
            (b"access-control-max-age", _MAX_AGE),
            (b"vary", b"Origin"),
            (b"content-length", b"0"),
        ]})
        await send({"type": "http.response.body", "body": b""})

    def _with_headers(self, scope: Scope, origin: str, send: Any) -> Any:
        async def cors_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"vary", b"Origin")]
                if self.allowed(origin, scope.get(TENANT_SCOPE_KEY)):
                    headers += [(b"access-control-allow-origin", origin.encode()),
                                (b"access-control-expose-headers", _EXPOSED)]
                message = {**message, "headers": headers}
            await send(message)

        return cors_send
