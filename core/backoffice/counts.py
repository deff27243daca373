"""A short-lived cache of the code counts the dashboard and campaign pages show.

Counting a campaign's codes by fate reads every row of the campaign (the primary-key range
``(tenant_id, campaign_id)``): a second or more for a million codes on a busy machine. The
counts are kept ``admin_counts_cache_seconds`` per scope (0 turns the cache off) and dropped
at once after the back office's own writes (generation, export, void), so an operator sees
its own changes; redemptions by users show up within the period. Pages say when the
figures were counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from core.backoffice.audit import utc_now

T = TypeVar("T")


class CountsCache:
    """Values per key for ``ttl`` seconds; one computation at a time per key."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._entries: dict[tuple[str | None, str | None], tuple[float, object, datetime]] = {}
        self._lock = threading.Lock()
        self._computing: dict[tuple[str | None, str | None], threading.Lock] = {}

    def get(self, key: tuple[str | None, str | None],
            compute: Callable[[], T]) -> tuple[T, datetime]:
        """The cached value of ``key`` and when it was computed, computing it when stale."""
        if self._ttl <= 0:
            return compute(), utc_now()
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > time.monotonic():
                return entry[1], entry[2]  # type: ignore[return-value]
            value, at = compute(), utc_now()
            with self._lock:
                self._entries[key] = (time.monotonic() + self._ttl, value, at)
            return value, at

    def forget(self) -> None:
        """Drop everything (after a write of the back office)."""
        with self._lock:
            self._entries.clear()
