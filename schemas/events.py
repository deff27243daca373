"""Messages of the redemption, tenant and compensation topics (design brief, Kafka contract)."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.base import (
    CampaignId,
    ContractModel,
    Identifier,
    ProductCode,
    RawCode,
    Tag,
    TenantId,
    UserId,
    UtcDatetime,
    utc_now,
)
from schemas.rewards import Reward


class Channel(StrEnum):
    """The kind of upstream client a request came from."""

    WEB = "web"
    APP = "app"
    MINI = "mini"


class RedeemRequested(ContractModel):
    """A user asks to redeem a code; ``request_id`` is the idempotency key."""

    schema_name: ClassVar[str] = "RedeemRequested"

    request_id: Identifier
    tenant_id: TenantId
    product_code: ProductCode
    code: RawCode
    user_id: UserId
    device_id: Identifier | None = None
    channel: Channel = Channel.WEB
    user_tags: list[Tag] = Field(default_factory=list, max_length=32)
    requested_at: UtcDatetime = Field(default_factory=utc_now)

    def kafka_key(self) -> str:
        """``tenant_id:code``: one code's requests stay on one partition."""
        return f"{self.tenant_id}:{self.code}"


class RedeemOutcome(StrEnum):
    """The one outcome every request_id gets."""

    REDEEMED = "REDEEMED"
    NOT_FOUND = "NOT_FOUND"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    ALREADY_USED = "ALREADY_USED"
    CAMPAIGN_INACTIVE = "CAMPAIGN_INACTIVE"
    PRODUCT_NOT_APPLICABLE = "PRODUCT_NOT_APPLICABLE"
    USER_LIMIT_REACHED = "USER_LIMIT_REACHED"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_REQUEST = "INVALID_REQUEST"
    REQUEST_CONFLICT = "REQUEST_CONFLICT"
    """The request id was already used by this tenant for a different code, user or product;
    the first decision stands and nothing was claimed for this one."""
    TENANT_INACTIVE = "TENANT_INACTIVE"
    """The tenant is SUSPENDED or CLOSED: nothing was claimed."""
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    """The user matches none of the campaign's reward conditions: the code stays unused."""


class RedeemResult(ContractModel):
    """The outcome of one request, keyed by request_id."""

    schema_name: ClassVar[str] = "RedeemResult"

    request_id: Identifier
    tenant_id: TenantId
    user_id: UserId
    outcome: RedeemOutcome
    redemption_id: Identifier | None = None
    grant_ids: list[Identifier] = Field(default_factory=list, max_length=16)
    message: str = Field(default="", max_length=256)
    processed_at: UtcDatetime = Field(default_factory=utc_now)


class RewardGrant(ContractModel):
    """Credit a reward to a user; ``grant_id`` is deterministic so duplicates can be dropped."""

    schema_name: ClassVar[str] = "RewardGrant"

    grant_id: Identifier
    redemption_id: Identifier
    request_id: Identifier
    tenant_id: TenantId
    product_code: ProductCode
    campaign_id: CampaignId
    user_id: UserId
    reward: Reward
    granted_at: UtcDatetime = Field(default_factory=utc_now)

    def kafka_key(self) -> str:
        """``tenant_id:user_id``: one user's grants stay in order."""
        return f"{self.tenant_id}:{self.user_id}"


class TenantType(StrEnum):
    """Platform tenants own products; channel tenants distribute codes (seed 000)."""

    PLATFORM = "PLATFORM"
    CHANNEL = "CHANNEL"


class TenantStatus(StrEnum):
    """Only ACTIVE tenants create campaigns and redeem."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    CLOSED = "CLOSED"


class TenantUpdated(ContractModel):
    """The tenant service's change event; ``version`` is monotonic per tenant."""

    schema_name: ClassVar[str] = "TenantUpdated"

    tenant_id: TenantId
    name: str = Field(min_length=1, max_length=64)
    type: TenantType
    status: TenantStatus
    code_quota: int = Field(ge=0, le=10**12)
    version: int = Field(ge=0)
    updated_at: UtcDatetime = Field(default_factory=utc_now)


class CompensationJob(ContractModel):
    """Ops or the scheduler ask to repair codes left claimed but not granted."""

    schema_name: ClassVar[str] = "CompensationJob"

    job_id: Identifier
    tenant_id: TenantId | None = None
    campaign_id: CampaignId | None = None
    older_than_seconds: int = Field(default=300, ge=0, le=365 * 86400)
    dry_run: bool = False
    requested_by: Identifier = "ops"
    requested_at: UtcDatetime = Field(default_factory=utc_now)


class CompensationReport(ContractModel):
    """What a compensation job did, counted per action."""

    schema_name: ClassVar[str] = "CompensationReport"

    job_id: Identifier
    dry_run: bool
    examined: int = Field(ge=0)
    marked_granted: int = Field(ge=0)
    regranted: int = Field(ge=0)
    released_in_cache: int = Field(ge=0)
    failed: int = Field(default=0, ge=0)
    duration_seconds: float = Field(ge=0)
    finished_at: UtcDatetime = Field(default_factory=utc_now)


ALL_MODELS: tuple[type[ContractModel], ...] = (
    RedeemRequested,
    RedeemResult,
    RewardGrant,
    TenantUpdated,
    CompensationJob,
    CompensationReport,
)
