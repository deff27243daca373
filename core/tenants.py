"""The local tenant registry, fed by ``tenant.updated`` events (eventual consistency).

Events may arrive late, twice or out of order; ``version`` decides: an event is applied only
if it is newer than the stored state, and then the redundant tenant name/type on the
tenant's campaigns are refreshed in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from core.adapters.mysql import tenant_store
from core.adapters.mysql.engine import guarded
from core.adapters.mysql.tenant_store import TenantRecord
from core.bootstrap import Container
from core.errors import DomainRuleViolation, TimedOut
from core.topics import Topic
from schemas.events import TenantUpdated

__all__ = [
    "TenantRecord",
    "WaitedUpdate",
    "apply_tenant_update",
    "get_tenant",
    "publish_tenant_update",
    "tenant_statuses",
    "wait_until_applied",
]

#: How often ``wait_until_applied`` reads the registry row.
WAIT_POLL_SECONDS = 0.2


def apply_tenant_update(engine: Engine, event: TenantUpdated) -> bool:
    """Apply ``event`` if its version is newer than the stored one; True when applied."""

    def work() -> bool:
        with engine.begin() as conn:
            applied = tenant_store.upsert_if_newer(conn, event)
            if applied:
                tenant_store.refresh_campaign_copies(
                    conn, event.tenant_id, event.name, event.type.value
                )
            return applied

    return guarded(f"apply tenant update {event.tenant_id} v{event.version}", work)


def get_tenant(engine: Engine, tenant_id: str) -> TenantRecord | None:
    """The registry's row for a tenant, or None."""

    def work() -> TenantRecord | None:
        with engine.connect() as conn:
            return tenant_store.get_tenant(conn, tenant_id)

    return guarded(f"read tenant {tenant_id}", work)


def tenant_statuses(engine: Engine, tenant_ids: list[str]) -> dict[str, str]:
    """The registry's status of each known tenant among ``tenant_ids`` (unknown: absent)."""

    def work() -> dict[str, str]:
        with engine.connect() as conn:
            return tenant_store.statuses(conn, tenant_ids)

    return guarded("read tenant statuses", work)


def publish_tenant_update(container: Container, event: TenantUpdated, *, wait: bool) -> str:
    """Publish ``event`` on ``tenant.updated`` (keyed by tenant, so a tenant's events stay in
    order); returns the topic. With ``wait``, an event the registry would ignore (its version
    is not newer than the stored one) is refused first, since no worker would ever apply it.
    """
    if wait:
        stored = get_tenant(container.engine, event.tenant_id)
        if stored is not None and stored.version >= event.version:
            raise DomainRuleViolation(
                f"tenant {event.tenant_id} is at v{stored.version} already: v{event.version} "
                "would be ignored (versions must increase; leave --version out for now in ms)"
            )
    topic = container.settings.topic(Topic.TENANT_UPDATED)
    container.producer.produce(topic, event.tenant_id.encode(), event.to_bytes())
    container.producer.flush()
    return topic


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


def wait_until_applied(
    engine: Engine,
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
        tenant = get_tenant(engine, tenant_id)
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
