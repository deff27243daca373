"""The local tenant registry, fed by ``tenant.updated`` events (eventual consistency).

Events may arrive late, twice or out of order; ``version`` decides: an event is applied only
if it is newer than the stored state, and then the redundant tenant name/type on the
tenant's campaigns are refreshed in the same transaction. ``TenantRegistry`` is built by
``core.bootstrap`` over the storage and event-sink ports.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import DomainRuleViolation, TimedOut
from core.records import TenantRecord
from core.service_ports import EventSink, Storage
from schemas.events import TenantUpdated

__all__ = ["TenantRecord", "TenantRegistry", "WaitedUpdate"]

#: How often ``wait_until_applied`` reads the registry row.
WAIT_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class WaitedUpdate:
    """The registry row once a worker applied the awaited version (or a newer one)."""

    tenant: TenantRecord
    awaited: int
    seconds: float

    @property
    def superseded(self) -> bool:
        """A newer version is stored: ours was applied before it (same partition, in order)."""
        return self.tenant.version > self.awaited



class TenantRegistry:
    """The tenant registry: apply and read ``tenant.updated`` states, publish new ones."""

    def __init__(self, store: Storage, sink: EventSink, topic: str) -> None:
        self._store, self._sink, self._topic = store, sink, topic

    def apply_update(self, event: TenantUpdated) -> bool:
        """Apply ``event`` if its version is newer than the stored one; True when applied."""
        with self._store.begin(f"apply tenant update {event.tenant_id} v{event.version}") as tx:
            applied = tx.upsert_tenant_if_newer(event)
            if applied:
                tx.refresh_campaign_copies(event.tenant_id, event.name, event.type.value)
            return applied

    def get(self, tenant_id: str) -> TenantRecord | None:
        """The registry's row for a tenant, or None."""
        with self._store.read(f"read tenant {tenant_id}") as tx:
            return tx.get_tenant(tenant_id)

    def statuses(self, tenant_ids: list[str]) -> dict[str, str]:
        """The registry's status of each known tenant among ``tenant_ids`` (unknown:
        absent)."""
        with self._store.read("read tenant statuses") as tx:
            return tx.tenant_statuses(tenant_ids)

    def publish_update(self, event: TenantUpdated, *, wait: bool) -> str:
        """Publish ``event`` on ``tenant.updated`` (keyed by tenant, so a tenant's events stay
        in order); returns the topic. With ``wait``, an event the registry would ignore (its
        version is not newer than the stored one) is refused first, since no worker would
        ever apply it.
        """
        if wait:
            stored = self.get(event.tenant_id)
            if stored is not None and stored.version >= event.version:
                raise DomainRuleViolation(
                    f"tenant {event.tenant_id} is at v{stored.version} already: "
                    f"v{event.version} would be ignored (versions must increase; leave "
                    "--version out for now in ms)"
                )
        self._sink.send(self._topic, event.tenant_id.encode(), event.to_bytes())
        return self._topic

    def wait_until_applied(
        self,
        tenant_id: str,
        version: int,
        timeout: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> WaitedUpdate:
        """Read the tenant's registry row until its version reaches ``version``: a worker's tenant
        agent applied the event (or a newer one, which it can only have applied after ours).
        TimedOut after ``timeout`` seconds, saying what the registry holds."""
        started = clock()
        while True:
            tenant = self.get(tenant_id)
            if tenant is not None and tenant.version >= version:
                return WaitedUpdate(tenant, version, clock() - started)
            if clock() - started >= timeout:
                held = "no row" if tenant is None else f"v{tenant.version}"
                raise TimedOut(
                    f"tenant {tenant_id} v{version} was published, but no worker applied it within "
                    f"{timeout:g}s (the registry still holds {held}): is a `redeemflow worker` "
                    "running and consuming tenant.updated?"
                )
            sleep(WAIT_POLL_SECONDS)
