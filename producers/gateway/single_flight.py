"""One blocking load per key at a time, shared by every request that needs it meanwhile.

The gateway's caches (API keys, signing keys, tenant statuses) expire together for every
request of a tenant. Without this, each request arriving while an entry is stale started its
own store read: at 1,000 requests/s, every refresh of a tenant's status became dozens of
queries in the 8-thread executor, each beyond the pool's size opening (and closing) a fresh
MySQL connection; measured with py-spy, a quarter of the gateway's CPU under load, and a
latency spike every ``tenant_status_refresh_seconds``. Now the first caller's read is the
read of all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")


class SingleFlight:
    """Runs ``func(*args)`` in ``executor`` once per ``key`` in flight (event loop only)."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._flights: dict[Hashable, asyncio.Future[Any]] = {}

    async def run(self, key: Hashable, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)``'s result, or the result of the same key's read in flight.

        A caller that is cancelled does not cancel the read the others wait for; a failed
        read fails every caller waiting for it, and the next call reads again."""
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.get_running_loop().run_in_executor(self._executor, func, *args)
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        result: T = await asyncio.shield(flight)
        return result

    def _landed(self, key: Hashable, flight: asyncio.Future[Any]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled():
            flight.exception()  # retrieved here: no warning if every caller was cancelled
