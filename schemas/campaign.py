"""Campaign rule JSON (seed 000 §九, seed 002 §4) and the campaign creation messages."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field, model_validator

from schemas.base import (
    CampaignId,
    ContractModel,
    Identifier,
    JsonInt,
    ProductCode,
    TenantId,
    UtcDatetime,
    json_number,
    utc_now,
)
from schemas.code_rule import CodeGenerateRule
from schemas.rewards import RewardRule, RuleModel

MAX_CODES_PER_REQUEST = 10_000_000
#: Code fields a rule may give at its top level (the seed's flat layout), in both spellings.
FLAT_CODE_KEYS = frozenset(
    key
    for name, field in CodeGenerateRule.model_fields.items()
    for key in (name, field.alias or name)
)


class CampaignStatus(StrEnum):
    """Lifecycle of a campaign; only ACTIVE campaigns redeem."""

    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    ENDED = "ENDED"


class CampaignRule(RuleModel):
    """A campaign's rule JSON: code format, validity, limits, products and rewards.

    Validity is either an explicit window (``validFrom``/``validUntil``) or ``validDays``
    counted from the campaign's creation; a missing start means "from creation".
    """

    rule_id: Identifier | None = None
    code: CodeGenerateRule = Field(default_factory=lambda: CodeGenerateRule.model_validate({}))
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None
    valid_days: Annotated[int, Field(ge=1, le=3650), BeforeValidator(json_number)] | None = None
    use_limit: JsonInt = Field(default=1, ge=1, le=1_000_000)
    per_user_limit: JsonInt = Field(default=1, ge=1, le=1_000_000)
    applicable_products: list[ProductCode] = Field(default_factory=list, max_length=64)
    reward_rules: list[RewardRule] = Field(min_length=1, max_length=16)

    @model_validator(mode="before")
    @classmethod
    def _lift_flat_code_fields(cls, data: Any) -> Any:
        """Accept the seed's flat layout (codeType/length/prefix at the top level).

        The code fields come either flat or under ``code``, never both (one place to look,
        and a JSON Schema can say so).
        """
        if not isinstance(data, dict):
            return data
        lifted = {k: v for k, v in data.items() if k in FLAT_CODE_KEYS}
        if not lifted:
            return data
        if "code" in data:
            raise ValueError(
                f"give the code fields flat ({', '.join(sorted(lifted))}) or under code, not both"
            )
        rest = {k: v for k, v in data.items() if k not in FLAT_CODE_KEYS}
        rest["code"] = lifted
        return rest

    @model_validator(mode="after")
    def _window_is_consistent(self) -> CampaignRule:
        if self.valid_until is not None and self.valid_days is not None:
            raise ValueError("give either validUntil or validDays, not both")
        if self.valid_from and self.valid_until and self.valid_from >= self.valid_until:
            raise ValueError("validFrom must be before validUntil")
        if self.per_user_limit > self.use_limit * 1_000_000:
            raise ValueError("perUserLimit is out of range")
        return self

    def window(self, created_at: datetime) -> tuple[datetime, datetime | None]:
        """The concrete validity window for a campaign created at ``created_at``."""
        start = self.valid_from or created_at
        if self.valid_until is not None:
            return start, self.valid_until
        if self.valid_days is not None:
            return start, start + timedelta(days=self.valid_days)
        return start, None


class CreateCampaignRequest(ContractModel):
    """A channel partner asks for a campaign and its codes (seed 000 §3)."""

    schema_name: ClassVar[str] = "CreateCampaignRequest"

    campaign_id: CampaignId
    tenant_id: TenantId
    product_code: ProductCode
    name: str = Field(default="", max_length=128)
    rule: CampaignRule
    code_count: JsonInt = Field(default=0, ge=0, le=MAX_CODES_PER_REQUEST)
    account_id: Identifier = "system"
    status: CampaignStatus = CampaignStatus.ACTIVE
    requested_at: UtcDatetime = Field(default_factory=utc_now)


class CampaignOutcome(StrEnum):
    """How a campaign request ended."""

    CREATED = "CREATED"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    UNKNOWN_TENANT = "UNKNOWN_TENANT"
    TENANT_SUSPENDED = "TENANT_SUSPENDED"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    INVALID_RULE = "INVALID_RULE"
    CONFLICT = "CONFLICT"


class CreateCampaignResult(ContractModel):
    """The answer to one CreateCampaignRequest, keyed by campaign_id."""

    schema_name: ClassVar[str] = "CreateCampaignResult"

    campaign_id: CampaignId
    tenant_id: TenantId
    outcome: CampaignOutcome
    codes_generated: JsonInt = Field(default=0, ge=0)
    message: str = Field(default="", max_length=512)
    processed_at: UtcDatetime = Field(default_factory=utc_now)
