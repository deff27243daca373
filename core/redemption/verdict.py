"""The redemption verdict: whether one request may take one use of a code, and why not.

:func:`verdict` is the one statement of the rule. ``claim.lua`` applies the same checks in
the same order on Redis's copy of the facts (the fast path: most requests never reach
MySQL's judgement with a different answer), and the batch commit applies this function to
the rows it locked (:func:`decide_commit`); ``tests/integration/test_verdict_parity.py``
drives both with the same generated states and requests.

The checks, first failing one wins:

1. NOT_FOUND: no such code, a voided one, one bound to another user, or its campaign
   unknown;
2. CAMPAIGN_INACTIVE, NOT_YET_VALID, EXPIRED: the campaign's status and validity window;
3. PRODUCT_NOT_APPLICABLE: the campaign names products and not this one;
4. ALREADY_USED: every use taken (or the code recorded CLAIMED / GRANTED);
5. USER_LIMIT_REACHED: the user's redemptions in the campaign reach its per-user limit;
6. NOT_ELIGIBLE: no reward rule of the campaign applies to the user;

else REDEEMED. Times are compared in epoch milliseconds, as the Lua script compares them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from core.codes.status import CodeStatus
from core.redemption.model import Attempt, CampaignInfo, CodeState
from schemas.events import RedeemOutcome, RedeemRequested
from schemas.rewards import eligible

ACTIVE = "ACTIVE"
_USED_UP = (CodeStatus.CLAIMED, CodeStatus.GRANTED)


def epoch_ms(moment: datetime) -> int:
    """A naive-UTC or aware datetime as integer epoch milliseconds (truncated, as stored
    for claim.lua)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def verdict(
    request: RedeemRequested,
    code: CodeState | None,
    campaign: CampaignInfo | None,
    *,
    used: int,
    user_used: int,
    now_ms: int,
) -> RedeemOutcome:
    """The outcome of ``request`` for a code in state ``code`` (None: unknown) of
    ``campaign``, with ``used`` of its uses taken and ``user_used`` redemptions by this user
    in that campaign, at ``now_ms``. Pure: the caller supplies every fact."""
    user = request.user_id
    if code is None or code.status == CodeStatus.VOIDED:
        return RedeemOutcome.NOT_FOUND
    if (code.bound_user and code.bound_user != user) or campaign is None:
        return RedeemOutcome.NOT_FOUND
    if campaign.status != ACTIVE:
        return RedeemOutcome.CAMPAIGN_INACTIVE
    if now_ms < epoch_ms(campaign.valid_from):
        return RedeemOutcome.NOT_YET_VALID
    if campaign.valid_until is not None and now_ms >= epoch_ms(campaign.valid_until):
        return RedeemOutcome.EXPIRED
    if campaign.products and request.product_code not in campaign.products:
        return RedeemOutcome.PRODUCT_NOT_APPLICABLE
    if used >= code.use_limit or code.status in _USED_UP:
        return RedeemOutcome.ALREADY_USED
    if user_used >= campaign.per_user_limit:
        return RedeemOutcome.USER_LIMIT_REACHED
    if not eligible(campaign.reward_rules, frozenset(request.user_tags), request.channel.value):
        return RedeemOutcome.NOT_ELIGIBLE
    return RedeemOutcome.REDEEMED


@dataclass
class LockedRows:
    """One tenant's rows as the commit transaction locked and read them: code states by
    code, per-user usage by (campaign, user), and the current status of their campaigns."""

    states: dict[str, CodeState]
    usage: dict[tuple[str, str], int]
    campaign_status: dict[str, str]


@dataclass(frozen=True)
class CodeUse:
    """A code whose use count changes: its new count and status, and its last user."""

    state: CodeState
    used: int
    status: CodeStatus
    last_user: str | None


@dataclass(frozen=True)
class UsageCount:
    """A user's new redemption count in a campaign; ``existed``: the row was read (and
    locked), else it is inserted new."""

    campaign_id: str
    user_id: str
    used: int
    existed: bool


@dataclass(frozen=True)
class NewRedemption:
    """An accepted claim and the code row it uses."""

    attempt: Attempt
    state: CodeState


