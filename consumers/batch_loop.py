"""Forming batches from a queue of faust events, running them, acking each event once its
batch is done (``consumers.batching`` feeds the queue from a faust stream).

Only the events' ``message`` and ``ack()`` are used, so this module needs no faust (and its
tests run without loading it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from core.pipeline import BatchRunner, RawEvent


def raw_events(events: Sequence[Any]) -> list[RawEvent]:
    """faust events -> RawEvent (the message's own bytes, untouched)."""
    return [
        RawEvent(
            e.message.topic,
            e.message.partition,
            e.message.offset,
            e.message.key,
            e.message.value or b"",
        )
        for e in events
    ]


async def process_batches(
    queue: asyncio.Queue[Any], runner: BatchRunner[Any], size: int, window: float, limit: int
) -> None:
    """Take up to ``size`` queued events (waiting at most ``window`` once one is there),
    run them, ack them once they are done; forever, with at most ``limit`` batches in
    flight. On cancellation every batch in flight is finished and acked first."""
    in_flight: set[asyncio.Task[None]] = set()
    try:
        while True:
            while len(in_flight) >= limit:
                done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    in_flight.discard(task)
                    task.result()  # a crashed batch surfaces here
            looking = asyncio.get_running_loop().time()
            await runner.ready()  # form the batch when it can start: the fullest one
            batch = await next_batch(queue, size, window, queued_since=looking)
            placed = asyncio.Event()
            in_flight.add(asyncio.ensure_future(_run_and_ack(runner, batch, placed)))
            await placed.wait()  # in line: the next readiness check counts this batch
    except asyncio.CancelledError:
        await _drain(in_flight)
        raise


async def _drain(in_flight: set[asyncio.Task[None]]) -> None:
    """Let every batch in flight finish (they shield themselves) before shutting down."""
    while in_flight:
        await asyncio.wait(set(in_flight))
        for task in [t for t in in_flight if t.done()]:
            in_flight.discard(task)
            with contextlib.suppress(asyncio.CancelledError):
                task.result()


async def next_batch(
    queue: asyncio.Queue[Any], size: int, window: float, queued_since: float | None = None
) -> list[Any]:
    """Up to ``size`` events: the first one awaited, the rest within ``window`` of it. Events
    already queued count as arrived at ``queued_since`` (when the caller began to wait for
    room): a batch that waited for room takes what gathered meanwhile without waiting more.

    A lone event (nothing else queued with it, nothing queued before) is a batch at once:
    events come a fetch at a time, so one alone means little traffic, and waiting would only
    add the window to its latency. Under load several come together and the window is spent
    gathering the next fetches: fewer, larger batches, each costing the same round trips."""
    loop = asyncio.get_running_loop()
    since = queued_since if queued_since is not None and not queue.empty() else None
    batch = [await queue.get()]
    if since is None:
        await asyncio.sleep(0)  # the agent's turn: it queues the rest of the fetch, if any
        if queue.empty():
            return batch
    deadline = (loop.time() if since is None else since) + window
    while len(batch) < size:
        if not queue.empty():
            batch.append(queue.get_nowait())
            continue
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            batch.append(await asyncio.wait_for(queue.get(), remaining))
        except TimeoutError:
            break
    return batch


async def _run_and_ack(
    runner: BatchRunner[Any], batch: list[Any], placed: asyncio.Event | None = None
) -> None:
    """Run one batch to completion and ack its events (also when cancelled meanwhile:
    ``run`` re-raises a cancellation only once the batch is handled)."""
    try:
        await runner.run(raw_events(batch), placed)
    except asyncio.CancelledError:
        _ack(batch)
        raise
    _ack(batch)


def _ack(events: list[Any]) -> None:
    for event in events:
        event.ack()
