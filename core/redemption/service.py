"""The redemption pipeline for one batch of requests.

    replay known outcomes (or answer an id reused for another request: REQUEST_CONFLICT)
    -> refuse inactive tenants -> offline format check -> Redis claim (fill misses from MySQL)
    -> one MySQL transaction (rows locked and judged, then written) -> grants and results
    produced together -> grants recorded

Every step is idempotent, so a batch that fails half-way (RetryableError) is simply run
again: recorded outcomes are replayed, claims already made in Redis come back as DUP and
MySQL's guarded commit decides once. Blocking MySQL work runs in an executor. Several
batches may be in flight at once, one per stage, in order (:mod:`core.redemption.stages`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from core.codes.status import RedemptionStatus
from core.executor import run_blocking
from core.metrics import observe_batch
from core.ports import EventPublisher, OutboundMessage
from core.redemption.formats import TenantCodeFormats
from core.redemption.grants import build_grants
from core.redemption.ids import redemption_id
from core.redemption.model import Attempt, CampaignInfo, ClaimReply
from core.redemption.ports import (
    ClaimCache,
    Clock,
    CommitBatch,
    OpenCommit,
    RedemptionStore,
    StoreView,
)
from core.redemption.stages import OpenCommits, OrderedStages
from core.redemption.tenant_status import TenantStatuses
from core.redemption.verdict import CacheCorrection, CommitPlan, LockedRows, decide_commit
from core.settings import Settings
from core.topics import Topic
from schemas.base import naive_utc, utc_now
from schemas.events import RedeemOutcome, RedeemRequested, RedeemResult
from schemas.salvage import RejectedRedeem

T = TypeVar("T")
CLAIMED = frozenset({"CLAIMED", "DUP"})
CAMPAIGN_CACHE_LIMIT = 10_000
log = logging.getLogger("redeemflow.redemption")


class RedemptionService:
    """Processes batches of RedeemRequested into results and grants."""

    def __init__(
        self,
        settings: Settings,
        store: RedemptionStore,
        cache: ClaimCache,
        publisher: EventPublisher,
        executor: ThreadPoolExecutor | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._store = store
        self._cache = cache
        self._publisher = publisher
        # a thread per stage that may wait on MySQL, and a spare: one batch's locked read
        # may wait for another's commit, which then still finds a thread
        self._executor = executor or ThreadPoolExecutor(6, thread_name_prefix="redeem-db")
        self._clock = clock
        self._formats = TenantCodeFormats(store.tenant_code_rules, settings.code_secret_for)
        self._protector = settings.code_protector
        self._tenants = TenantStatuses(
            store.tenant_statuses, settings.tenant_status_refresh_seconds
        )
        self._campaigns: dict[str, CampaignInfo] = {}
        self._started = False
        self.stages = OrderedStages()
        self._open_commits = OpenCommits()

    async def start(self) -> None:
        """Register the cache scripts and open the store once (also done lazily by the
        first batch)."""
        if not self._started:
            await self._cache.start()
            await self._run(self._store.open)
            self._started = True

    async def ready_for_batch(self) -> None:
        """Return once a batch started now would claim at once. A batch formed earlier
        would only wait for its turn, while requests arriving meanwhile could have joined
        it: under load, batches taken when the claim stage frees are full ones."""
        await self.stages.wait_free("claim")

    async def process(
        self, requests: Sequence[RedeemRequested | RejectedRedeem]
    ) -> list[RedeemResult]:
        """Decide, record and publish one batch; returns one result per request, in order.

        A :class:`RejectedRedeem` (a half-valid message) is answered INVALID_REQUEST, and
        recorded as its request's one outcome, like any other.
        Batches may overlap: each stage (claim, lock, commit, grants, acks, record) takes
        them in the order they started, and two commit transactions are open at once only
        when they lock no row in common (see :mod:`core.redemption.stages`).
        """
        async with self.stages.ticket() as ticket:  # first, before any await: keeps order
            await self.start()
            await ticket.enter("claim")
            now = self._clock()
            attempts = [Attempt.of(request) for request in requests]
            for attempt in attempts:
                self._key_fingerprint(attempt)
            by_request: dict[tuple[str, str, str], Attempt] = {}
            for attempt in attempts:  # a redelivery within the batch shares the first's
                by_request.setdefault(attempt.request_key, attempt)
            unique = list(by_request.values())
            fresh = _first_per_id(await self._replay_known(unique))
            for attempt in fresh:
                if attempt.rejection is not None:
                    attempt.decide(RedeemOutcome.INVALID_REQUEST)
            await self._refuse_inactive_tenants([a for a in fresh if a.outcome is None])
            await self._check_formats([a for a in fresh if a.outcome is None])
            claims = await self._claim([a for a in fresh if a.outcome is None], now)
            decided = [a for a in fresh if a.outcome is not None]
            await ticket.enter("lock")
            async with self._open_commits.holding(_locked_rows(claims)):
                commit = await self._begin_commit(claims, decided, now)
                try:
                    await ticket.enter("commit")
                    corrections = await commit.finish()
                finally:
                    await commit.close()
            if corrections:
                await self._cache.repair(corrections)
            pending = [a for a in unique if a.grants_pending]
            results = [by_request[a.request_key].result(now) for a in attempts]
            await ticket.enter("grants")
            # every outcome is durable in MySQL now: the answers leave with the grants (one
            # produce), and a grant that fails is produced again by the retry or compensation.
            # Handed over in batch order; the next batch's go while the broker acknowledges
            # these (stage acks), and they are recorded only once acknowledged.
            delivery = await self._publisher.hand_over(
                [
                    *self._grant_messages(pending),
                    *(_result_message(self._settings, r) for r in results),
                ]
            )
            await ticket.enter("acks")
            await delivery
            await ticket.enter("record")
            await self._record_grants(pending, naive_utc(now))
        observe_batch([a.request for a in attempts], results)
        if log.isEnabledFor(logging.DEBUG):
            stages = " ".join(f"{k}={v * 1000:.1f}ms" for k, v in ticket.seconds.items())
            log.debug(
                "batch of %d (%d in flight): %s", len(requests), self.stages.in_flight, stages
            )
        return results

    async def _begin_commit(
        self, claims: list[Attempt], decided: list[Attempt], now: datetime
    ) -> OpenCommit | _NothingToCommit:
        """Build the claims' grants, lock their rows and judge them: the commit's first half."""
        if not claims and not decided:
            return _NothingToCommit()
        campaigns = await self._campaign_infos({a.campaign_id or "" for a in claims})
        for attempt in claims:
            self._prepare_grants(attempt, campaigns, now)

        def decide(
            by_tenant: dict[str, list[Attempt]], locked: dict[str, LockedRows]
        ) -> CommitPlan:
            return decide_commit(by_tenant, locked, campaigns, now)

        return await self._store.begin_commit(
            CommitBatch(claims, decided, naive_utc(now), decide), self._run
        )

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        return await run_blocking(self._executor, func, *args)

    async def _replay_known(self, attempts: list[Attempt]) -> list[Attempt]:
        known: dict[tuple[str, str], Any] = {}
        for tenant in sorted({a.tenant_id for a in attempts}):
            ids = [a.request_id for a in attempts if a.tenant_id == tenant]
            found = await self._run(self._store.known_outcomes, tenant, ids)
            known.update({(tenant, rid): outcome for rid, outcome in found.items()})
        fresh = []
        for attempt in attempts:
            record = known.get(attempt.key)
            if record is None:
                fresh.append(attempt)
                continue
            attempt.replayed = True
            if record.request_hash is not None and record.request_hash not in (
                    attempt.fingerprint, attempt.legacy_fingerprint):
                attempt.decide(RedeemOutcome.REQUEST_CONFLICT)  # the id of another request
                attempt.message = None
                continue
            attempt.decide(RedeemOutcome(record.outcome))
            attempt.message, attempt.processed_at = record.message, record.processed_at
            if attempt.outcome is RedeemOutcome.REDEEMED:
                attempt.code = record.code
                attempt.redemption_id, attempt.grants = record.redemption_id, record.grants
                attempt.grants_pending = record.status == RedemptionStatus.PENDING
        return fresh

    def _key_fingerprint(self, attempt: Attempt) -> None:
        """Replace the request's fingerprint by its keyed form (core/codes/protection.py);
        the unkeyed one still matches outcomes stored before."""
        r = attempt.request
        attempt.legacy_fingerprint = attempt.fingerprint
        attempt.fingerprint = self._protector.fingerprint(r.tenant_id, r.user_id,
                                                         r.product_code, r.code)

    async def _refuse_inactive_tenants(self, attempts: list[Attempt]) -> None:
        """TENANT_INACTIVE for the requests of SUSPENDED or CLOSED tenants, before any
        check or claim (statuses re-read at most every few seconds, all in one query)."""
        stale = self._tenants.stale(a.tenant_id for a in attempts)
        if stale:
            await self._run(self._tenants.refresh, stale)
        for attempt in attempts:
            if self._tenants.inactive(attempt.tenant_id):
                attempt.decide(RedeemOutcome.TENANT_INACTIVE)

    async def _check_formats(self, attempts: list[Attempt]) -> None:
        """Parse each code with its tenant's rules. A code no rule accepts keeps
        ``code=None``: claim.lua answers it NOT_FOUND (or RATE_LIMITED) without a lookup,
        counting it as a failed attempt, in the batch's one claim call."""
        tenants = {a.tenant_id for a in attempts}
        for tenant in tenants:
            if self._formats.needs_load(tenant):
                await self._run(self._formats.load, tenant)
        unparsed = self._parse_all(attempts)
        for tenant in {a.tenant_id for a in unparsed}:
            if self._formats.may_refresh(tenant):
                await self._run(partial(self._formats.load, tenant, force=True))
        self._parse_all(unparsed)

    def _parse_all(self, attempts: list[Attempt]) -> list[Attempt]:
        """Parse, then map each valid code to its lookup value (one HMAC per request)."""
        failed = []
        for attempt in attempts:
            plain = self._formats.parse(attempt.tenant_id, attempt.request.code)
            if plain is None:
                failed.append(attempt)
                continue
            attempt.plain = plain
            attempt.code = self._protector.lookup(attempt.tenant_id, plain)
        return failed

    async def _claim(self, attempts: list[Attempt], now: datetime) -> list[Attempt]:
        if not attempts:
            return []
        now_ms = int(now.timestamp() * 1000)
        replies = await self._cache.claim(attempts, now_ms)
        misses = self._apply_replies(attempts, replies)
        if misses:
            await self._fill(misses)
            for attempt in self._apply_replies(misses, await self._cache.claim(misses, now_ms)):
                attempt.decide(RedeemOutcome.NOT_FOUND)
        return [a for a in attempts if a.outcome is None]

    @staticmethod
    def _apply_replies(attempts: list[Attempt], replies: Sequence[ClaimReply]) -> list[Attempt]:
        misses = []
        for attempt, reply in zip(attempts, replies, strict=True):
            if reply.verdict in CLAIMED:
                attempt.campaign_id = reply.campaign_id
            elif reply.verdict == "MISS":
                misses.append(attempt)
            else:
                attempt.decide(RedeemOutcome(reply.verdict))
        return misses

    async def _fill(self, misses: list[Attempt]) -> None:
        by_tenant: dict[str, list[Attempt]] = defaultdict(list)
        for attempt in misses:
            by_tenant[attempt.tenant_id].append(attempt)
        for tenant, group in by_tenant.items():
            states = await self._run(
                self._store.lookup_codes, tenant, [a.code or "" for a in group]
            )
            await self._find_unprotected(tenant, group, states)
            campaign_ids = {s.campaign_id for s in states.values()}
            campaigns = await self._campaign_infos(campaign_ids, refresh=True)
            users = [a.request.user_id for a in group]
            usage = await self._run(self._store.user_usage, tenant, sorted(campaign_ids), users)
            await self._cache.fill(StoreView(tenant, states, campaigns, usage), group)

    async def _find_unprotected(
        self, tenant: str, group: list[Attempt], states: dict[str, Any]
    ) -> None:
        """Codes whose lookup MySQL does not know may be rows written before codes were
        protected, not yet migrated (``keys migrate``): such a request goes on with the
        row's plaintext as its code, so every statement finds the row as it is stored."""
        unknown = [a for a in group if a.code and a.plain and a.code not in states]
        if not unknown:
            return
        legacy = await self._run(self._store.lookup_codes, tenant, [a.plain or "" for a in unknown])
        for attempt in unknown:
            if attempt.plain in legacy:
                attempt.code = attempt.plain
                states[attempt.plain] = legacy[attempt.plain]

    async def _campaign_infos(
        self, ids: set[str], *, refresh: bool = False
    ) -> dict[str, CampaignInfo]:
        ids.discard("")
        missing = ids if refresh else {i for i in ids if i not in self._campaigns}
        if missing:
            if len(self._campaigns) > CAMPAIGN_CACHE_LIMIT:
                self._campaigns.clear()
            self._campaigns.update(await self._run(self._store.campaigns, missing))
        return {i: self._campaigns[i] for i in ids if i in self._campaigns}

    def _prepare_grants(
        self, attempt: Attempt, campaigns: dict[str, CampaignInfo], now: datetime
    ) -> None:
        attempt.redemption_id = redemption_id(attempt.tenant_id, attempt.request_id)
        campaign = campaigns.get(attempt.campaign_id or "")
        attempt.grants = build_grants(attempt, campaign, now) if campaign else []

    def _grant_messages(self, pending: list[Attempt]) -> list[OutboundMessage]:
        topic = self._settings.topic(Topic.REWARD_GRANTS)
        return [
            OutboundMessage(topic, g.kafka_key().encode(), g.to_bytes())
            for a in pending
            for g in a.grants
        ]

    async def _record_grants(self, pending: list[Attempt], now: datetime) -> None:
        if pending:
            await self._store.record_grants(pending, now, self._run)



