"""At most one fetch request per broker every ``consumer_fetch_min_interval_ms``.

aiokafka sends the next fetch as soon as the records of the last one are taken. At a few
hundred requests per second that is a fetch every few milliseconds carrying one or two
records, and each fetch costs both sides a fixed amount whatever it carries: the consumer
decodes the response in Python (every partition's header, in the consumer's thread, which
competes for the GIL with the event loop), and the embedded broker lists each partition's
stored batches. Spacing them lets records gather on the broker between fetches.

Measured at 500 requests/s offered (``bench/redeem.py``'s latency phase, three interleaved
pairs): with 10 ms, the worker used 1,190-1,234 µs of CPU per request instead of
1,230-1,362, the broker 1,044-1,090 instead of 1,074-1,194, and the machine 1.53-1.59 busy
cores instead of 1.56-1.69, for the same latency (p50 49-53 ms against 52-74). A worker
behind on its backlog is not slowed: a fetch then returns up to a partition's fetch size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


class FetchSpacer:
    """Delays a fetch request until ``interval`` seconds after the previous one to the same
    broker node was sent (``clock`` and ``sleep`` are the event loop's, or a test's)."""

    def __init__(
        self,
        interval: float,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._last_sent: dict[Any, float] = {}

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def wrap(self, send: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """``send(assignment, node_id, request)`` (aiokafka's fetch step), spaced."""

        async def spaced(assignment: Any, node_id: Any, request: Any) -> Any:
            wait = self._last_sent.get(node_id, float("-inf")) + self._interval - self._now()
            if wait > 0:
                await self._sleep(wait)
            self._last_sent[node_id] = self._now()
            return await send(assignment, node_id, request)

        return spaced


def space_fetches(consumer: Any, interval_ms: int) -> None:
    """Make an aiokafka consumer space its fetches once it has started (its fetcher exists
    only then); 0 leaves it as it is."""
    if interval_ms <= 0:
        return
    start = consumer.start

    async def start_spaced() -> None:
        await start()
        fetcher = consumer._fetcher
        fetcher._proc_fetch_request = FetchSpacer(interval_ms / 1000).wrap(
            fetcher._proc_fetch_request
        )

    consumer.start = start_spaced
