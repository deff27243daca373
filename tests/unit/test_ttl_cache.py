"""The TTL cache behind API-key and signing-key lookups."""

from __future__ import annotations

from core.ttl_cache import TtlCache


def test_found_values_live_ttl_seconds_and_misses_the_shorter_time() -> None:
    now = [100.0]
    cache: TtlCache[str] = TtlCache(30.0, lambda: now[0], miss_ttl_seconds=5.0)
    assert cache.get("k") == (False, None)
    cache.put("k", "tenant")
    cache.put("gone", None)
    assert cache.get("k") == (True, "tenant")
    assert cache.get("gone") == (True, None)
    now[0] += 10
    assert cache.get("gone") == (False, None)
    assert cache.get("k") == (True, "tenant")
    now[0] += 25
    assert cache.get("k") == (False, None)


def test_a_miss_never_outlives_a_short_ttl() -> None:
    now = [0.0]
    cache: TtlCache[str] = TtlCache(1.0, lambda: now[0], miss_ttl_seconds=5.0)
    cache.put("gone", None)
    now[0] += 2
    assert cache.get("gone") == (False, None)


def test_the_oldest_entries_go_beyond_the_limit() -> None:
    cache: TtlCache[int] = TtlCache(60.0, limit=2)
    for n, key in enumerate("abc"):
        cache.put(key, n)
    cache.put("b", 1)  # refreshed: now the newest
    cache.put("d", 3)
    assert cache.get("a") == (False, None)
    assert cache.get("c") == (False, None)
    assert cache.get("b") == (True, 1)
    assert cache.get("d") == (True, 3)
