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
from core.metrics import GATEWAY_PENDING
from core.tokens import mint_for_tenant
from producers.gateway.auth import Principal, Unauthorized, token_refused
from producers.gateway.cors import TENANT_SCOPE_KEY
from producers.gateway.models import (
    RATE_LIMIT_RETRY_AFTER,
    ErrorAnswer,
    RedeemAnswer,
    RedeemBody,
    TokenAnswer,
    TokenRequest,
    error_responses,
    status_of,
)
from producers.gateway.parsing import parse_body, redeem_headers, redeem_openapi, user_of
from producers.gateway.redeemer import request_id_for
from producers.gateway.state import GatewayState, gateway_state
from schemas.events import RedeemRequested

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


def _answer(answer: RedeemAnswer, idempotency_key: str | None = None) -> Response:
    status = status_of(answer.outcome)
    headers: dict[str, str] = {}
    if status == 429:
        headers["Retry-After"] = str(RATE_LIMIT_RETRY_AFTER)
    if status == 202:
        headers["Location"] = f"/api/redeem/{answer.request_id}"
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return Response(answer.model_dump_json(by_alias=True), status_code=status,
                    headers=headers, media_type="application/json")


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
    mini-program with ``Authorization: Bearer <token>`` (the user is the token's)."""
    state: GatewayState = request.app.state.gateway
    principal = await authenticate(state, request)
    headers = redeem_headers(request.headers)
    body = parse_body(RedeemBody, await request.body())
    user_id = user_of(principal, body.user_id)
    if principal.end_user is not None and headers.product_code not in principal.end_user.products:
        raise token_refused(f"product {headers.product_code} not in the token")
    tenant_id = principal.tenant_id
    request_id = request_id_for(tenant_id, headers.idempotency_key)
    with request_context(request_id, tenant_id):
        event = RedeemRequested(
            request_id=request_id, tenant_id=tenant_id, product_code=headers.product_code,
            code=body.code, user_id=user_id, device_id=headers.device_id,
            channel=body.channel, user_tags=body.user_tags,
        )
        GATEWAY_PENDING.inc()
        try:
            answer = await state.redeemer.redeem(event)
        finally:
            GATEWAY_PENDING.dec()
        return _answer(answer, headers.idempotency_key)


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
    tenant_id = (await authenticate(state, request)).tenant_id
    with request_context(request_id, tenant_id):
        answer = await state.redeemer.lookup(tenant_id, request_id)
    if answer is None:
        error = ErrorAnswer(error="unknown_request", message="no outcome for this request id")
        return JSONResponse(error.model_dump(), status_code=404)
    return _answer(answer)


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
