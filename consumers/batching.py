"""Feeding a faust stream to a ``core.pipeline.BatchRunner`` without losing an event.

faust acks a ``take_events`` batch when the loop body returns or raises, so nothing may
escape the body: the runner (``core.pipeline``) dead-letters, retries and finishes a batch
interrupted by shutdown; this module reads the stream into a queue, and
``consumers.batch_loop`` (no faust in it) forms the batches and acks each event only once
its batch is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import faust

from consumers.batch_loop import process_batches
from consumers.transport import RawBytesSchema
from core.pipeline import AgentSpec, BatchRunner


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
        batches = asyncio.ensure_future(process_batches(queue, runner, size, window, in_flight))
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
