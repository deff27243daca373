"""HTTP shapes of the gateway (camelCase, as seed 000 §八) and the outcome -> status mapping."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from core.tokens import MAX_TTL_SECONDS
from schemas.base import ProductCode, RawCode, Tag, UserId
from schemas.events import Channel, RedeemOutcome

#: HTTP status of each outcome (docs/gateway.md explains the choices).
OUTCOME_STATUS: dict[RedeemOutcome, int] = {
    RedeemOutcome.REDEEMED: 200,
    RedeemOutcome.NOT_FOUND: 404,
    RedeemOutcome.ALREADY_USED: 409,
    RedeemOutcome.USER_LIMIT_REACHED: 409,
    RedeemOutcome.EXPIRED: 409,
    RedeemOutcome.NOT_YET_VALID: 409,
    RedeemOutcome.CAMPAIGN_INACTIVE: 409,
    RedeemOutcome.PRODUCT_NOT_APPLICABLE: 409,
    RedeemOutcome.RATE_LIMITED: 429,
    RedeemOutcome.INVALID_REQUEST: 400,
    RedeemOutcome.REQUEST_CONFLICT: 409,
    RedeemOutcome.TENANT_INACTIVE: 403,
    RedeemOutcome.NOT_ELIGIBLE: 409,
}

#: Seconds a client should wait after RATE_LIMITED (sent as ``Retry-After``).
RATE_LIMIT_RETRY_AFTER = 60


class RedeemBody(BaseModel):
    """``POST /api/redeem`` body: the code as typed and the user redeeming it."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    code: RawCode = Field(description="The code as the user typed it (case, dashes, spaces ok).")
    user_id: UserId | None = Field(
        default=None,
        description="The redeeming user's id: required with x-api-key; with a bearer token "
        "the user comes from the token (omit it, or send the same id).",
    )
    channel: Channel = Field(default=Channel.WEB, description="web, app or mini.")
    user_tags: list[Tag] = Field(
        default_factory=list, max_length=32,
        description="Tags reward conditions may test (e.g. invited_user).",
    )


class RedeemAnswer(BaseModel):
    """A decided request (200, 400, 404, 409, 429) or a pending one (202, ``PENDING``)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    request_id: str
    outcome: RedeemOutcome | Literal["PENDING"]
    message: str
    redemption_id: str | None = Field(default=None)
    grant_ids: list[str] = Field(default_factory=list)


class TokenRequest(BaseModel):
    """``POST /api/tokens`` body: mint an end-user token (API key callers only)."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    user_id: UserId = Field(description="The end user the token is for.")
    product_codes: list[ProductCode] = Field(
        min_length=1, max_length=16, description="Product lines the token may redeem for."
    )
    ttl_seconds: int = Field(default=300, ge=1, le=MAX_TTL_SECONDS,
                             description="Lifetime, at most 900 s.")


