"""Rebuild the Redis cache from MySQL, and compare the two.

``rebuild_cache`` reloads, per tenant: campaign hashes, every code entry (used count,
status, bound user), the per-user counters (a counter of a user MySQL has no usage for is
deleted: a claim whose repair was lost, e.g. written to a Redis master that then failed),
and finally the tenant's ``ready`` marker. Codes
and counters are streamed by keyset pagination (``(tenant_id, campaign_id, id)``, the
primary key) in
chunks of ``CHUNK`` rows and written with one pipeline per chunk.

Safe while workers run: every entry is overwritten with MySQL's view. A worker that claimed
a code in Redis but has not committed yet may see its claim undone in the cache; that can
only make Redis *under*-count, and an under-counted claim is re-judged by the guarded MySQL
commit (rows locked ``FOR UPDATE``), which refuses it and repairs the entry. Redis can never
let a used code through (I1, I6). The ready marker is not set while a generation batch of
the tenant is still running (its codes may be in MySQL before they reach Redis).

Blocking: run it from the CLI or an executor. ``CacheRebuild`` is built by
``core.bootstrap`` over the ports below.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core.compensation.ports import ClaimRecordStore
from core.redemption.model import CampaignInfo, CodeState

CHUNK = 5_000
Progress = Callable[[int], None]


class RebuildSource(Protocol):
    """MySQL's view of what the cache holds (``core.adapters.mysql.rebuild_source``)."""

    def tenants_with_campaigns(self) -> list[str]:
        """Every tenant with a campaign, sorted."""
        ...

    def count_codes(self, tenants: Sequence[str]) -> int:
        """Code rows of these tenants."""
        ...

    def campaign_ids(self, tenant_id: str) -> list[str]:
        """The tenant's campaign ids."""
        ...

    def campaign_infos(self, campaign_ids: Iterable[str]) -> dict[str, CampaignInfo]:
        """Campaign facts as redemption reads them, by id."""
        ...

    def code_page(self, tenant_id: str, campaign_after: str, id_after: int,
                  limit: int) -> list[CodeState]:
        """Up to ``limit`` code states after (campaign, id), in primary-key order."""
        ...

    def usage_page(self, tenant_id: str, campaign_after: str, user_after: str,
                   limit: int) -> list[tuple[str, str, int]]:
        """Up to ``limit`` (campaign, user, used) after (campaign, user)."""
        ...

    def usage(self, tenant_id: str) -> dict[tuple[str, str], int]:
        """Every (campaign, user) -> used of the tenant."""
        ...

    def generation_running(self, tenant_id: str) -> bool:
        """Whether a generation batch of the tenant is RUNNING."""
        ...

    def unprotected_codes_remain(self, tenant_id: str) -> bool:
        """Whether rows written before codes were protected remain (``keys migrate``): their
        entries are keyed by the plaintext, so a miss of a lookup must still reach MySQL."""
        ...

    def known_requests(self, tenant_id: str, request_ids: Sequence[str]) -> set[str]:
        """The tenant's request ids that have an outcome in MySQL."""
        ...


class CacheImage(Protocol):
    """The cache's copy of MySQL (``core.adapters.redis.cache_rebuild``)."""

    def write_campaigns(self, tenant_id: str, infos: Iterable[CampaignInfo]) -> None:
        """Rewrite the campaigns' hashes."""
        ...

    def write_codes(self, tenant_id: str, states: Sequence[CodeState]) -> None:
        """Rewrite the code entries with MySQL's states (and drop negative entries)."""
        ...

    def write_user_counters(self, tenant_id: str, rows: Sequence[tuple[str, str, int]]) -> None:
        """Set (campaign, user) -> used counters."""
        ...

    def counters(self, tenant_id: str, campaign_id: str) -> dict[str, int]:
        """The campaign's cached per-user counters."""
        ...

    def drop_counters(self, tenant_id: str, campaign_id: str, users: Sequence[str]) -> int:
        """Delete these users' counters of the campaign; how many there were."""
        ...

    def set_ready(self, tenant_id: str) -> None:
        """Mark every code of the tenant as cached."""
        ...

    def code_mismatches(self, tenant_id: str, states: Sequence[CodeState]) -> list[str]:
        """A line per code whose cached entry differs from MySQL's state."""
        ...


