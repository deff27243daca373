"""SQL for the tenant registry: version-guarded upserts, row locks and quota accounting.

Functions take an open ``Connection`` so callers decide the transaction; errors are
translated by the caller's ``guarded`` block.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from core.records import TenantRecord
from schemas.base import naive_utc
from schemas.events import TenantUpdated

_COLUMNS = "tenant_id, name, type, status, code_quota, codes_issued, version, updated_at"


def _record(row: Any) -> TenantRecord:
    t = tuple(row)
    return TenantRecord(t[0], t[1], t[2], t[3], int(t[4]), int(t[5]), int(t[6]), t[7])


def get_tenant(conn: Connection, tenant_id: str, *, lock: bool = False) -> TenantRecord | None:
    """The tenant's row (``lock``: SELECT ... FOR UPDATE, held until the transaction ends)."""
    sql = f"SELECT {_COLUMNS} FROM tenants WHERE tenant_id = :t" + (" FOR UPDATE" if lock else "")
    row = conn.execute(text(sql), {"t": tenant_id}).first()
    return _record(row) if row is not None else None


_STATUSES = text("SELECT tenant_id, status FROM tenants WHERE tenant_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


def statuses(conn: Connection, tenant_ids: list[str]) -> dict[str, str]:
    """The status of each known tenant among ``tenant_ids``, in one query (unknown: absent)."""
    if not tenant_ids:
        return {}
    return {row[0]: row[1] for row in conn.execute(_STATUSES, {"ids": tenant_ids})}


def upsert_if_newer(conn: Connection, event: TenantUpdated) -> bool:
    """Store the event's state unless a same-or-newer version is stored; True if applied.

    INSERT IGNORE creates an unknown tenant; otherwise one guarded UPDATE (``version < :v``)
    applies the event. Both are single atomic statements, so concurrent deliveries of
    different versions end with the highest one whatever their order.
    """
    params = {
        "t": event.tenant_id,
        "n": event.name,
        "ty": event.type.value,
        "s": event.status.value,
        "q": event.code_quota,
        "v": event.version,
        "u": naive_utc(event.updated_at),
    }
    inserted = conn.execute(
        text(
            "INSERT IGNORE INTO tenants (tenant_id, name, type, status, code_quota, version,"
            " updated_at) VALUES (:t, :n, :ty, :s, :q, :v, :u)"
        ),
        params,
    ).rowcount
    if inserted:
        return True
    updated = conn.execute(
        text(
            "UPDATE tenants SET name = :n, type = :ty, status = :s, code_quota = :q,"
            " version = :v, updated_at = :u WHERE tenant_id = :t AND version < :v"
        ),
        params,
    ).rowcount
    return bool(updated)


def refresh_campaign_copies(conn: Connection, tenant_id: str, name: str, type_: str) -> int:
    """Update the redundant tenant name/type on the tenant's campaigns; rows touched."""
    return int(
        conn.execute(
            text(
                "UPDATE campaigns SET tenant_name = :n, tenant_type = :ty WHERE tenant_id = :t"
            ),
            {"t": tenant_id, "n": name, "ty": type_},
        ).rowcount
    )


def reserved_codes(conn: Connection, tenant_id: str) -> int:
    """Codes promised to RUNNING batches of the tenant but not inserted yet."""
    value = conn.execute(
        text(
            "SELECT COALESCE(SUM(requested - inserted), 0) FROM code_batches"
            " WHERE tenant_id = :t AND status = 'RUNNING'"
        ),
        {"t": tenant_id},
    ).scalar()
    return int(value or 0)


def add_codes_issued(conn: Connection, tenant_id: str, delta: int) -> None:
    """Move the tenant's issued-codes counter by ``delta`` (negative on rollback)."""
    conn.execute(
        text(
            "UPDATE tenants SET codes_issued = GREATEST(codes_issued + :d, 0)"
            " WHERE tenant_id = :t"
        ),
        {"t": tenant_id, "d": delta},
    )
