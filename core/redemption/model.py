"""In-flight state of one redemption request while a batch is processed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.redemption.ids import request_fingerprint
from schemas.events import Channel, RedeemOutcome, RedeemRequested, RedeemResult, RewardGrant
from schemas.rewards import RewardRule
from schemas.salvage import RejectedRedeem

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
    RedeemOutcome.REQUEST_CONFLICT: (
        "this request id was already used for a different code, user or product;"
        " the first request's outcome stands (send a new request id)"
    ),
    RedeemOutcome.TENANT_INACTIVE: "this tenant is suspended or closed",
    RedeemOutcome.NOT_ELIGIBLE: "this user is not eligible for any reward of this campaign",
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


@dataclass(frozen=True)
class KnownOutcome:
    """A request's recorded outcome; for redemptions also its status
    (:class:`core.codes.status.RedemptionStatus`), grants and code. ``request_hash`` (None
    for rows older than migration 9) tells a redelivery from a reuse of the id; ``message``
    (None: the outcome's default) and ``processed_at`` reproduce the first answer exactly."""

    outcome: str
    redemption_id: str | None
    status: int | None
    grants: list[RewardGrant]
    code: str | None
    request_hash: str | None = None
    message: str | None = None
    processed_at: datetime | None = None


@dataclass(frozen=True)
class ClaimReply:
    """The claim cache's answer for one attempt: a verdict (a RedeemOutcome value, or
    CLAIMED, DUP (claimed by an earlier delivery) or MISS (the cache lacks the code)), the
    campaign it names, and the code's uses after the claim."""

    verdict: str
    campaign_id: str
    used: int
    use_limit: int


@dataclass
class Attempt:
    """One request travelling through a batch: its canonical code, verdict and grants.

    ``code`` is None until the offline check parsed it (and stays None when it did not),
    then the code's lookup value (core/codes/protection.py), the only form that reaches Redis
    and MySQL (``plain``, the canonical code, stays in memory: it finds rows written before
    codes were protected);
    ``rejection`` is set for a half-valid message (answered INVALID_REQUEST, never claimed);
    ``message`` and ``processed_at`` override the outcome's default message and the batch's
    time (a replay answers exactly what was answered first)."""

    request: RedeemRequested
    code: str | None
    outcome: RedeemOutcome | None = None
    fingerprint: str = ""
    rejection: str | None = None
    message: str | None = None
    processed_at: datetime | None = None
    campaign_id: str | None = None
    redemption_id: str | None = None
    grants: list[RewardGrant] = field(default_factory=list)
    grants_pending: bool = False
    replayed: bool = False
    plain: str | None = None
    legacy_fingerprint: str = ""
    """The unkeyed fingerprint outcomes were stored with before codes were protected."""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            r = self.request
            self.fingerprint = request_fingerprint(r.user_id, r.product_code, r.code)

    @classmethod
    def of(cls, item: RedeemRequested | RejectedRedeem) -> Attempt:
        """The attempt of a request, or of a half-valid message (its ids only, the rest
        placeholders it never reaches: it is decided before any check)."""
        if isinstance(item, RedeemRequested):
            return cls(item, code=None)
        placeholder = RedeemRequested.model_construct(
            request_id=item.request_id,
            tenant_id=item.tenant_id,
            user_id=item.user_id,
            product_code=item.product_code,
            code=item.code,
            device_id=None,
            channel=Channel.WEB,
            user_tags=[],
        )
        return cls(placeholder, code=None, rejection=item.message, message=item.message)

    @property
    def request_id(self) -> str:
        """The idempotency key."""
        return self.request.request_id

    @property
    def key(self) -> tuple[str, str]:
        """(tenant_id, request_id): request ids are idempotency keys per tenant."""
        return (self.request.tenant_id, self.request.request_id)

    @property
    def request_key(self) -> tuple[str, str, str]:
        """The key plus the fingerprint: one request, however often it is delivered."""
        return (self.request.tenant_id, self.request.request_id, self.fingerprint)

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
        """The RedeemResult message of this attempt (``processed_at`` unless it was
        decided earlier: a replay repeats the first answer, byte for byte)."""
        outcome = self.outcome or RedeemOutcome.INVALID_REQUEST
        return RedeemResult(
            request_id=self.request_id,
            tenant_id=self.tenant_id,
            user_id=self.request.user_id,
            outcome=outcome,
            redemption_id=self.redemption_id,
            grant_ids=[g.grant_id for g in self.grants],
            message=self.message or OUTCOME_MESSAGES[outcome],
            processed_at=self.processed_at or processed_at,
        )
