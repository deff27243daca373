"""Ordered stages: batches overlap, yet every stage sees them in the order they started."""

from __future__ import annotations

import asyncio
import random

import pytest

from core.redemption.stages import OpenCommits, OrderedStages


async def _batch(
    stages: OrderedStages, name: int, log: list[tuple[str, int]], fail_at: str | None = None
) -> None:
    async with stages.ticket() as ticket:
        for stage in stages.names:
            await ticket.enter(stage)
            log.append((stage, name))
            await asyncio.sleep(random.uniform(0, 0.003))  # stages take uneven time
            if stage == fail_at:
                raise RuntimeError("boom")


async def test_every_stage_sees_batches_in_start_order() -> None:
    stages = OrderedStages()
    log: list[tuple[str, int]] = []
    await asyncio.gather(*(_batch(stages, n, log) for n in range(40)))
    for stage in stages.names:
        assert [n for s, n in log if s == stage] == list(range(40))
    assert stages.in_flight == 0


async def test_batches_really_overlap() -> None:
    stages = OrderedStages()
    log: list[tuple[str, int]] = []
    await asyncio.gather(*(_batch(stages, n, log) for n in range(10)))
    first_record = log.index(("record", 0))
    assert ("claim", 1) in log[:first_record], "batch 1 claimed before batch 0 finished"


async def test_a_failing_batch_does_not_block_the_ones_behind() -> None:
    stages = OrderedStages()
    log: list[tuple[str, int]] = []
    outcomes = await asyncio.wait_for(
        asyncio.gather(
            _batch(stages, 0, log),
            _batch(stages, 1, log, fail_at="commit"),
            _batch(stages, 2, log),
            return_exceptions=True,
        ),
        timeout=5,
    )
    assert isinstance(outcomes[1], RuntimeError)
    assert [n for s, n in log if s == "record"] == [0, 2]
    assert stages.in_flight == 0


async def test_at_most_one_batch_per_stage() -> None:
    stages = OrderedStages()
    inside: dict[str, int] = dict.fromkeys(stages.names, 0)
    peak: dict[str, int] = dict.fromkeys(stages.names, 0)

    async def batch() -> None:
        async with stages.ticket() as ticket:
            for stage in stages.names:
                await ticket.enter(stage)
                inside[stage] += 1
                peak[stage] = max(peak[stage], inside[stage])
                await asyncio.sleep(0.002)
                inside[stage] -= 1

    await asyncio.gather(*(batch() for _ in range(12)))
    assert max(peak.values()) == 1
    assert min(peak.values()) == 1


async def test_stages_cannot_go_backwards() -> None:
    stages = OrderedStages()
    async with stages.ticket() as ticket:
        await ticket.enter("commit")
        with pytest.raises(ValueError):
            await ticket.enter("claim")


async def test_wait_free_returns_once_every_started_batch_left_the_stage() -> None:
    stages = OrderedStages()
    await asyncio.wait_for(stages.wait_free("claim"), 1)  # nothing started: free at once
    release = asyncio.Event()

    async def holds_claim() -> None:
        async with stages.ticket() as ticket:
            await ticket.enter("claim")
            await release.wait()

    batch = asyncio.ensure_future(holds_claim())
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(stages.wait_free("claim"))
    await asyncio.sleep(0.01)
    assert not waiting.done(), "a batch is still claiming"
    release.set()
    await asyncio.wait_for(waiting, 1)
    await batch


async def test_open_commits_on_different_rows_overlap() -> None:
    commits = OpenCommits()
    async with commits.holding(frozenset({"a", "b"})):
        async with asyncio.timeout(1):
            async with commits.holding(frozenset({"c"})):
                assert commits.open == 2
    assert commits.open == 0


async def test_an_open_commit_sharing_a_row_waits_until_the_first_ends() -> None:
    commits = OpenCommits()
    log: list[str] = []

    async def first() -> None:
        with pytest.raises(RuntimeError):
            async with commits.holding(frozenset({"a", "b"})):
                log.append("first open")
                await asyncio.sleep(0.02)
                log.append("first ends")
                raise RuntimeError("rolled back")  # a failed commit releases its rows too

    async def second() -> None:
        await asyncio.sleep(0)  # the first takes its rows first
        async with commits.holding(frozenset({"b", "c"})):
            log.append("second open")

    await asyncio.wait_for(asyncio.gather(first(), second()), 5)
    assert log == ["first open", "first ends", "second open"]
    assert commits.open == 0
