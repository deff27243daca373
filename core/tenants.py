"""The local tenant registry, fed by ``tenant.updated`` events (eventual consistency).

Events may arrive late, twice or out of order; ``version`` decides: an event is applied only
if it is newer than the stored state, and then the redundant tenant name/type on the
tenant's campaigns are refreshed in the same transaction.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from core.adapters.mysql import tenant_store
from core.adapters.mysql.engine import guarded
from core.adapters.mysql.tenant_store import TenantRecord
from schemas.events import TenantUpdated

__all__ = ["TenantRecord", "apply_tenant_update", "get_tenant", "tenant_statuses"]


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
    found = {t: get_tenant(engine, t) for t in tenant_ids}
    return {t: record.status for t, record in found.items() if record is not None}
