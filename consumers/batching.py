"""Feeding a faust stream to a ``core.pipeline.BatchRunner`` without losing an event.

faust acks a ``take_events`` batch when the loop body returns or raises, so nothing may
escape the body: the runner (``core.pipeline``) dead-letters, retries and finishes a batch
interrupted by shutdown; this module reads the stream, forms the batches and acks each
event only once its batch is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import faust

from consumers.transport import RawBytesSchema
from core.pipeline import AgentSpec, BatchRunner, RawEvent


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


def subscribe(app: faust.App, spec: AgentSpec) -> Any:
    """Register the agent ``spec`` describes (see :func:`subscribe_batches`)."""
    return subscribe_batches(app, spec.topic, spec.name, spec.runner, spec.size, spec.window)


def subscribe_batches(
    app: faust.App,
    topic: str,
    name: str,
    runner: BatchRunner[Any],
    size: int,
    window: float,
    in_flight: int = 1,
) -> Any:
    """Register a concurrency-1 agent (faust #606) that feeds batches to ``runner``.

    Events are read from a no-ack stream into a queue while earlier batches are still being
    processed, and each event is acked only after its batch is done: faust commits the
    highest run of consecutive acked offsets, so a crash never commits past an unprocessed
    message. Up to ``in_flight`` batches run at once; they start in the order they were
    read, and a process that overlaps them must keep that order (see
    :mod:`core.redemption.stages`). A batch is formed only when the runner is ready for it
    (``BatchRunner(ready=...)``; the redemption service is ready when its first stage is
    free), so under load each batch takes everything that queued up meanwhile.
    """
    channel = app.topic(topic, schema=RawBytesSchema())

    @app.agent(channel, name=name, concurrency=1)
    async def agent(stream: faust.StreamT) -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=size)
        batches = asyncio.ensure_future(_process_batches(queue, runner, size, window, in_flight))
        try:
            async for event in stream.noack().events():  # type: ignore[attr-defined]
                if batches.done():
                    batches.result()  # a crash of the batch task surfaces here
                await queue.put(event)
        finally:
            batches.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await batches

    return agent


async def _process_batches(
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
            batch = await _next_batch(queue, size, window, queued_since=looking)
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


async def _next_batch(
    queue: asyncio.Queue[Any], size: int, window: float, queued_since: float | None = None
) -> list[Any]:
    """Up to ``size`` events: the first one awaited, the rest within ``window`` of it. Events
    already queued count as arrived at ``queued_since`` (when the caller began to wait for
    room): a batch that waited for room takes what gathered meanwhile without waiting more."""
    loop = asyncio.get_running_loop()
    since = queued_since if queued_since is not None and not queue.empty() else None
    batch = [await queue.get()]
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