class TokenAnswer(BaseModel):
    """A minted token: send it as ``Authorization: Bearer <token>``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    token: str
    token_type: Literal["Bearer"] = "Bearer"
    token_id: str
    key_id: str
    expires_at: int = Field(description="Unix seconds.")


class ErrorAnswer(BaseModel):
    """A request refused before it reached the pipeline (401, 404, 413, 422, 503)."""

    error: str
    message: str
    fields: list[dict[str, str]] = Field(default_factory=list)


PENDING_MESSAGE = "not decided yet; GET /api/redeem/{requestId} later"


def status_of(outcome: RedeemOutcome | str) -> int:
    """The HTTP status for an outcome (``PENDING`` -> 202)."""
    if outcome == "PENDING":
        return 202
    return OUTCOME_STATUS[RedeemOutcome(outcome)]


def _header(description: str, required: bool = True, **schema: object) -> dict[str, object]:
    return {"description": description, "required": required,
            "schema": {"type": "string", **schema}}


#: The ``Idempotency-Key`` a redeem answer echoes (when the request had one).
ECHOED_KEY = {"Idempotency-Key": _header("The request's Idempotency-Key, when it had one.",
                                         required=False)}
#: ``WWW-Authenticate`` of a 401 (``ApiKey`` or ``Bearer``, the refused scheme).
WWW_AUTHENTICATE = {"WWW-Authenticate": _header("The scheme to authenticate with: ApiKey or "
                                                "Bearer.", pattern="^(ApiKey|Bearer)$")}
RESULT_LINK = {
    "GetRedeemResult": {
        "operationId": "getRedeemResult",
        "parameters": {"requestId": "$response.body#/requestId"},
        "description": "The same request's answer, later (e.g. after 202 PENDING).",
    }
}
#: ``content`` of a status answered both ways: a decided outcome, or an error before it.
EITHER_ANSWER: dict[str, object] = {"application/json": {"schema": {"anyOf": [
    {"$ref": "#/components/schemas/RedeemAnswer"},
    {"$ref": "#/components/schemas/ErrorAnswer"},
]}}}


def outcomes_of(status: int) -> str:
    """The outcomes answered with ``status``, from OUTCOME_STATUS (never a second list)."""
    return ", ".join(o.value for o, s in OUTCOME_STATUS.items() if s == status)


def refusals(*, bearer: bool = True) -> dict[int | str, dict[str, object]]:
    """The errors answered before the pipeline (ErrorAnswer), with their headers."""
    credentials = "x-api-key or bearer token (one generic message for every refused token)" \
        if bearer else "x-api-key"
    return {
        400: {"description": "invalid_origin: a malformed Origin header (CORS)"},
        401: {"description": f"unauthorized: missing or invalid {credentials}; always before "
              "any other check of the request", "headers": WWW_AUTHENTICATE},
        403: {"description": "tenant_inactive: the caller's tenant is SUSPENDED or CLOSED"},
        413: {"description": "payload_too_large: body larger than the limit"},
        422: {"description": "validation_error naming the field (also for a body that is "
              "not UTF-8 JSON)"},
        431: {"description": "headers_too_large / authorization_too_large"},
        503: {"description": "unavailable: broker or MySQL down, nothing was published",
              "headers": {"Retry-After": _header("Seconds to wait", required=False,
                                                 pattern="^[0-9]+$")}},
        "default": {"description": "Any other error (404 not_found, 405 method_not_allowed, "
                    "400 invalid_origin, 500 internal_error)"},
    }


def error_responses(*, with_links: bool = False) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses=`` of the redeem routes: every status, its schema and headers.

    Outcome statuses come from OUTCOME_STATUS; a status that is also an error status (403:
    the TENANT_INACTIVE outcome, or the gateway's own ``tenant_inactive`` refusal) declares
    both schemas."""
    def decided(description: str, **headers: object) -> dict[str, object]:
        return {"model": RedeemAnswer, "description": description,
                "headers": {**ECHOED_KEY, **headers}}

    responses: dict[int | str, dict[str, object]] = {
        status: decided(outcomes_of(status)) for status in sorted(set(OUTCOME_STATUS.values()))
    }
    responses[202] = decided("PENDING: accepted, result not ready",
                             Location=_header("Where to GET the answer: "
                                              "/api/redeem/{requestId}"))
    responses[429] = decided(outcomes_of(429), **{"Retry-After": _header(
        "Seconds to wait before retrying", pattern="^[0-9]+$")})
    if with_links:  # a redeemed or pending answer's requestId is what GET takes
        for linked in (200, 202):
            responses[linked]["links"] = RESULT_LINK
    for status, refusal in refusals().items():
        outcome = responses.get(status)
        if outcome is None:
            responses[status] = {"model": ErrorAnswer, **refusal}
            continue
        responses[status] = {
            **{k: v for k, v in outcome.items() if k != "model"}, "content": EITHER_ANSWER,
            "description": f"{outcome['description']} (RedeemAnswer); "
                           f"{refusal['description']} (ErrorAnswer)",
            "headers": {**outcome["headers"], **refusal.get("headers", {})},  # type: ignore[dict-item]
        }
    return responses


def result_responses() -> dict[int | str, dict[str, object]]:
    """``GET /api/redeem/{requestId}``: the redeem statuses; 404 is the NOT_FOUND outcome or
    ``unknown_request`` (no outcome for this id)."""
    responses = error_responses()
    found = {k: v for k, v in responses[404].items() if k != "model"}
    responses[404] = {**found, "content": EITHER_ANSWER,
                      "description": f"{outcomes_of(404)} (RedeemAnswer); unknown_request: "
                      "no outcome for this request id (ErrorAnswer)"}
    return responses


def token_responses() -> dict[int | str, dict[str, object]]:
    """``POST /api/tokens``: the minted token, or an error (ErrorAnswer)."""
    responses: dict[int | str, dict[str, object]] = {
        201: {"description": "The minted token", "headers": {
            "Cache-Control": _header("no-store", pattern="^no-store$")}},
        409: {"model": ErrorAnswer,
              "description": "no_signing_key: the tenant has no active signing key"},
    }
    for status, refusal in refusals(bearer=False).items():
        responses[status] = {"model": ErrorAnswer, **refusal}
    return responses


def ops_responses() -> dict[int | str, dict[str, object]]:
    """The probes' and /metrics' other answers (404/405/500...: ErrorAnswer)."""
    return {"default": {"model": ErrorAnswer,
                        "description": "Any error (405 method_not_allowed, 500 internal_error)"}}


class ReadinessCheck(BaseModel):
    """One dependency probe of ``/readyz``."""

    ok: bool
    detail: str
    seconds: float


class Readiness(BaseModel):
    """``/readyz``: ready when every check passed (200), otherwise 503."""

    ready: bool
    checks: dict[str, ReadinessCheck]
