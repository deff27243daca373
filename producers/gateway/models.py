"""HTTP shapes of the gateway (camelCase, as seed 000 §八) and the outcome -> status mapping."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from schemas.base import RawCode, Tag, UserId
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
    user_id: UserId = Field(description="The redeeming user's id.")
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


class ErrorAnswer(BaseModel):
    """A request refused before it reached the pipeline, or any framework error (401, 403,
    404, 405, 413, 422, 500, 503): ``error`` is a stable code, ``fields`` names bad fields."""

    error: str = Field(description="unauthorized, tenant_inactive, unknown_request, not_found, "
                       "method_not_allowed, payload_too_large, validation_error, unavailable, "
                       "internal_error")
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


_ECHOED_KEY = {"Idempotency-Key": _header("The request's Idempotency-Key, when it had one.",
                                          required=False)}
RESULT_LINK = {
    "GetRedeemResult": {
        "operationId": "getRedeemResult",
        "parameters": {"requestId": "$response.body#/requestId"},
        "description": "The same answer, later (e.g. after 202 PENDING).",
    }
}


def _outcomes_of(status: int) -> str:
    """The outcomes answered with ``status``, from OUTCOME_STATUS (never a second list)."""
    return ", ".join(o.value for o, s in OUTCOME_STATUS.items() if s == status)


#: ``content`` of a status answered both ways: a decided outcome, or an error before it.
EITHER_ANSWER: dict[str, object] = {"application/json": {"schema": {"anyOf": [
    {"$ref": "#/components/schemas/RedeemAnswer"},
    {"$ref": "#/components/schemas/ErrorAnswer"},
]}}}


def _errors() -> dict[int | str, dict[str, object]]:
    """The statuses of errors answered before the pipeline, with their headers."""
    return {
        401: {"description": "unauthorized: missing or invalid x-api-key",
              "headers": {"WWW-Authenticate": _header("ApiKey")}},
        403: {"description": "tenant_inactive: the key's tenant is SUSPENDED or CLOSED"},
        413: {"description": "payload_too_large: body larger than the limit"},
        422: {"description": "validation_error naming the field (also for a body that is "
                             "not UTF-8 JSON)"},
        503: {"description": "unavailable: broker or MySQL down, nothing was published",
              "headers": {"Retry-After": _header("Seconds to wait", required=False)}},
        "default": {"description": "Any other error (405 method_not_allowed, 500)"},
    }


def error_responses(*, with_links: bool = False) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses=`` of the redeem routes: every status, its schema and headers.

    Outcome statuses come from OUTCOME_STATUS; a status that is also an error status (403:
    the TENANT_INACTIVE outcome, or the gateway's own ``tenant_inactive`` refusal) declares
    both schemas.
    """
    links = {"links": RESULT_LINK} if with_links else {}

    def decided(status: int, description: str, **headers: object) -> dict[str, object]:
        return {"model": RedeemAnswer, "description": description,
                "headers": {**_ECHOED_KEY, **headers}, **links}

    responses: dict[int | str, dict[str, object]] = {
        status: decided(status, _outcomes_of(status))
        for status in sorted(set(OUTCOME_STATUS.values()))
    }
    responses[202] = decided(
        202, "Accepted, result not ready (PENDING)",
        Location=_header("Where to GET the answer: /api/redeem/{requestId}"))
    responses[429] = decided(
        429, _outcomes_of(429),
        **{"Retry-After": _header("Seconds to wait before retrying", pattern="^[0-9]+$")})
    for status, error in _errors().items():
        outcome = responses.get(status)
        if outcome is None:
            responses[status] = {"model": ErrorAnswer, **error}
        else:
            responses[status] = {
                **{k: v for k, v in outcome.items() if k != "model"}, "content": EITHER_ANSWER,
                "description": f"{outcome['description']} (RedeemAnswer); "
                               f"{error['description']} (ErrorAnswer)",
            }
    responses.pop(200, None)  # the route's own response_model documents 200
    return responses


def success_response(*, with_links: bool = False) -> dict[int | str, dict[str, object]]:
    """The 200 entry (REDEEMED) with its echoed header and, on POST, the link to GET."""
    links = {"links": RESULT_LINK} if with_links else {}
    return {200: {"description": _outcomes_of(200), "headers": _ECHOED_KEY, **links}}
