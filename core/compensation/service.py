"""Run one compensation job: converge everything a crashed worker may have left behind.

Three passes, each idempotent and safe next to live workers (only rows older than the job's
threshold are touched):

1. **Pending redemptions** (status 1, claimed before the cutoff): when every grant of
   ``grants_json`` has a reward record, the redemption (and its code, once no other
   redemption of it is pending) is marked granted; otherwise the grants are produced again
   with their deterministic ids, then recorded with the redemption path's own SQL.
2. **Abandoned claims**: Redis request records older than the cutoff whose request has no
   outcome in MySQL are released (MySQL's view of the code and user count written back).
3. **Stuck codes**: codes in status 1 with no pending redemption but a granted one go to
   status 2. They are found through granted redemptions claimed before the cutoff: all of a
   tenant's for a job with a tenant, the last ``compensation_stuck_window_seconds`` for one
   without (the periodic sweep), so a sweep reads a bounded slice. The redemption path never
   leaves a code in status 1 without a redemption row (status 1 is written together with the
   pending redemption), so ``failed`` stays 0 here.

A finished job's report is stored under its ``job_id`` and returned again on a replay. A dry
run counts what it would do and writes nothing, not even the ledger.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from core.adapters.mysql.compensation_store import CompensationStore, PendingRedemption, Scope
from core.adapters.mysql.redemption_store import RedemptionStore
from core.compensation.claims import ClaimRecords, Release, RequestRecord
from core.executor import run_blocking
from core.metrics import observe_compensation
from core.ports import EventPublisher, OutboundMessage
from core.settings import Settings
from core.topics import Topic
from schemas.base import naive_utc, utc_now
from schemas.events import CompensationJob, CompensationReport

T = TypeVar("T")
PAGE_SIZE = 500
Progress = Callable[[str, int], None]


@dataclass
class Tally:
    """Counters of one run (the report's numbers)."""

    examined: int = 0
    marked_granted: int = 0
    regranted: int = 0
    released_in_cache: int = 0
    failed: int = 0


class Compensator:
    """Runs compensation jobs over the real stores; one instance per process is enough."""

    def __init__(
        self,
        settings: Settings,
        store: CompensationStore,
        redemptions: RedemptionStore,
        claims: ClaimRecords,
        publisher: EventPublisher,
        executor: ThreadPoolExecutor | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._store = store
        self._redemptions = redemptions
        self._claims = claims
        self._publisher = publisher
        self._executor = executor or ThreadPoolExecutor(2, thread_name_prefix="compensate")
        self._clock = clock

    async def run(
        self, job: CompensationJob, progress: Progress | None = None
    ) -> CompensationReport:
        """Run ``job`` (or return its stored report) and return what it did."""
        started = time.monotonic()
        stored = await self._run(self._store.stored_report, job.job_id)
        if stored is not None:
            return stored
        now = naive_utc(self._clock())
        cutoff = now - timedelta(seconds=job.older_than_seconds)
        window = timedelta(seconds=self._settings.compensation_stuck_window_seconds)
        scope = Scope(job.tenant_id, job.campaign_id, cutoff,
                      None if job.tenant_id else cutoff - window)
        if not job.dry_run:
            await self._run(self._store.start_job, job, now)
        tally = Tally()
        note = progress or (lambda _phase, _n: None)
        await self._pending(scope, job.dry_run, now, tally, note)
        await self._abandoned_claims(scope, job.dry_run, tally, note)
        await self._stuck_codes(scope, job.dry_run, tally, note)
        report = CompensationReport(
            job_id=job.job_id,
            dry_run=job.dry_run,
            duration_seconds=round(time.monotonic() - started, 3),
            **tally.__dict__,
        )
        if not job.dry_run:
            await self._run(self._store.finish_job, report, naive_utc(self._clock()))
            for action in ("marked_granted", "regranted", "released_in_cache", "failed"):
                observe_compensation(action, getattr(report, action))
        return report

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        return await run_blocking(self._executor, func, *args)

    async def _pending(
        self, scope: Scope, dry_run: bool, now: datetime, tally: Tally, note: Progress
    ) -> None:
        after: tuple[datetime, str] | None = None
        while page := await self._run(self._store.pending_redemptions, scope, after, PAGE_SIZE):
            after = (page[-1].claimed_at, page[-1].redemption_id)
            recorded = await self._run(
                self._store.recorded_grant_ids, [p.redemption_id for p in page]
            )
            missing = [p for p in page if any(g.grant_id not in recorded for g in p.grants)]
            if not dry_run:
                await self._publisher.publish(self._grant_messages(missing))
                await self._run(self._store.record, page, now)
            tally.examined += len(page)
            tally.regranted += len(missing)
            tally.marked_granted += len(page) - len(missing)
            note("redemptions", len(page))

    def _grant_messages(self, pending: list[PendingRedemption]) -> list[OutboundMessage]:
        topic = self._settings.topic(Topic.REWARD_GRANTS)
        return [
            OutboundMessage(topic, g.kafka_key().encode(), g.to_bytes())
            for p in pending
            for g in p.grants
        ]

    async def _abandoned_claims(
        self, scope: Scope, dry_run: bool, tally: Tally, note: Progress
    ) -> None:
        pattern = self._claims.pattern(scope.tenant_id)
        cutoff_ms = int(scope.cutoff.replace(tzinfo=UTC).timestamp() * 1000)
        cursor = 0
        while True:
            cursor, records = await self._run(self._claims.scan_page, pattern, cursor)
            old = [
                r
                for r in records
                if r.claimed_ms < cutoff_ms and scope.campaign_id in (None, r.campaign_id)
            ]
            if old:
                abandoned = await self._without_outcome(old)
                tally.examined += len(abandoned)
                if dry_run:
                    tally.released_in_cache += len(abandoned)
                elif abandoned:
                    tally.released_in_cache += await self._release(abandoned)
                note("claims", len(abandoned))
            if cursor == 0:
                return

    async def _without_outcome(self, records: list[RequestRecord]) -> list[RequestRecord]:
        """The claim records whose request has no outcome in MySQL (per tenant)."""
        abandoned: list[RequestRecord] = []
        for tenant in sorted({r.tenant_id for r in records}):
            mine = [r for r in records if r.tenant_id == tenant]
            known = await self._run(
                self._store.known_requests, tenant, [r.request_id for r in mine]
            )
            abandoned.extend(r for r in mine if r.request_id not in known)
        return abandoned

    async def _release(self, records: list[RequestRecord]) -> int:
        by_tenant: dict[str, list[RequestRecord]] = defaultdict(list)
        for record in records:
            by_tenant[record.tenant_id].append(record)
        released = 0
        for tenant, group in by_tenant.items():
            states = await self._run(
                self._redemptions.lookup_codes, tenant, [r.code for r in group]
            )
            campaigns = sorted({r.campaign_id for r in group})
            users = sorted({r.user_id for r in group})
            usage = await self._run(self._redemptions.user_usage, tenant, campaigns, users)
            releases = [
                Release(r, states.get(r.code), usage.get((r.campaign_id, r.user_id), 0))
                for r in group
            ]
            released += await self._run(self._claims.release, releases)
        return released

    async def _stuck_codes(self, scope: Scope, dry_run: bool, tally: Tally, note: Progress) -> None:
        after: tuple[str, str] | None = None
        while page := await self._run(self._store.stuck_codes, scope, after, PAGE_SIZE):
            after = (page[-1].tenant_id, page[-1].code)
            tally.examined += len(page)
            if dry_run:
                tally.marked_granted += len(page)
            else:
                tally.marked_granted += await self._run(self._store.mark_codes_granted, page)
            note("codes", len(page))

