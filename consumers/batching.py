"""How every agent handles a batch of Kafka events without ever losing one.

faust acks a ``take_events`` batch when the loop body returns or raises, so nothing may
escape the body: malformed messages go to ``<topic>.dlq`` with the reason in headers (and
one log line each; a half-valid one the agent can still answer, ``salvage``, is also
processed, so its sender gets an answer naming the bad field),
transient failures are retried with back-off until they pass (processing pauses instead of
dropping), and a batch interrupted by shutdown is finished before the cancellation goes on.
A batch failing with an unexpected error is split, and only the message that fails alone
goes to the dead-letter topic, with the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import faust

from consumers.transport import RawBytesSchema
from core.errors import PermanentError, RetryableError
from core.masking import mask_redeem_request
from core.metrics import observe_dead_letters
from core.ports import EventPublisher, OutboundMessage
from core.topics import Topic
from schemas.base import MessageDecodeError

M = TypeVar("M")
T = TypeVar("T")
log = logging.getLogger("redeemflow.consumers")

BACKOFF_START_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0


@dataclass(frozen=True)
class RawEvent:
    """The parts of a consumed Kafka record an agent needs (and a DLQ entry keeps)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


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


def _redacted(event: RawEvent, error: BaseException) -> tuple[bytes, bytes, str]:
    """Key, bytes and error text of an event, a redeem request's code masked (the code of a
    malformed request may be valid and unused: it must not reach a DLQ or a log)."""
    if event.topic.endswith(Topic.REDEEM_REQUESTS.value):
        return mask_redeem_request(event.key or b"", event.value, str(error))
    return event.key or b"", event.value, str(error)


def dead_letter(event: RawEvent, error: BaseException, field: str | None = None) -> OutboundMessage:
    """The DLQ copy of an event: original key and bytes (a redeem request's code masked),
    the reason in headers."""
    key, value, reason = _redacted(event, error)
    headers = [
        ("error", reason[:1000].encode()),
        ("error_type", type(error).__name__.encode()),
        ("source_topic", event.topic.encode()),
        ("source_partition", str(event.partition).encode()),
        ("source_offset", str(event.offset).encode()),
    ]
    if field:
        headers.append(("error_field", field.encode()))
    return OutboundMessage(f"{event.topic}.dlq", key, value, headers)


def log_dead_letter(
    event: RawEvent,
    error: BaseException,
    field: str | None,
    *,
    exc_info: BaseException | None = None,
) -> None:
    """One log record per dead letter: where it came from, why, and which field."""
    log.error(
        "dead-lettered topic=%s partition=%d offset=%d field=%s error=%s",
        event.topic,
        event.partition,
        event.offset,
        field or "-",
        _redacted(event, error)[2][:1000],
        exc_info=exc_info,
    )


class BatchRunner(Generic[M]):
    """Decode, process with retries, dead-letter what cannot be processed."""

    def __init__(
        self,
        decode: Callable[[bytes], M],
        process: Callable[[list[M]], Awaitable[object]],
        publisher: EventPublisher,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        ready: Callable[[], Awaitable[None]] | None = None,
        salvage: Callable[[bytes, MessageDecodeError], M | None] | None = None,
    ) -> None:
        self._decode = decode
        self._salvage = salvage
        self._process = process
        self._publisher = publisher
        self._sleep = sleep
        self._ready = ready
        self.dead_lettered = 0

    async def ready(self) -> None:
        """Wait until ``process`` could take a new batch straight away (when it says so)."""
        if self._ready is not None:
            await self._ready()

    async def run(self, events: Sequence[RawEvent], placed: asyncio.Event | None = None) -> None:
        """Handle one batch completely, even if the calling task is cancelled meanwhile
        (once or repeatedly): the cancellation is re-raised after the batch is done.
        ``placed`` is set once the batch has taken its place in ``process``'s line (or is
        done without it)."""
        task = asyncio.ensure_future(self._handle(list(events), placed))
        cancelled = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not cancelled:
                    log.info("shutdown requested: finishing the batch in hand (%d)", len(events))
                cancelled = True
        task.result()
        if cancelled:
            raise asyncio.CancelledError

    async def _handle(self, events: list[RawEvent], placed: asyncio.Event | None) -> None:
        started = time.perf_counter()
        try:
            await self._decode_and_process(events, placed)
        finally:
            if placed is not None:
                placed.set()
            log.debug(
                "batch of %d handled in %.1f ms",
                len(events),
                (time.perf_counter() - started) * 1000,
            )

    async def _decode_and_process(
        self, events: list[RawEvent], placed: asyncio.Event | None = None
    ) -> None:
        good: list[tuple[RawEvent, M]] = []
        dead: list[OutboundMessage] = []
        for event in events:
            try:
                good.append((event, self._decode(event.value)))
            except MessageDecodeError as exc:
                dead.append(dead_letter(event, exc, exc.field))
                log_dead_letter(event, exc, exc.field)
                answerable = self._salvage(event.value, exc) if self._salvage else None
                if answerable is not None:  # dead-lettered AND answered (in batch order)
                    good.append((event, answerable))
        if placed is not None:
            placed.set()  # process, called next without an await between, takes its place
        if good:  # first: an overlapping process takes its place in line before any await
            await self._process_or_split(good)
        if dead:
            await self._retrying(lambda: self._publisher.publish(dead))
            self.dead_lettered += len(dead)
            observe_dead_letters(len(dead), "invalid_message")

    async def _process_or_split(self, items: list[tuple[RawEvent, M]]) -> None:
        try:
            await self._retrying(lambda: self._process([m for _, m in items]))
        except PermanentError as exc:
            await self._split(items, exc)
        except Exception as exc:  # noqa: BLE001 - a bug must not lose the batch: isolate it
            await self._split(items, exc)

    async def _split(self, items: list[tuple[RawEvent, M]], error: BaseException) -> None:
        if len(items) == 1:
            event = items[0][0]
            log_dead_letter(event, error, None, exc_info=error)
            await self._retrying(lambda: self._publisher.publish([dead_letter(event, error)]))
            self.dead_lettered += 1
            observe_dead_letters(1, "processing_error")
            return
        middle = len(items) // 2
        await self._process_or_split(items[:middle])
        await self._process_or_split(items[middle:])

    async def _retrying(self, attempt: Callable[[], Awaitable[object]]) -> None:
        await retry_transient(attempt, what="batch", sleep=self._sleep)


async def retry_transient(
    attempt: Callable[[], Awaitable[T]],
    *,
    what: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Await ``attempt()`` until it does not raise RetryableError, backing off to 5 s."""
    delay = BACKOFF_START_SECONDS
    while True:
        try:
            return await attempt()
        except RetryableError as exc:
            log.warning("%s: transient failure, retrying in %.1fs: %s", what, delay, exc)
            await sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)


async def run_blocking(func: Callable[..., T], *args: Any) -> T:
    """Run blocking (MySQL, sync Redis) work in the default executor, off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, partial(func, *args))


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