@dataclass(frozen=True)
class CacheCorrection:
    """MySQL refused a claim Redis made: the claim cache is told MySQL's view.

    ``state`` is the code's row (None: MySQL has no such code, the entry goes);
    ``user_used`` the user's count in ``campaign_id`` (None: give one use back)."""

    tenant_id: str
    code: str
    request_id: str
    user_id: str
    campaign_id: str
    state: CodeState | None
    user_used: int | None


@dataclass
class TenantPlan:
    """What one tenant's part of a commit writes."""

    codes: list[CodeUse]
    usage: list[UsageCount]
    redemptions: list[NewRedemption]


@dataclass
class CommitPlan:
    """The writes of a batch's commit, per tenant, and the cache corrections to make once
    it is committed."""

    tenants: dict[str, TenantPlan]
    corrections: list[CacheCorrection]


def decide_commit(
    by_tenant: dict[str, list[Attempt]],
    locked: dict[str, LockedRows],
    campaigns: dict[str, CampaignInfo],
    now: datetime,
) -> CommitPlan:
    """Judge a batch's claims, in order, against the rows the commit locked (MySQL's
    truth, with the campaigns' current status): each attempt is decided, and the plan says
    what to write. ``campaigns`` supplies the facts that never change (window, products,
    limits, rules); a claim refused here gets a cache correction."""
    now_ms = epoch_ms(now)
    plan = CommitPlan({}, [])
    for tenant_id in sorted(by_tenant):
        rows = locked[tenant_id]
        current = {
            cid: _with_status(campaigns[cid], status)
            for cid, status in rows.campaign_status.items()
            if cid in campaigns
        }
        plan.tenants[tenant_id] = _decide_tenant(
            by_tenant[tenant_id], rows, current, now_ms, plan.corrections
        )
    return plan


def _with_status(info: CampaignInfo, status: str) -> CampaignInfo:
    return info if status == info.status else replace(info, status=status)


def _decide_tenant(
    claims: list[Attempt],
    rows: LockedRows,
    campaigns: dict[str, CampaignInfo],
    now_ms: int,
    corrections: list[CacheCorrection],
) -> TenantPlan:
    states, usage = rows.states, dict(rows.usage)
    used = {code: s.used_count for code, s in states.items()}
    touched: set[tuple[str, str]] = set()
    last_user: dict[str, str] = {}
    redemptions = []
    refused = []
    for attempt in claims:
        state = states.get(attempt.code or "")
        user = attempt.request.user_id
        campaign = campaigns.get(state.campaign_id) if state else None
        outcome = verdict(
            attempt.request, state, campaign,
            used=used[state.code] if state else 0,
            user_used=usage.get((state.campaign_id, user), 0) if state else 0,
            now_ms=now_ms,
        )
        attempt.decide(outcome)
        if state is None or outcome is not RedeemOutcome.REDEEMED:
            refused.append((attempt, state))
            continue
        used[state.code] += 1
        key = (state.campaign_id, user)
        usage[key] = usage.get(key, 0) + 1
        touched.add(key)
        last_user[state.code] = user
        attempt.grants_pending = True
        redemptions.append(NewRedemption(attempt, state))
    for attempt, state in refused:
        corrections.append(_correction(attempt, state, usage))
    codes = [
        CodeUse(state, used[code], _status_after(state, used[code]), last_user.get(code))
        for code, state in states.items()
        if used[code] != state.used_count
    ]
    counts = [UsageCount(c, u, usage[(c, u)], (c, u) in rows.usage) for c, u in sorted(touched)]
    return TenantPlan(codes, counts, redemptions)


def _status_after(state: CodeState, used: int) -> CodeStatus:
    return CodeStatus.CLAIMED if used >= state.use_limit else CodeStatus.UNUSED


def _correction(
    attempt: Attempt, state: CodeState | None, usage: dict[tuple[str, str], int]
) -> CacheCorrection:
    user = attempt.request.user_id
    return CacheCorrection(
        tenant_id=attempt.tenant_id,
        code=attempt.code or "",
        request_id=attempt.request_id,
        user_id=user,
        campaign_id=state.campaign_id if state else (attempt.campaign_id or ""),
        state=state,
        user_used=usage.get((state.campaign_id, user), 0) if state else None,
    )
