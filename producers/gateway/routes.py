"""The gateway's HTTP routes: parse, call the redeemer or a probe, answer."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.errors import NotFound
from core.health import CheckResult, check_readiness
from core.logging_setup import request_context
from core.tokens import mint_for_tenant
from producers.gateway.auth import Principal, Unauthorized
from producers.gateway.cors import TENANT_SCOPE_KEY
from producers.gateway.errors import Rendered
from producers.gateway.fast import redeem_call, rendered_answer
from producers.gateway.models import (
    ErrorAnswer,
    RedeemAnswer,
    RedeemBody,
    TokenAnswer,
    TokenRequest,
    error_responses,
)
from producers.gateway.parsing import parse_body, redeem_openapi
from producers.gateway.state import GatewayState, gateway_state

router = APIRouter()
_IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
#: Either credential works on the redeem routes (OpenAPI ``security``).
EITHER_CREDENTIAL: list[dict[str, list[str]]] = [{"ApiKeyAuth": []}, {"BearerAuth": []}]

State = Annotated[GatewayState, Depends(gateway_state)]


async def authenticate(state: GatewayState, request: Request) -> Principal:
    """The request's caller; the tenant is noted in the scope for the CORS middleware."""
    principal = await state.auth.principal(request.headers)
    request.scope[TENANT_SCOPE_KEY] = principal.tenant_id
    return principal


def _response(rendered: Rendered) -> Response:
    status, headers, body = rendered
    return Response(body, status_code=status, headers=headers, media_type="application/json")


@router.post(
    "/api/redeem", response_model=None, responses={200: {"model": RedeemAnswer},
                                                   **error_responses()},
    tags=["redeem"],
    openapi_extra={**redeem_openapi(RedeemBody.model_json_schema(by_alias=True)),
                   "security": EITHER_CREDENTIAL},
)
async def redeem(request: Request) -> Response:
    """Redeem a code: 200 when redeemed, 4xx with the outcome, 202 if still pending.

    Server to server with ``x-api-key`` (the body names the user), or from a browser or
    mini-program with ``Authorization: Bearer <token>`` (the user is the token's).
    Normally served by the fast path (fast.py) with the same logic."""
    state: GatewayState = request.app.state.gateway
    return _response(await redeem_call(state, request.scope, request.headers,
                                       await request.body()))


@router.get(
    "/api/redeem/{request_id}",
    response_model=RedeemAnswer,
    responses={**error_responses(), 404: {"description": "NOT_FOUND outcome, or unknown id"}},
    tags=["redeem"],
    openapi_extra={"security": EITHER_CREDENTIAL},
)
async def redeem_result(
    request: Request,
    state: State,
    request_id: Annotated[str, Path(max_length=64, pattern=_IDENTIFIER)],
) -> Response:
    """The answer of an earlier request (e.g. after a 202), from memory or MySQL."""
    principal = await authenticate(state, request)
    tenant_id = principal.tenant_id
    end_user = principal.end_user.user_id if principal.end_user else None
    with request_context(request_id, tenant_id):
        answer = await state.redeemer.lookup(tenant_id, request_id, end_user)
    if answer is None:
        error = ErrorAnswer(error="unknown_request", message="no outcome for this request id")
        return JSONResponse(error.model_dump(), status_code=404)
    return _response(rendered_answer(answer))


@router.post(
    "/api/tokens", response_model=TokenAnswer, status_code=201, tags=["tokens"],
    responses={401: {"model": ErrorAnswer, "description": "Missing or invalid x-api-key"},
               409: {"model": ErrorAnswer, "description": "No active signing key"},
               422: {"model": ErrorAnswer, "description": "Validation error naming the field"}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": TokenRequest.model_json_schema(by_alias=True)}}},
        "security": [{"ApiKeyAuth": []}]},
)
async def mint_token(request: Request, state: State) -> Response:
    """Mint a short-lived end-user token (for a tenant back end holding an API key)."""
    tenant_id = await state.auth.tenant_of_key(request.headers.get("x-api-key"))
    if request.headers.get("authorization") is not None:
        raise Unauthorized("tokens are minted with x-api-key only", "ApiKey")
    wanted = parse_body(TokenRequest, await request.body())
    loop = asyncio.get_running_loop()
    try:
        minted = await loop.run_in_executor(
            state.executor, lambda: mint_for_tenant(
                state.signing_keys, state.token_master, tenant_id, wanted.user_id,
                wanted.product_codes, wanted.ttl_seconds))
    except NotFound:
        error = ErrorAnswer(error="no_signing_key", message="this tenant has no active token "
                            "signing key: create one with `redeemflow token key create`")
        return JSONResponse(error.model_dump(), status_code=409)
    answer = TokenAnswer(token=minted.token, token_id=minted.token_id, key_id=minted.key_id,
                         expires_at=minted.expires_at)
    return Response(answer.model_dump_json(by_alias=True), status_code=201,
                    media_type="application/json", headers={"Cache-Control": "no-store"})


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"], responses={503: {"description": "A dependency failed"}})
async def readyz(state: State) -> JSONResponse:
    """Readiness: Kafka metadata, MySQL ``SELECT 1``, Redis PING, results listener."""
    readiness = await check_readiness(state.container, state.redis)
    listening = state.listener.ready
    readiness.checks["results_listener"] = CheckResult(
        listening, "reading redeem.results" if listening else "not assigned yet", 0.0
    )
    return JSONResponse(readiness.as_dict(), status_code=200 if readiness.ready else 503)


@router.get("/metrics", tags=["ops"], response_class=Response)
async def metrics() -> Response:
    """Prometheus metrics of this gateway process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
