"""The gateway's HTTP routes: parse, call the redeemer or a probe, answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.health import CheckResult, check_readiness
from core.logging_setup import request_context
from core.metrics import GATEWAY_PENDING
from producers.gateway.auth import AuthFirstRoute, Tenant
from producers.gateway.models import (
    RATE_LIMIT_RETRY_AFTER,
    ErrorAnswer,
    RedeemAnswer,
    RedeemBody,
    error_responses,
    status_of,
    success_response,
)
from producers.gateway.redeemer import IDEMPOTENCY_KEY_PATTERN, request_id_for
from producers.gateway.state import GatewayState, gateway_state
from schemas.events import RedeemRequested

router = APIRouter()
#: The tenant's routes: authenticated before the body is read (see ``auth.AuthFirstRoute``).
redeem_router = APIRouter(route_class=AuthFirstRoute, tags=["redeem"])
_PRODUCT = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
_IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"

State = Annotated[GatewayState, Depends(gateway_state)]


def _answer(answer: RedeemAnswer, idempotency_key: str | None = None) -> JSONResponse:
    status = status_of(answer.outcome)
    headers: dict[str, str] = {}
    if status == 429:
        headers["Retry-After"] = str(RATE_LIMIT_RETRY_AFTER)
    if status == 202:
        headers["Location"] = f"/api/redeem/{answer.request_id}"
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    body = answer.model_dump(mode="json", by_alias=True)
    return JSONResponse(body, status_code=status, headers=headers)


@redeem_router.post(
    "/api/redeem", response_model=RedeemAnswer, operation_id="redeem",
    responses={**success_response(with_links=True), **error_responses(with_links=True)},
)
async def redeem(
    body: RedeemBody,
    state: State,
    tenant_id: Tenant,
    x_product_code: Annotated[
        str, Header(min_length=1, max_length=16, pattern=_PRODUCT, description="Product line.")
    ],
    x_device_id: Annotated[
        str | None, Header(max_length=64, pattern=_IDENTIFIER, description="Device id.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN,
               description="Retry-safe key: the same key is the same request (per tenant)."),
    ] = None,
) -> JSONResponse:
    """Redeem a code for a user: 200 when redeemed, 4xx with the outcome, 202 if pending."""
    request_id = request_id_for(tenant_id, idempotency_key)
    with request_context(request_id, tenant_id):
        request = RedeemRequested(
            request_id=request_id, tenant_id=tenant_id, product_code=x_product_code,
            code=body.code, user_id=body.user_id, device_id=x_device_id,
            channel=body.channel, user_tags=body.user_tags,
        )
        GATEWAY_PENDING.inc()
        try:
            answer = await state.redeemer.redeem(request)
        finally:
            GATEWAY_PENDING.dec()
        return _answer(answer, idempotency_key)


_UNKNOWN_OR_NOT_FOUND: dict[str, Any] = {
    "description": "NOT_FOUND outcome (RedeemAnswer), or unknown_request (ErrorAnswer): no "
                   "outcome for this id in this tenant",
    "content": {"application/json": {"schema": {"anyOf": [
        {"$ref": "#/components/schemas/RedeemAnswer"},
        {"$ref": "#/components/schemas/ErrorAnswer"},
    ]}}},
}


@redeem_router.get(
    "/api/redeem/{requestId}",
    response_model=RedeemAnswer, operation_id="getRedeemResult",
    responses={**success_response(), **error_responses(), 404: _UNKNOWN_OR_NOT_FOUND},
)
async def redeem_result(
    state: State,
    tenant_id: Tenant,
    request_id: Annotated[
        str, Path(alias="requestId", min_length=1, max_length=64, pattern=_IDENTIFIER)
    ],
) -> JSONResponse:
    """The answer of an earlier request (e.g. after a 202), from memory or MySQL."""
    with request_context(request_id, tenant_id):
        answer = await state.redeemer.lookup(tenant_id, request_id)
    if answer is None:
        error = ErrorAnswer(error="unknown_request", message="no outcome for this request id")
        return JSONResponse(error.model_dump(), status_code=404)
    return _answer(answer)


router.include_router(redeem_router)
_OPS_JSON = {"content": {"application/json": {"schema": {"type": "object"}}}}


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


@router.get(
    "/readyz", tags=["ops"],
    responses={200: {"description": "Every dependency answered", **_OPS_JSON},
               503: {"description": "A dependency failed", **_OPS_JSON}},
)
async def readyz(state: State) -> JSONResponse:
    """Readiness: Kafka metadata, MySQL ``SELECT 1``, Redis PING, results listener."""
    readiness = await check_readiness(state.container, state.redis)
    listening = state.listener.ready
    readiness.checks["results_listener"] = CheckResult(
        listening, "reading redeem.results" if listening else "not assigned yet", 0.0
    )
    return JSONResponse(readiness.as_dict(), status_code=200 if readiness.ready else 503)


@router.get(
    "/metrics", tags=["ops"], response_class=Response,
    responses={200: {"description": "Prometheus text format",
                     "content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics() -> Response:
    """Prometheus metrics of this gateway process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
