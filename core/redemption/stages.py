"""Ordered stages: several redemption batches in flight, each stage seeing them in order.

A batch passes the stages of the redemption pipeline one after the other::

    0 claim (Redis) -> 1 lock (MySQL: rows locked, judged) -> 2 commit (MySQL: writes)
    -> 3 grants + answers handed to the producer -> 4 acks (the broker has them)
    -> 5 record (MySQL)

While batch *k* writes in MySQL, batch *k+1* can already lock and judge its rows, batch
*k+2* claim in Redis and batch *k-1* record its grants, so the worker, MariaDB, Redis and
the broker work at the same time instead of waiting for each other. Two batches' commit
transactions are then open at once; :class:`OpenCommits` lets the second lock its rows
only if it shares none with the first (else it waits for the first to end), so each
judges rows that no other open transaction will change.

The order is kept per stage: batch *k+1* enters a stage only after batch *k* has left it
(a ticket per batch, taken in the order batches start), so two requests for the same code
are claimed, committed and answered in the order they were read, as with one batch at a
time. A batch that fails leaves its remaining stages in turn, so it never blocks the
batches behind it; a retried batch takes a new ticket at the back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Hashable

from core.metrics import observe_stage

STAGE_NAMES = ("claim", "lock", "commit", "grants", "acks", "record")


class OrderedStages:
    """Tickets and per-stage turns for the batches of one worker."""

    def __init__(self, names: tuple[str, ...] = STAGE_NAMES) -> None:
        self.names = names
        self._issued = 0
        self._passed = [0] * len(names)
        self._changed: asyncio.Condition | None = None

    def ticket(self) -> StageTicket:
        """A new batch's place in line, taken synchronously: batches are ordered by the
        moment they call this, so a caller takes it before its first ``await``."""
        number = self._issued
        self._issued += 1
        return StageTicket(self, number)

    async def wait_free(self, name: str) -> None:
        """Wait until every batch started so far has left stage ``name``: a batch started
        now would enter it at once (so it should be formed now, not earlier)."""
        stage = self.names.index(name)
        await self._wait(lambda: self._passed[stage] == self._issued)

    @property
    def in_flight(self) -> int:
        """Batches started and not finished."""
        return self._issued - self._passed[-1]

    async def _wait(self, predicate: Callable[[], bool]) -> None:
        if predicate():
            return
        changed = self._condition()
        async with changed:
            await changed.wait_for(predicate)

    async def _turn(self, stage: int, number: int) -> None:
        await self._wait(lambda: self._passed[stage] == number)

    async def _leave(self, stage: int) -> None:
        self._passed[stage] += 1
        changed = self._condition()
        async with changed:
            changed.notify_all()

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed


class StageTicket:
    """One batch's way through the stages; use as ``async with stages.ticket() as t``."""

    def __init__(self, stages: OrderedStages, number: int) -> None:
        self._stages = stages
        self._number = number
        self._current = -1
        self._timed_since: float | None = None
        self.seconds: dict[str, float] = {}
        """Time spent working in each stage entered (waiting for turns excluded)."""

    async def enter(self, name: str) -> None:
        """Leave the stages before ``name`` (in turn) and wait for this batch's turn at it."""
        target = self._stages.names.index(name)
        if target <= self._current:
            raise ValueError(f"stage {name!r} is behind stage {self._current}")
        self._stop_clock()
        await self._advance_to(target)
        self._timed_since = time.perf_counter()

    async def _advance_to(self, target: int) -> None:
        """Hand over hand: hold the current stage until the next one is ours, so at most
        one batch is in each stage and one waits behind it, never a growing pile."""
        while self._current < target:
            following = self._current + 1
            await self._stages._turn(following, self._number)
            if self._current >= 0:
                await self._stages._leave(self._current)
            self._current = following

    async def finish(self) -> None:
        """Leave every remaining stage in turn (also after a failure)."""
        self._stop_clock()
        await self._advance_to(len(self._stages.names) - 1)
        await self._stages._leave(self._current)
        self._current = len(self._stages.names)

    def _stop_clock(self) -> None:
        """The stage entered last has done its work: record how long it took."""
        if self._timed_since is None:
            return
        name = self._stages.names[self._current]
        self.seconds[name] = time.perf_counter() - self._timed_since
        self._timed_since = None
        observe_stage(name, self.seconds[name])

    async def __aenter__(self) -> StageTicket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.finish()


class OpenCommits:
    """The rows each open commit transaction locks, so that transactions overlap only when
    they share none.

    A batch locking rows that the transaction ahead of it has locked would wait in MySQL
    until that one commits, holding an executor thread; and a user's first usage row,
    absent when both read it, would be inserted by both, the second failing the whole batch
    (``ConcurrentUpdate``, a retry). Waiting here instead costs neither.
    """

    def __init__(self) -> None:
        self._open: dict[int, tuple[frozenset[Hashable], asyncio.Event]] = {}
        self._issued = 0

    @contextlib.asynccontextmanager
    async def holding(self, rows: frozenset[Hashable]) -> AsyncIterator[None]:
        """Wait until no open transaction holds any of ``rows``, then hold them until the
        block ends (the transaction is over: committed or rolled back)."""
        while clashes := [done for held, done in self._open.values() if not held.isdisjoint(rows)]:
            for done in clashes:
                await done.wait()
        token = self._issued
        self._issued += 1
        self._open[token] = (rows, asyncio.Event())
        try:
            yield
        finally:
            self._open.pop(token)[1].set()

    @property
    def open(self) -> int:
        """Transactions holding rows now."""
        return len(self._open)
