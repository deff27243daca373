"""Half-valid messages: enough of a request parses to answer it, the rest does not.

A ``redeem.requests`` message whose ``request_id``, ``tenant_id`` and ``user_id`` are valid
but whose other fields are not (a bad channel, an unknown field, a naive timestamp...) is
still dead-lettered, and its sender also gets one ``INVALID_REQUEST`` result naming the
field, instead of waiting forever. The same holds for a ``campaign.requests`` message with a
valid ``campaign_id`` and ``tenant_id``: it gets ``INVALID_RULE``. A message without those
ids cannot be answered (nobody to answer to) and is only dead-lettered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.base import CampaignId, Identifier, MessageDecodeError, TenantId, UserId

MESSAGE_LIMIT = 256


class _RequestIds(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    request_id: Identifier
    tenant_id: TenantId
    user_id: UserId


class _CampaignIds(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    campaign_id: CampaignId
    tenant_id: TenantId


@dataclass(frozen=True)
class RejectedRedeem:
    """A redemption request that is answered INVALID_REQUEST without being processed.

    ``product_code`` and ``code`` are the message's values as text (possibly invalid, ''
    when absent): with ``user_id`` they make the request's fingerprint, so a redelivery is
    recognised as the same request and a different one reusing the id as a conflict."""

    request_id: str
    tenant_id: str
    user_id: str
    product_code: str
    code: str
    message: str
    field: str | None


@dataclass(frozen=True)
class RejectedCampaign:
    """A campaign request answered INVALID_RULE without being processed."""

    campaign_id: str
    tenant_id: str
    message: str
    field: str | None


def salvage_redeem_request(data: bytes, error: MessageDecodeError) -> RejectedRedeem | None:
    """The answerable part of a ``RedeemRequested`` that failed to decode, or None."""
    payload = _object(data)
    if payload is None:
        return None
    try:
        ids = _RequestIds.model_validate(payload)
    except ValidationError:
        return None
    return RejectedRedeem(
        request_id=ids.request_id,
        tenant_id=ids.tenant_id,
        user_id=ids.user_id,
        product_code=_text(payload.get("product_code")),
        code=_text(payload.get("code")),
        message=rejection_message(error),
        field=error.field,
    )


def salvage_campaign_request(data: bytes, error: MessageDecodeError) -> RejectedCampaign | None:
    """The answerable part of a ``CreateCampaignRequest`` that failed to decode, or None."""
    payload = _object(data)
    if payload is None:
        return None
    try:
        ids = _CampaignIds.model_validate(payload)
    except ValidationError:
        return None
    return RejectedCampaign(ids.campaign_id, ids.tenant_id, rejection_message(error), error.field)


def rejection_message(error: MessageDecodeError) -> str:
    """``invalid field(s): <field>: <why>...``, without the model's name, within 256 chars."""
    text = str(error)
    _, sep, rest = text.partition(": ")
    message = rest if sep and " " not in text[: text.index(":")] else text
    return message[:MESSAGE_LIMIT]


def _object(data: bytes) -> dict[str, Any] | None:
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


def _text(value: object) -> str:
    """A field's value as text for the fingerprint (JSON for what is not a string)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
