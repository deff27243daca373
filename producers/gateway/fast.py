"""``POST /api/redeem`` served straight from ASGI: the gateway's hot path.

Measured on the 2-core machine, FastAPI's routing, dependency solving, Request/Response
objects and exception middleware cost more CPU per redeem call than parsing, authenticating
and publishing it. :class:`RedeemFastPath` answers ``POST /api/redeem`` itself, with the same
logic (:func:`redeem_call`) and the same error answers (errors.py) as the FastAPI route,
which stays declared for the OpenAPI document (and serves the call if the fast path is not
installed). Everything else goes on to FastAPI.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers

from core.errors import RedeemflowError
from core.logging_setup import request_context
from core.metrics import GATEWAY_PENDING
from producers.gateway.auth import Unauthorized, token_refused
from producers.gateway.cors import TENANT_SCOPE_KEY
from producers.gateway.errors import Rendered, render
from producers.gateway.middleware import BODY_SCOPE_KEY
from producers.gateway.models import RATE_LIMIT_RETRY_AFTER, RedeemAnswer, RedeemBody, status_of
from producers.gateway.parsing import parse_body, redeem_headers, user_of
from producers.gateway.redeemer import request_id_for
from producers.gateway.state import GatewayState
from schemas.events import RedeemRequested

ASGIApp = Any
Scope = dict[str, Any]
REDEEM_PATH = "/api/redeem"


def rendered_answer(answer: RedeemAnswer, idempotency_key: str | None = None) -> Rendered:
    """Status, headers and JSON body of a redeem answer (decided or PENDING)."""
    status = status_of(answer.outcome)
    headers: dict[str, str] = {}
    if status == 429:
        headers["Retry-After"] = str(RATE_LIMIT_RETRY_AFTER)
    if status == 202:
        headers["Location"] = f"{REDEEM_PATH}/{answer.request_id}"
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return status, headers, answer.model_dump_json(by_alias=True).encode()


async def redeem_call(
    state: GatewayState, scope: MutableMapping[str, Any], headers: Headers, raw: bytes
) -> Rendered:
    """Authenticate, validate, publish and await one redeem call.

    Order: credentials (401) before the request's shape (422), so an anonymous caller
    learns nothing about validation; the token's product check needs the product header."""
    principal = await state.auth.principal(headers)
    scope[TENANT_SCOPE_KEY] = principal.tenant_id
    checked = redeem_headers(headers)
    body = parse_body(RedeemBody, raw)
    user_id = user_of(principal, body.user_id)
    if principal.end_user is not None and checked.product_code not in principal.end_user.products:
        raise token_refused(f"product {checked.product_code} not in the token")
    request_id = request_id_for(principal.tenant_id, checked.idempotency_key,
                                principal.end_user.user_id if principal.end_user else None)
    with request_context(request_id, principal.tenant_id):
        event = RedeemRequested(
            request_id=request_id, tenant_id=principal.tenant_id,
            product_code=checked.product_code, code=body.code, user_id=user_id,
            device_id=checked.device_id, channel=body.channel, user_tags=body.user_tags,
        )
        GATEWAY_PENDING.inc()
        try:
            answer = await state.redeemer.redeem(event)
        finally:
            GATEWAY_PENDING.dec()
    return rendered_answer(answer, checked.idempotency_key)


@dataclass(frozen=True)
class _RouteLabel:
    """What MetricsMiddleware reads from ``scope["route"]``."""

    path: str = REDEEM_PATH


class RedeemFastPath:
    """Serves ``POST /api/redeem`` itself and hands everything else to the FastAPI app
    ``api`` (whose lifespan built the state; see the module docstring)."""

    _label = _RouteLabel()

    def __init__(self, api: ASGIApp) -> None:
        self.app = api

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        if scope["type"] != "http" or scope["path"] != REDEEM_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = self._label
        state: GatewayState = self.app.state.gateway
        raw = scope.get(BODY_SCOPE_KEY)
        if raw is None:  # served without BodyLimitMiddleware in front
            raw = await _read_body(receive)
        try:
            status, headers, body = await redeem_call(state, scope, Headers(scope=scope), raw)
        except (Unauthorized, RequestValidationError, RedeemflowError) as exc:
            rendered = render(exc)
            assert rendered is not None
            status, headers, body = rendered
        raw_headers = [(b"content-type", b"application/json"),
                       (b"content-length", str(len(body)).encode())]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
