"""Records of a compensation run: its scope, the rows it repairs and the claim records it
releases. Plain data: the ports of ``core.compensation.ports`` take and return them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.redemption.model import CodeState
from schemas.events import RewardGrant


@dataclass(frozen=True)
class Scope:
    """Which rows a job looks at: an optional tenant and campaign, claimed before a cutoff;
    stuck codes only among redemptions claimed since ``since`` (None: all of them)."""

    tenant_id: str | None
    campaign_id: str | None
    cutoff: datetime  # naive UTC
    since: datetime | None = None  # naive UTC


@dataclass(frozen=True)
class PendingRedemption:
    """A redemption in status PENDING and the grants it must emit."""

    redemption_id: str
    tenant_id: str
    code: str
    claimed_at: datetime
    grants: list[RewardGrant]


@dataclass(frozen=True)
class StuckCode:
    """A code in status CLAIMED with no pending redemption and a granted one."""

    tenant_id: str
    code: str


@dataclass(frozen=True)
class RequestRecord:
    """One claim record as claim.lua wrote it."""

    key: str
    raw: str
    tenant_id: str
    request_id: str
    campaign_id: str
    code: str
    user_id: str
    claimed_ms: int


@dataclass(frozen=True)
class Release:
    """What to write for one abandoned claim: MySQL's code state and the user's count."""

    record: RequestRecord
    state: CodeState | None
    user_count: int
