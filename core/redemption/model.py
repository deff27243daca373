"""In-flight state of one redemption request while a batch is processed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events import RedeemOutcome, RedeemRequested, RedeemResult, RewardGrant
from schemas.rewards import RewardRule

#: The one message for every "no such code" case, so nothing leaks whether a code exists.
GENERIC_NOT_FOUND = "invalid or unknown code"

OUTCOME_MESSAGES: dict[RedeemOutcome, str] = {
    RedeemOutcome.REDEEMED: "redeemed",
    RedeemOutcome.NOT_FOUND: GENERIC_NOT_FOUND,
    RedeemOutcome.EXPIRED: "this code has expired",
    RedeemOutcome.NOT_YET_VALID: "this code is not valid yet",
    RedeemOutcome.ALREADY_USED: "this code has already been used",
    RedeemOutcome.CAMPAIGN_INACTIVE: "this campaign is not active",
    RedeemOutcome.PRODUCT_NOT_APPLICABLE: "this code does not apply to this product",
    RedeemOutcome.USER_LIMIT_REACHED: "redemption limit reached for this user",
    RedeemOutcome.RATE_LIMITED: "too many attempts, try again later",
    RedeemOutcome.INVALID_REQUEST: "invalid request",
}


@dataclass(frozen=True)
class CampaignInfo:
    """What redemption needs to know of a campaign (rules are immutable once created)."""

    campaign_id: str
    tenant_id: str
    status: str
    valid_from: datetime
    valid_until: datetime | None
    products: list[str]
    use_limit: int
    per_user_limit: int
    reward_rules: list[RewardRule]


@dataclass(frozen=True)
class CodeState:
    """A code's row in MySQL (locked while a batch commits)."""

    row_id: int
    tenant_id: str
    code: str
    campaign_id: str
    status: int
    use_limit: int
    used_count: int
    bound_user: str | None


@dataclass
class Attempt:
    """One request travelling through a batch: its canonical code, verdict and grants."""

    request: RedeemRequested
    code: str | None
    outcome: RedeemOutcome | None = None
    campaign_id: str | None = None
    redemption_id: str | None = None
    grants: list[RewardGrant] = field(default_factory=list)
    grants_pending: bool = False
    replayed: bool = False
    cache_repair: CodeState | None = None
    cache_forget: bool = False
    cache_user_used: int | None = None

    @property
    def request_id(self) -> str:
        """The idempotency key."""
        return self.request.request_id

    @property
    def key(self) -> tuple[str, str]:
        """(tenant_id, request_id): request ids are idempotency keys per tenant."""
        return (self.request.tenant_id, self.request.request_id)

    @property
    def tenant_id(self) -> str:
        """The tenant the request was sent for."""
        return self.request.tenant_id

    def decide(self, outcome: RedeemOutcome) -> None:
        """Settle the outcome (a non-redeemed outcome carries no grants)."""
        self.outcome = outcome
        if outcome is not RedeemOutcome.REDEEMED:
            self.grants = []
            self.redemption_id = None

    def result(self, processed_at: datetime) -> RedeemResult:
        """The RedeemResult message of this attempt."""
        outcome = self.outcome or RedeemOutcome.INVALID_REQUEST
        return RedeemResult(
            request_id=self.request_id,
            tenant_id=self.tenant_id,
            user_id=self.request.user_id,
            outcome=outcome,
            redemption_id=self.redemption_id,
            grant_ids=[g.grant_id for g in self.grants],
            message=OUTCOME_MESSAGES[outcome],
            processed_at=processed_at,
        )
