"""In-memory fakes of the redemption ports (:mod:`core.redemption.ports`), for unit tests.

``tests/integration/test_redemption_store_contract.py`` and
``tests/integration/test_claim_cache_contract.py`` run one contract per port against these
fakes and the real adapters (MariaDB, Redis), so a fake cannot promise what its adapter
does not do. The claim cache decides with the domain's :func:`verdict`, as claim.lua must
(``test_verdict_parity`` holds the script to it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from core.codes.status import CodeStatus, RedemptionStatus, cached_status
from core.errors import ConcurrentUpdate
from core.redemption.model import Attempt, CampaignInfo, ClaimReply, CodeState, KnownOutcome
from core.redemption.ports import CommitBatch, Runner, StoreView
from core.redemption.verdict import CacheCorrection, CommitPlan, LockedRows, verdict
from core.settings import Settings
from schemas.code_rule import CodeGenerateRule
from schemas.events import RedeemOutcome, RewardGrant

HOUR_MS, DAY_MS = 3_600_000, 86_400_000


@dataclass
class StoredRedemption:
    """A redemption row: its status, grants and code."""

    tenant_id: str
    code: str
    status: RedemptionStatus
    grants: list[RewardGrant]


class InMemoryRedemptionStore:
    """The redemption store's tables as dicts; a commit applies its plan on ``finish``."""

    def __init__(self) -> None:
        self.codes: dict[tuple[str, str], CodeState] = {}
        self.campaign_rows: dict[str, CampaignInfo] = {}
        self.usage: dict[tuple[str, str, str], int] = {}
        self.outcomes: dict[tuple[str, str], KnownOutcome] = {}
        self.redemptions: dict[str, StoredRedemption] = {}
        self.tenants: dict[str, str] = {}
        self.rules: dict[str, list[CodeGenerateRule]] = defaultdict(list)
        self.opened = False

    def add_campaign(self, info: CampaignInfo, rule: CodeGenerateRule | None = None) -> None:
        """A campaign (and its code rule, for the offline format check)."""
        self.campaign_rows[info.campaign_id] = info
        if rule is not None and rule not in self.rules[info.tenant_id]:
            self.rules[info.tenant_id].append(rule)

    def add_code(self, state: CodeState) -> None:
        """A code row."""
        self.codes[(state.tenant_id, state.code)] = state

    def open(self) -> None:
        """Nothing to prepare."""
        self.opened = True

    def known_outcomes(self, tenant_id: str, request_ids: Sequence[str]) -> dict[str, KnownOutcome]:
        """Recorded outcomes, with their redemption's current status."""
        found = {}
        for rid in request_ids:
            known = self.outcomes.get((tenant_id, rid))
            if known is None:
                continue
            stored = self.redemptions.get(known.redemption_id or "")
            if stored is not None:
                known = replace(known, status=int(stored.status), grants=list(stored.grants))
            found[rid] = known
        return found

    def campaigns(self, campaign_ids: Iterable[str]) -> dict[str, CampaignInfo]:
        """Campaigns by id."""
        return {c: self.campaign_rows[c] for c in set(campaign_ids) if c in self.campaign_rows}

    def tenant_statuses(self, tenant_ids: Sequence[str]) -> dict[str, str]:
        """Registered tenants' statuses."""
        return {t: self.tenants[t] for t in tenant_ids if t in self.tenants}

    def tenant_code_rules(self, tenant_id: str) -> list[CodeGenerateRule]:
        """The tenant's code rules."""
        return list(self.rules.get(tenant_id, []))

    def lookup_codes(self, tenant_id: str, codes: Sequence[str]) -> dict[str, CodeState]:
        """Code rows by code."""
        return {c: self.codes[(tenant_id, c)] for c in codes if (tenant_id, c) in self.codes}

    def user_usage(
        self, tenant_id: str, campaign_ids: Sequence[str], users: Sequence[str]
    ) -> dict[tuple[str, str], int]:
        """Per-user counts that exist."""
        return {
            (c, u): self.usage[(tenant_id, c, u)]
            for c in set(campaign_ids)
            for u in set(users)
            if (tenant_id, c, u) in self.usage
        }

    async def begin_commit(self, batch: CommitBatch, run: Runner) -> InMemoryCommit:
        """Read the claims' rows (nothing runs concurrently: no lock is needed), decide."""
        by_tenant: dict[str, list[Attempt]] = defaultdict(list)
        for attempt in batch.claims:
            by_tenant[attempt.tenant_id].append(attempt)
        locked = {t: self._rows(t, group) for t, group in by_tenant.items()}
        plan = batch.decide(dict(by_tenant), locked)
        ordered = [a for t in sorted(by_tenant) for a in by_tenant[t]]
        return InMemoryCommit(self, plan, [*ordered, *batch.decided], batch.now)

    def _rows(self, tenant_id: str, group: list[Attempt]) -> LockedRows:
        states = self.lookup_codes(tenant_id, sorted({a.code or "" for a in group}))
        campaigns = {a.campaign_id or "" for a in group} | {s.campaign_id for s in states.values()}
        users = [a.request.user_id for a in group]
        return LockedRows(
            states,
            self.user_usage(tenant_id, sorted(campaigns), users),
            {c: self.campaign_rows[c].status for c in campaigns if c in self.campaign_rows},
        )

    def apply(self, plan: CommitPlan, attempts: list[Attempt], now: datetime) -> None:
        """Write a plan, all or nothing: ConcurrentUpdate when an outcome is recorded or a
        new usage row exists already (the real store's duplicate keys)."""
        fresh = [a for a in attempts if not a.replayed]
        for tenant_id, tenant in plan.tenants.items():
            for count in tenant.usage:
                key = (tenant_id, count.campaign_id, count.user_id)
                if not count.existed and key in self.usage:
                    raise ConcurrentUpdate("a user's first usage was recorded concurrently")
        if any(a.key in self.outcomes for a in fresh):
            raise ConcurrentUpdate("a request was recorded concurrently")
        for tenant_id, tenant in plan.tenants.items():
            for use in tenant.codes:
                state = use.state
                self.codes[(tenant_id, state.code)] = replace(
                    self.codes[(tenant_id, state.code)], used_count=use.used, status=use.status
                )
            for count in tenant.usage:
                self.usage[(tenant_id, count.campaign_id, count.user_id)] = count.used
            for new in tenant.redemptions:
                self.redemptions[new.attempt.redemption_id or ""] = StoredRedemption(
                    tenant_id, new.state.code, RedemptionStatus.PENDING, list(new.attempt.grants)
                )
        for a in fresh:
            self.outcomes[a.key] = KnownOutcome(
                (a.outcome or RedeemOutcome.INVALID_REQUEST).value,
                a.redemption_id,
                None,
                list(a.grants),
                a.code if a.redemption_id else None,
                a.fingerprint,
                a.message,
                now.replace(tzinfo=UTC),
            )

    async def record_grants(self, attempts: Sequence[Attempt], now: datetime, run: Runner) -> None:
        """Redemptions granted; a code granted once no redemption of it is pending."""
        for attempt in attempts:
            stored = self.redemptions.get(attempt.redemption_id or "")
            if stored is None or attempt.outcome is not RedeemOutcome.REDEEMED:
                continue
            stored.status = RedemptionStatus.GRANTED
            pending = any(
                r.status is RedemptionStatus.PENDING and (r.tenant_id, r.code) == (
                    stored.tenant_id, stored.code
                )
                for r in self.redemptions.values()
            )
            key = (stored.tenant_id, stored.code)
            state = self.codes[key]
            if state.status == CodeStatus.CLAIMED and (state.use_limit == 1 or not pending):
                self.codes[key] = replace(state, status=CodeStatus.GRANTED)


