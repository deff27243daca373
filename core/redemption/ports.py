"""What :class:`core.redemption.service.RedemptionService` needs from the outside.

The MySQL and Redis adapters (``core.adapters.mysql.redemption_store.RedemptionStore``,
``core.adapters.redis.claims.ClaimCache``) implement these protocols, and so do the
in-memory fakes of the unit tests (``tests/fakes.py``); one contract test per port runs
against both. The publisher port is :class:`core.ports.EventPublisher`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.redemption.model import Attempt, CampaignInfo, ClaimReply, CodeState, KnownOutcome
from core.redemption.verdict import CacheCorrection, CommitPlan, LockedRows
from schemas.code_rule import CodeGenerateRule

#: Runs a blocking call off the event loop: ``await run(func, *args)``.
Runner = Callable[..., Awaitable[Any]]

#: The domain's judgement of a commit: the claims by tenant and the rows locked for them
#: in, the plan of writes out (:func:`core.redemption.verdict.decide_commit`).
Decide = Callable[[dict[str, list[Attempt]], dict[str, LockedRows]], CommitPlan]


@dataclass(frozen=True)
class CommitBatch:
    """What a batch's commit records: the ``claims`` to judge on their locked rows with
    ``decide``, the requests already ``decided`` (recorded as they are), at ``now`` (naive
    UTC)."""

    claims: list[Attempt]
    decided: list[Attempt]
    now: datetime
    decide: Decide


@dataclass(frozen=True)
class StoreView:
    """The store's view of one tenant's codes the claim cache missed, as the cache loads it:
    their states (unknown codes absent), their campaigns and the users' usage
    ((campaign_id, user_id) -> used)."""

    tenant_id: str
    states: dict[str, CodeState]
    campaigns: dict[str, CampaignInfo]
    usage: dict[tuple[str, str], int]


class Clock(Protocol):
    """The time a batch is processed at (aware UTC)."""

    def __call__(self) -> datetime: ...


class OpenCommit(Protocol):
    """A batch's commit between its locked reads and its writes."""

    async def finish(self) -> list[CacheCorrection]:
        """Write and commit; the claim cache's corrections for the claims refused. Raises
        ConcurrentUpdate when another worker recorded one of the requests meanwhile."""
        ...

    async def close(self) -> None:
        """Roll back if not finished (idempotent)."""
        ...


class RedemptionStore(Protocol):
    """The source of truth: recorded outcomes, codes, campaigns, usage and the commit.

    The plain methods block (the service calls them through its executor); the
    coroutines take the service's runner for their own blocking steps."""

    def open(self) -> None:
        """Prepare for commits (blocking, once)."""
        ...

    def known_outcomes(self, tenant_id: str, request_ids: Sequence[str]) -> dict[str, KnownOutcome]:
        """Outcomes already recorded for these requests of one tenant, by request id."""
        ...

    def campaigns(self, campaign_ids: Iterable[str]) -> dict[str, CampaignInfo]:
        """Campaign facts by id (unknown ids are absent)."""
        ...

    def tenant_statuses(self, tenant_ids: Sequence[str]) -> dict[str, str]:
        """The registry's status of each known tenant among ``tenant_ids``."""
        ...

    def tenant_code_rules(self, tenant_id: str) -> list[CodeGenerateRule]:
        """The distinct code rules of a tenant's codes (offline format checks)."""
        ...

    def lookup_codes(self, tenant_id: str, codes: Sequence[str]) -> dict[str, CodeState]:
        """Current state of some codes of one tenant (unknown codes are absent)."""
        ...

    def user_usage(
        self, tenant_id: str, campaign_ids: Sequence[str], users: Sequence[str]
    ) -> dict[tuple[str, str], int]:
        """Per-user redemption counts: (campaign_id, user_id) -> used."""
        ...

    async def begin_commit(self, batch: CommitBatch, run: Runner) -> OpenCommit:
        """Lock the claims' rows, call ``batch.decide`` with them, prepare the plan's writes
        and the outcomes of the claims and of the requests already decided."""
        ...

    async def record_grants(self, attempts: Sequence[Attempt], now: datetime, run: Runner) -> None:
        """After the grants are on the broker: the redemptions and their codes granted."""
        ...


class ClaimCache(Protocol):
    """The fast path: an atomic check-and-claim per request, filled from the store on a
    miss and corrected when the store refuses a claim."""

    async def start(self) -> None:
        """Prepare (once per process)."""
        ...

    async def claim(self, attempts: Sequence[Attempt], now_ms: int) -> list[ClaimReply]:
        """Check and claim each attempt, in order; one reply per attempt."""
        ...

    async def fill(self, view: StoreView, wanted: Sequence[Attempt]) -> None:
        """Load the store's view of missed codes (never over fresher entries); codes the
        store lacks are remembered as unknown for a while."""
        ...

    async def repair(self, corrections: Sequence[CacheCorrection]) -> None:
        """Apply the store's corrections after a commit."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