class _NothingToCommit:
    """The commit of a batch with no outcome decided now (all replayed)."""

    async def finish(self) -> list[CacheCorrection]:
        """Nothing to write, nothing to correct."""
        return []

    async def close(self) -> None:
        """Nothing to roll back."""


def _first_per_id(fresh: list[Attempt]) -> list[Attempt]:
    """Of new requests sharing an id in one batch (different fingerprints: a redelivery
    shares the attempt), the first goes on; the others are REQUEST_CONFLICT (not recorded)."""
    seen: set[tuple[str, str]] = set()
    first = []
    for attempt in fresh:
        if attempt.key in seen:
            attempt.replayed = True
            attempt.decide(RedeemOutcome.REQUEST_CONFLICT)
        else:
            seen.add(attempt.key)
            first.append(attempt)
    return first


def _locked_rows(claims: list[Attempt]) -> frozenset[Hashable]:
    """The rows a batch's commit locks: its claimed codes and its claiming users (their
    usage rows, in whichever campaign MySQL names)."""
    return frozenset(
        [*((a.tenant_id, "code", a.code) for a in claims),
         *((a.tenant_id, "user", a.request.user_id) for a in claims)]
    )


def _result_message(settings: Settings, result: RedeemResult) -> OutboundMessage:
    topic = settings.topic(Topic.REDEEM_RESULTS)
    # one result per request id: no order to keep, so a batch's results share a partition
    return OutboundMessage(
        topic, result.request_id.encode(), result.to_bytes(), ordered_by_key=False
    )