class InMemoryCommit:
    """An open commit of the in-memory store: its plan, written on ``finish``."""

    def __init__(
        self, store: InMemoryRedemptionStore, plan: CommitPlan, attempts: list[Attempt],
        now: datetime,
    ) -> None:
        self._store, self._plan, self._attempts, self._now = store, plan, attempts, now
        self._open = True

    async def finish(self) -> list[CacheCorrection]:
        """Write the plan; the cache corrections."""
        if not self._open:
            raise RuntimeError("this commit is already finished or closed")
        self._open = False
        self._store.apply(self._plan, self._attempts, self._now)
        return list(self._plan.corrections)

    async def close(self) -> None:
        """Forget an unfinished plan."""
        self._open = False


@dataclass
class _Entry:
    campaign_id: str
    use_limit: int
    used: int
    status: int
    bound: str


class InMemoryClaimCache:
    """The claim cache in dicts, with claim.lua's protocol: DUP for a request claimed
    before, MISS for a code neither cached nor known to be absent, the verdict otherwise
    (failed attempts and product use counted in sliding hour/day windows)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.entries: dict[tuple[str, str], _Entry] = {}
        self.absent: set[tuple[str, str]] = set()
        self.campaigns: dict[tuple[str, str], CampaignInfo] = {}
        self.per_user: dict[tuple[str, str, str], int] = {}
        self.requests: dict[tuple[str, str], str] = {}
        self._counts: dict[tuple[str, int], int] = defaultdict(int)
        self.started = False

    async def start(self) -> None:
        """Nothing to register."""
        self.started = True

    async def claim(self, attempts: Sequence[Attempt], now_ms: int) -> list[ClaimReply]:
        """One reply per attempt, in order."""
        return [self._claim(a, now_ms) for a in attempts]

    def _claim(self, attempt: Attempt, now_ms: int) -> ClaimReply:
        request, code = attempt.request, attempt.code or ""
        tenant, user = attempt.tenant_id, request.user_id
        entry = None
        if code:
            if (tenant, request.request_id) in self.requests:
                return ClaimReply("DUP", self.requests[(tenant, request.request_id)], 0, 0)
            entry = self.entries.get((tenant, code))
            if entry is None and (tenant, code) not in self.absent:
                return ClaimReply("MISS", "", 0, 0)
        if self._limited(attempt, now_ms):
            return ClaimReply("RATE_LIMITED", "", 0, 0)
        product = f"{tenant}:{request.product_code}"
        self._bump(product + ":h", HOUR_MS, now_ms)
        self._bump(product + ":d", DAY_MS, now_ms)
        if entry is None or entry.status == CodeStatus.VOIDED or entry.bound not in ("", user):
            return self._fail(attempt, "NOT_FOUND", "", now_ms)
        campaign = self.campaigns.get((tenant, entry.campaign_id))
        if campaign is None:
            return ClaimReply("MISS", entry.campaign_id, 0, 0)
        state = CodeState(0, tenant, code, entry.campaign_id, entry.status, entry.use_limit,
                          entry.used, entry.bound or None)
        mine = self.per_user.get((tenant, entry.campaign_id, user), 0)
        outcome = verdict(request, state, campaign, used=entry.used, user_used=mine,
                          now_ms=now_ms)
        if outcome is RedeemOutcome.NOT_ELIGIBLE:
            return ClaimReply(outcome.value, entry.campaign_id, 0, 0)
        if outcome is not RedeemOutcome.REDEEMED:
            return self._fail(attempt, outcome.value, entry.campaign_id, now_ms)
        entry.used += 1
        entry.status = CodeStatus.CLAIMED if entry.used >= entry.use_limit else CodeStatus.UNUSED
        self.per_user[(tenant, entry.campaign_id, user)] = mine + 1
        self.requests[(tenant, request.request_id)] = entry.campaign_id
        return ClaimReply("CLAIMED", entry.campaign_id, entry.used, entry.use_limit)

    def _limited(self, attempt: Attempt, now_ms: int) -> bool:
        s, request, tenant = self._settings, attempt.request, attempt.tenant_id
        limits = s.rate_limit_for(request.product_code)
        product = f"{tenant}:{request.product_code}"
        device = request.device_id
        return (
            self._estimate(f"{tenant}:u:{request.user_id}", HOUR_MS, now_ms)
            >= s.user_failed_attempts_per_hour
            or (bool(device) and self._estimate(f"{tenant}:d:{device}", HOUR_MS, now_ms)
                >= s.device_failed_attempts_per_hour)
            or self._estimate(product + ":h", HOUR_MS, now_ms) >= limits.hour
            or self._estimate(product + ":d", DAY_MS, now_ms) >= limits.day
        )

    def _fail(self, attempt: Attempt, verdict_: str, campaign: str, now_ms: int) -> ClaimReply:
        tenant, request = attempt.tenant_id, attempt.request
        self._bump(f"{tenant}:u:{request.user_id}", HOUR_MS, now_ms)
        if request.device_id:
            self._bump(f"{tenant}:d:{request.device_id}", HOUR_MS, now_ms)
        return ClaimReply(verdict_, campaign, 0, 0)

    def _estimate(self, base: str, size: int, now_ms: int) -> float:
        index = now_ms // size
        frac = (now_ms % size) / size
        return self._counts[(base, index)] + self._counts[(base, index - 1)] * (1 - frac)

    def _bump(self, base: str, size: int, now_ms: int) -> None:
        self._counts[(base, now_ms // size)] += 1

    async def fill(self, view: StoreView, wanted: Sequence[Attempt]) -> None:
        """Load entries that are absent; unknown codes are remembered as absent."""
        tenant_id, states, campaigns, usage = view.tenant_id, view.states, view.campaigns, \
            view.usage
        for attempt in wanted:
            code = attempt.code or ""
            state = states.get(code)
            if state is None:
                self.absent.add((tenant_id, code))
                continue
            campaign = campaigns.get(state.campaign_id)
            if campaign is None:
                continue
            self.entries.setdefault((tenant_id, code), _entry(state))
            self.campaigns.setdefault((tenant_id, state.campaign_id), campaign)
            user = attempt.request.user_id
            self.per_user.setdefault(
                (tenant_id, state.campaign_id, user), usage.get((state.campaign_id, user), 0)
            )

    async def repair(self, corrections: Sequence[CacheCorrection]) -> None:
        """Write the store's view back and forget the requests."""
        for fix in corrections:
            key = (fix.tenant_id, fix.code)
            if fix.state is None:
                self.entries.pop(key, None)
            else:
                self.entries[key] = _entry(fix.state)
            pu = (fix.tenant_id, fix.campaign_id, fix.user_id)
            if fix.user_used is not None:
                self.per_user[pu] = fix.user_used
            elif self.per_user.get(pu, 0) > 0:
                self.per_user[pu] -= 1
            self.requests.pop((fix.tenant_id, fix.request_id), None)

    async def close(self) -> None:
        """Nothing to release."""


def _entry(state: CodeState) -> _Entry:
    status = cached_status(state.status, state.used_count, state.use_limit)
    return _Entry(state.campaign_id, state.use_limit, state.used_count, int(status),
                  state.bound_user or "")
