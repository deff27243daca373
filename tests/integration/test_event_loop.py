"""No wait on MariaDB or Redis stalls the worker's event loop: while a batch waits on a
row lock held elsewhere, or on a paused Redis, a ticker on the same loop keeps ticking."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text

from schemas.events import RedeemOutcome as O
from schemas.events import RedeemResult
from tests.code_support import lookup
from tests.integration.redeem_support import make_service, request, seed_campaign

pytestmark = pytest.mark.integration

#: How long the batch is kept waiting, and the longest pause of the loop tolerated meanwhile
#: (the ticker sleeps 5 ms; a blocking wait would freeze it for the whole hold).
HOLD_SECONDS = 1.0
LONGEST_LOOP_PAUSE = 0.25


async def _while_ticking(
    work: Callable[[], Awaitable[RedeemResult]],
) -> tuple[RedeemResult, float, float]:
    """Run ``work`` beside a 5 ms ticker; its result, its duration and the longest gap
    between two ticks."""
    loop = asyncio.get_running_loop()
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            ticks.append(loop.time())
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(tick())
    started = loop.time()
    try:
        result = await work()
    finally:
        ticker.cancel()
    took = loop.time() - started
    return result, took, max(b - a for a, b in itertools.pairwise(ticks))


async def test_a_batch_waiting_on_a_mysql_row_lock_leaves_the_loop_free(container) -> None:
    seeded = seed_campaign(container, count=1)
    service, _ = make_service(container)
    await service.start()
    code = seeded.codes[0]
    loop = asyncio.get_running_loop()
    holder = container.engine.connect()
    holder.begin()
    holder.execute(
        text("SELECT status FROM redeem_codes WHERE tenant_id = :t AND code = :c FOR UPDATE"),
        {"t": seeded.tenant_id, "c": lookup(container, seeded.tenant_id, code)},
    )

    async def redeem_then_release() -> RedeemResult:
        batch = asyncio.create_task(service.process([request(seeded, code)]))
        await asyncio.sleep(HOLD_SECONDS)
        assert not batch.done(), "the batch waits for the row lock"
        await loop.run_in_executor(None, holder.rollback)
        [result] = await batch
        return result

    try:
        result, took, pause = await _while_ticking(redeem_then_release)
    finally:
        holder.close()
    assert result.outcome is O.REDEEMED
    assert took >= HOLD_SECONDS
    assert pause < LONGEST_LOOP_PAUSE, f"the event loop stalled for {pause * 1000:.0f} ms"


async def test_a_batch_waiting_on_a_paused_redis_leaves_the_loop_free(container) -> None:
    seeded = seed_campaign(container, count=1)
    service, _ = make_service(container)
    await service.start()
    container.redis.execute_command("CLIENT", "PAUSE", int(HOLD_SECONDS * 1000), "ALL")
    result, took, pause = await _while_ticking(
        lambda: _only(service.process([request(seeded, seeded.codes[0])]))
    )
    assert result.outcome is O.REDEEMED
    assert took >= HOLD_SECONDS * 0.8  # the pause began before the batch
    assert pause < LONGEST_LOOP_PAUSE, f"the event loop stalled for {pause * 1000:.0f} ms"


async def _only(results: Awaitable[list[RedeemResult]]) -> RedeemResult:
    [result] = await results
    return result
