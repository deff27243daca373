"""Batches are formed when the runner can start them, so a backlog becomes one full batch."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from consumers.batching import BatchRunner, _process_batches


class _Event:
    def __init__(self, offset: int) -> None:
        self.message = SimpleNamespace(
            topic="t", partition=0, offset=offset, key=b"k", value=b"%d" % offset
        )
        self.acked = False

    def ack(self) -> None:
        self.acked = True


class _Publisher:
    async def publish(self, messages: Any) -> None:  # nothing is dead-lettered here
        raise AssertionError(messages)


@pytest.mark.parametrize("gated", [True, False])
async def test_a_backlog_gathered_while_not_ready_becomes_one_batch(gated: bool) -> None:
    sizes: list[int] = []
    room = asyncio.Event()

    async def process(items: list[bytes]) -> None:
        sizes.append(len(items))

    async def ready() -> None:
        await room.wait()

    runner = BatchRunner(lambda b: b, process, _Publisher(), ready=ready if gated else None)
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=100)
    events = [_Event(i) for i in range(60)]
    loop = asyncio.ensure_future(_process_batches(queue, runner, 100, 0.005, 4))
    for event in events:
        await queue.put(event)
        await asyncio.sleep(0.002)  # slower than the window: ungated, they go in pieces
    room.set()
    while sum(sizes) < len(events):
        await asyncio.sleep(0.01)
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert all(e.acked for e in events)
    assert (sizes == [60]) is gated, sizes
