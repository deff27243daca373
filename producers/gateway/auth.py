"""Authentication of the gateway's API routes, done before anything else about a request.

:class:`AuthFirstRoute` resolves the ``x-api-key`` (401 ``unauthorized``) and the tenant's
status (403 ``tenant_inactive``) before FastAPI reads or parses the body, so a request without
a valid key is answered 401 whatever its body. It then checks that the body is UTF-8 JSON
(422 ``validation_error`` otherwise, the same shape as every other validation error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader

from producers.gateway.state import GatewayState, TenantInactive, Unauthorized, gateway_state

API_KEY_HEADER = "x-api-key"
#: The OpenAPI security scheme (``components.securitySchemes.ApiKeyAuth``).
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER, scheme_name="ApiKeyAuth", auto_error=False,
    description="The tenant's API key (`redeemflow apikey create`).",
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def _off_loop(state: GatewayState, call: Callable[[Any], Any], arg: Any) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(state.executor, call, arg)


async def authenticate(request: Request) -> str:
    """The tenant of the request's key; raises Unauthorized (401) or TenantInactive (403)."""
    state = gateway_state(request)
    key = request.headers.get(API_KEY_HEADER)
    if not key:
        raise Unauthorized(f"missing {API_KEY_HEADER} header")
    hit, tenant = state.resolver.cached(key)
    if not hit:
        tenant = await _off_loop(state, state.resolver.resolve, key)
    if tenant is None:
        raise Unauthorized("invalid API key")
    stale = state.tenants.stale([tenant])
    if stale:
        await _off_loop(state, state.tenants.refresh, stale)
    if state.tenants.inactive(tenant):
        raise TenantInactive(f"tenant {tenant} is suspended or closed: its keys are refused")
    return str(tenant)


async def _require_json_body(request: Request) -> None:
    """422 ``validation_error`` for a body that is not UTF-8 JSON (before FastAPI parses it)."""
    if request.method not in _BODY_METHODS:
        return
    body = await request.body()  # cached by Starlette: FastAPI reads the same bytes
    if not body:
        return
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = "not UTF-8" if "utf-8" in str(exc).lower() else "not valid JSON"
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": f"body is {reason}: {exc}"}]
        ) from exc


class AuthFirstRoute(APIRoute):
    """A route that authenticates, then checks the body is JSON, then runs FastAPI's handler."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler behind authentication and the JSON check."""
        handler = super().get_route_handler()

        async def authenticated(request: Request) -> Response:
            request.state.tenant_id = await authenticate(request)
            await _require_json_body(request)
            return await handler(request)

        return authenticated


async def tenant_of(
    request: Request, _key: Annotated[str | None, Security(api_key_scheme)] = None
) -> str:
    """FastAPI dependency: the tenant :class:`AuthFirstRoute` authenticated (and, through
    ``Security``, the OpenAPI security requirement of the route)."""
    tenant: str = request.state.tenant_id
    return tenant


Tenant = Annotated[str, Security(tenant_of)]
