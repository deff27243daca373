"""How every agent handles a batch of events without ever losing one (no faust here).

Malformed messages go to ``<topic>.dlq`` with the reason in headers (and one log line each;
a half-valid one the agent can still answer, ``salvage``, is also processed, so its sender
gets an answer naming the bad field), transient failures are retried with back-off until
they pass (processing pauses instead of dropping), and a batch interrupted by shutdown is
finished before the cancellation goes on. A batch failing with an unexpected error is
split, and only the message that fails alone goes to the dead-letter topic, with the error.
``consumers.batching`` feeds a faust stream to a ``BatchRunner``; an ``AgentSpec`` says
which topic feeds which runner, so agents outside ``consumers/`` need no faust plumbing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


@dataclass(frozen=True)
class AgentSpec:
    """An agent to subscribe: ``topic`` (full name) feeds ``runner`` in batches of up to
    ``size`` events gathered within ``window`` seconds."""

    topic: str
    name: str
    runner: BatchRunner[Any]
    size: int
    window: float
