"""Which tenants may redeem: the registry's status, cached per worker for a few seconds.

A SUSPENDED or CLOSED tenant's requests are answered TENANT_INACTIVE before anything is
claimed. The registry (MySQL ``tenants``, fed by ``tenant.updated``) is read at most once
per ``tenant_status_refresh_seconds`` per tenant, for every stale tenant of a batch in one
query, so a status change reaches every running worker within that time of being applied,
without a round trip per request. A tenant the registry does not know yet may redeem (its
event may still be on its way; campaigns are only created for known, active tenants).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

INACTIVE = frozenset({"SUSPENDED", "CLOSED"})


class TenantStatuses:
    """Tenant statuses with a short time to live."""

    def __init__(
        self,
        load: Callable[[list[str]], dict[str, str]],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._clock = clock
        self._known: dict[str, tuple[float, str | None]] = {}

    def stale(self, tenant_ids: Iterable[str]) -> list[str]:
        """The tenants whose status is missing or older than the time to live."""
        now = self._clock()
        return sorted(
            t for t in set(tenant_ids)
            if (entry := self._known.get(t)) is None or now - entry[0] > self._ttl
        )

    def refresh(self, tenant_ids: list[str]) -> None:
        """Read these tenants' statuses (blocking: call from an executor)."""
        if not tenant_ids:
            return
        now = self._clock()
        found = self._load(tenant_ids)
        if len(self._known) > 100_000:
            self._known.clear()
        for tenant in tenant_ids:
            self._known[tenant] = (now, found.get(tenant))

    def inactive(self, tenant_id: str) -> bool:
        """Whether the tenant is known to be SUSPENDED or CLOSED."""
        entry = self._known.get(tenant_id)
        return entry is not None and entry[1] in INACTIVE
