"""Helpers every agent shares: run blocking work off the loop, retry, decode or dead-letter.

faust acks a message once the agent's loop moves on, whatever happened, so nothing may
escape an agent body. ``handle_message`` is the whole per-message policy:

* bytes that are not a valid contract message go to ``<topic>.dlq`` unchanged, with the
  reason in the ``error`` / ``error_field`` headers, and the worker goes on;
* ``RetryableError`` (MySQL, Redis or the broker unavailable) is retried with exponential
  back-off until it passes: processing pauses, nothing is dropped;
* any other failure is permanent for this message: it goes to the DLQ with the error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol, TypeVar

from core.errors import RetryableError
from schemas.base import ContractModel, MessageDecodeError

T = TypeVar("T")
M = TypeVar("M", bound=ContractModel)
log = logging.getLogger("redeemflow.consumers")

BACKOFF_START_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0
MAX_HEADER_CHARS = 1000


class Producer(Protocol):
    """The part of ``EventProducer`` the helpers use."""

    async def produce_and_wait(
        self, topic: str, key: bytes | str | None, value: bytes, headers: Any = None
    ) -> Any: ...


async def run_blocking(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking (MySQL/Redis) work in the default executor, off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, partial(func, *args, **kwargs))


async def retry_transient(
    work: Callable[[], Awaitable[T]],
    *,
    what: str,
    start: float = BACKOFF_START_SECONDS,
    cap: float = BACKOFF_MAX_SECONDS,
) -> T:
    """Await ``work()`` until it does not raise RetryableError, backing off up to ``cap``."""
    delay = start
    attempt = 0
    while True:
        try:
            return await work()
        except RetryableError as exc:
            attempt += 1
            log.warning("%s failed (attempt %d), retrying in %.1fs: %s", what, attempt, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, cap)


async def dead_letter(
    producer: Producer,
    dlq_topic: str,
    key: bytes | None,
    value: bytes,
    error: str,
    field: str | None = None,
) -> None:
    """Send the original bytes to the dead-letter topic with the reason in headers."""
    headers = [("error", error[:MAX_HEADER_CHARS].encode()),
               ("error_field", (field or "").encode())]
    await retry_transient(
        lambda: producer.produce_and_wait(dlq_topic, key, value, headers),
        what=f"dead-letter to {dlq_topic}",
    )


async def handle_message(
    key: bytes | None,
    value: bytes,
    *,
    model: type[M],
    dlq_topic: str,
    producer: Producer,
    handle: Callable[[M], Awaitable[None]],
) -> bool:
    """Decode ``value`` as ``model`` and ``handle`` it (see module notes); True if handled."""
    try:
        message = model.from_bytes(value)
    except MessageDecodeError as exc:
        log.warning("malformed %s to %s: %s", model.__name__, dlq_topic, exc)
        await dead_letter(producer, dlq_topic, key, value, str(exc), exc.field)
        return False
    try:
        await handle(message)
        return True
    except Exception as exc:  # a failing message must not stop the worker
        log.exception("%s failed permanently; to %s", model.__name__, dlq_topic)
        await dead_letter(producer, dlq_topic, key, value, f"{type(exc).__name__}: {exc}")
        return False
