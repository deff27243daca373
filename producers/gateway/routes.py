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
from producers.gateway.middleware import body_of
from producers.gateway.models import (
    ErrorAnswer,
    Readiness,
    RedeemAnswer,
    RedeemBody,
    TokenAnswer,
    TokenRequest,
    error_responses,
    ops_responses,
    result_responses,
    token_responses,
)
from producers.gateway.parsing import inlined, parse_body, redeem_openapi
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


def _documented_body() -> dict[str, object]:
    """RedeemBody's schema with ``userId`` required: an API-key caller must send it (422
    otherwise) and a bearer-token caller may send its own id, so every body the document
    allows is accepted with either credential (schemathesis' positive_data_acceptance)."""
    schema = RedeemBody.model_json_schema(by_alias=True)
    user = schema["properties"]["userId"]
    string = next(b for b in user.pop("anyOf", [user]) if b.get("type") != "null")
    schema["properties"]["userId"] = {**string, **{k: v for k, v in user.items()
                                                   if k not in ("default", "type")}}
    schema["required"] = sorted({*schema.get("required", []), "userId"})
    return schema


@router.post(
    "/api/redeem", response_model=None, operation_id="redeem", tags=["redeem"],
    responses=error_responses(with_links=True),
    openapi_extra={**redeem_openapi(_documented_body()),
                   "security": EITHER_CREDENTIAL},
)
async def redeem(request: Request) -> Response:
    """Redeem a code: 200 when redeemed, 4xx with the outcome, 202 if still pending.

    Server to server with ``x-api-key`` (the body names the user), or from a browser or
    mini-program with ``Authorization: Bearer <token>`` (the user is the token's).
    Normally served by the fast path (fast.py) with the same logic."""
    state: GatewayState = request.app.state.gateway

    async def read_body() -> bytes:
        return await body_of(request.scope, request.receive)

    return _response(await redeem_call(state, request.scope, request.headers, read_body))


@router.get(
    "/api/redeem/{requestId}", response_model=RedeemAnswer, operation_id="getRedeemResult",
    tags=["redeem"], responses=result_responses(),
    openapi_extra={"security": EITHER_CREDENTIAL},
)
async def redeem_result(
    request: Request,
    state: State,
    request_id: Annotated[str, Path(alias="requestId", max_length=64, pattern=_IDENTIFIER)],
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
    "/api/tokens", response_model=TokenAnswer, status_code=201, operation_id="mintToken",
    tags=["tokens"], responses=token_responses(),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": inlined(TokenRequest.model_json_schema(by_alias=True))}}},
        "security": [{"ApiKeyAuth": []}]},
)
async def mint_token(request: Request, state: State) -> Response:
    """Mint a short-lived end-user token (for a tenant back end holding an API key)."""
    if request.headers.get("authorization") is not None:
        raise Unauthorized("tokens are minted with x-api-key only", "ApiKey")
    tenant_id = (await state.auth.principal(request.headers)).tenant_id
    wanted = parse_body(TokenRequest, await body_of(request.scope, request.receive))
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


@router.get("/healthz", tags=["ops"], operation_id="healthz", responses=ops_responses())
async def healthz() -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"], operation_id="readyz", response_model=Readiness,
            responses={**ops_responses(), 503: {"model": Readiness,
                                                "description": "A dependency failed"}})
async def readyz(state: State) -> JSONResponse:
    """Readiness: Kafka metadata, MySQL ``SELECT 1``, Redis PING, results listener."""
    timeout = state.container.settings.readiness_timeout_seconds
    readiness = await check_readiness(state.probes, timeout)
    listening = state.listener.ready
    readiness.checks["results_listener"] = CheckResult(
        listening, "reading redeem.results" if listening else "not assigned yet", 0.0
    )
    return JSONResponse(readiness.as_dict(), status_code=200 if readiness.ready else 503)


@router.get("/metrics", tags=["ops"], operation_id="metrics", response_class=Response,
            responses={200: {"description": "Prometheus text format", "content": {
                CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}},
                **ops_responses()})
async def metrics() -> Response:
    """Prometheus metrics of this gateway process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