@dataclass
class RebuildReport:
    """What a rebuild wrote."""

    tenants: list[str] = field(default_factory=list)
    campaigns: int = 0
    codes: int = 0
    user_counters: int = 0
    stale_counters_dropped: int = 0
    ready_set: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0


@dataclass(frozen=True)
class CacheRebuild:
    """Rebuilds the cache from MySQL and compares the two (built by ``core.bootstrap``)."""

    source: RebuildSource
    cache: CacheImage
    claims: ClaimRecordStore

    def tenants(self, tenant_id: str | None = None) -> list[str]:
        """The tenants a rebuild covers (one, or every tenant with a campaign)."""
        return [tenant_id] if tenant_id is not None else self.source.tenants_with_campaigns()

    def count_codes(self, tenants: list[str]) -> int:
        """How many code rows a rebuild of these tenants streams (for a progress bar)."""
        return self.source.count_codes(tenants)

    def rebuild(self, tenant_id: str | None = None,
                progress: Progress | None = None) -> RebuildReport:
        """Write MySQL's view of campaigns, codes and user counters into the cache, then
        ``ready``."""
        started = time.monotonic()
        report = RebuildReport(tenants=self.tenants(tenant_id))
        for tenant in report.tenants:
            infos = self.source.campaign_infos(self.source.campaign_ids(tenant))
            self.cache.write_campaigns(tenant, infos.values())
            report.campaigns += len(infos)
            for states in self._code_chunks(tenant):
                self.cache.write_codes(tenant, states)
                report.codes += len(states)
                if progress:
                    progress(len(states))
            known: set[tuple[str, str]] = set()
            report.user_counters += self._load_usage(tenant, known)
            report.stale_counters_dropped += self._drop_stale_counters(tenant, known)
            if not (self.source.generation_running(tenant)
                    or self.source.unprotected_codes_remain(tenant)):
                self.cache.set_ready(tenant)
                report.ready_set.append(tenant)
        report.duration_seconds = round(time.monotonic() - started, 3)
        return report

    def _code_chunks(self, tenant: str) -> Iterator[list[CodeState]]:
        campaign, after = "", 0
        while states := self.source.code_page(tenant, campaign, after, CHUNK):
            campaign, after = states[-1].campaign_id, states[-1].row_id
            yield states

    def _load_usage(self, tenant: str, known: set[tuple[str, str]]) -> int:
        """Write MySQL's per-user counts; ``known`` collects every (campaign, user) written."""
        written, last = 0, ("", "")
        while rows := self.source.usage_page(tenant, last[0], last[1], CHUNK):
            last = (rows[-1][0], rows[-1][1])
            self.cache.write_user_counters(tenant, rows)
            known.update((campaign, user) for campaign, user, _used in rows)
            written += len(rows)
        return written

    def _drop_stale_counters(self, tenant: str, known: set[tuple[str, str]]) -> int:
        """Delete per-user counters MySQL has no usage for (only ever lowers a count: safe
        while workers run, the guarded MySQL commit re-judges); how many."""
        dropped = 0
        for campaign in self.source.campaign_ids(tenant):
            stale = [u for u in self.cache.counters(tenant, campaign) if (campaign, u) not in known]
            dropped += self.cache.drop_counters(tenant, campaign, stale) if stale else 0
        return dropped

    def mismatches(self, tenant_id: str, limit: int = 100) -> list[str]:
        """Where the cache disagrees with MySQL for one tenant (entries missing from the cache
        are fine): code entries, per-user counters, and claim records whose request has no
        outcome."""
        problems: list[str] = []
        campaigns: set[str] = set()
        for states in self._code_chunks(tenant_id):
            campaigns.update(s.campaign_id for s in states)
            problems += self.cache.code_mismatches(tenant_id, states)
        truth = self.source.usage(tenant_id)
        for campaign in sorted(campaigns):
            for user, count in self.cache.counters(tenant_id, campaign).items():
                if count != truth.get((campaign, user), 0):
                    problems.append(f"user {user} in {campaign}: redis {str(count)!r}")
        cursor = 0
        while True:
            cursor, found = self.claims.scan_page(self.claims.pattern(tenant_id), cursor)
            known = self.source.known_requests(tenant_id, [r.request_id for r in found])
            problems += [f"claim without outcome: {r.request_id}" for r in found
                         if r.request_id not in known]
            if cursor == 0:
                return problems[:limit]
