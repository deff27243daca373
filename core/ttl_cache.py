"""A small in-process cache of store lookups that expire (API keys, signing keys).

A found value is kept ``ttl_seconds``; a miss (None) at most ``miss_ttl_seconds``, so a key
created a moment ago is found soon. A revoked key stops working within ``ttl_seconds``. The
oldest entries go first beyond ``limit``. Thread-safe: the gateway fills it from executor
threads and reads it on the event loop.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")

MISS_TTL_SECONDS = 5.0
CACHE_LIMIT = 10_000


class TtlCache(Generic[V]):
    """``key -> value or None`` with an expiry per entry and a bounded size."""

    def __init__(
        self,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        miss_ttl_seconds: float = MISS_TTL_SECONDS,
        limit: int = CACHE_LIMIT,
    ) -> None:
        self._ttl = ttl_seconds
        self._miss_ttl = min(ttl_seconds, miss_ttl_seconds)
        self._clock = clock
        self._limit = limit
        self._entries: OrderedDict[str, tuple[float, V | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, V | None]:
        """``(hit, value)``: hit False when ``key`` was never stored or has expired."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] < self._clock():
            return False, None
        return True, entry[1]

    def put(self, key: str, value: V | None) -> None:
        """Keep ``value`` (None: a miss, kept for the shorter time)."""
        expires = self._clock() + (self._ttl if value is not None else self._miss_ttl)
        with self._lock:
            self._entries[key] = (expires, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)
