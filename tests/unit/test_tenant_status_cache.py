"""The gateway's tenant status cache: short TTL, refusals for SUSPENDED and CLOSED only."""

from __future__ import annotations

from core.apikeys import TenantStatusCache, is_inactive
from schemas.events import TenantStatus


def test_a_status_change_is_seen_once_the_ttl_passed() -> None:
    now = [0.0]
    stored = {"T1": "ACTIVE"}
    reads: list[str] = []

    def read(tenant: str) -> str | None:
        reads.append(tenant)
        return stored.get(tenant)

    cache = TenantStatusCache(read, ttl_seconds=2.0, clock=lambda: now[0])
    assert cache.cached("T1") == (False, None)
    assert cache.status("T1") == "ACTIVE"
    stored["T1"] = "SUSPENDED"
    now[0] = 1.9
    assert cache.cached("T1") == (True, "ACTIVE") and cache.status("T1") == "ACTIVE"
    now[0] = 2.1
    assert cache.status("T1") == "SUSPENDED"
    assert reads == ["T1", "T1"]
    assert cache.status("nobody") is None


def test_only_suspended_and_closed_are_inactive() -> None:
    verdicts = {status: is_inactive(status.value) for status in TenantStatus}
    assert verdicts == {TenantStatus.ACTIVE: False, TenantStatus.SUSPENDED: True,
                        TenantStatus.CLOSED: True}
    assert not is_inactive(None)
