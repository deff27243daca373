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


def error_responses() -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses=`` for the redeem routes."""
    decided = {"model": RedeemAnswer}
    return {
        202: {"model": RedeemAnswer, "description": "Accepted, result not ready (PENDING)"},
        400: {**decided, "description": "INVALID_REQUEST"},
        401: {"model": ErrorAnswer, "description": "Missing or invalid x-api-key or bearer "
              "token (one generic message for every refused token)"},
        404: {**decided, "description": "NOT_FOUND (one generic message for every unknown code)"},
        409: {**decided, "description": "ALREADY_USED, USER_LIMIT_REACHED, EXPIRED, "
              "NOT_YET_VALID, CAMPAIGN_INACTIVE, PRODUCT_NOT_APPLICABLE"},
        413: {"model": ErrorAnswer, "description": "Body larger than the limit"},
        431: {"model": ErrorAnswer, "description": "Headers (or Authorization) too large"},
        422: {"model": ErrorAnswer, "description": "Validation error naming the field"},
        429: {**decided, "description": "RATE_LIMITED (Retry-After seconds)"},
        503: {"model": ErrorAnswer, "description": "Broker unavailable: nothing was published"},
    }
