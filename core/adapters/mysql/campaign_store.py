"""SQL for campaigns: insert, read, status changes and per-campaign code counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Connection

from core.records import CampaignRecord

_COLUMNS = (
    "campaign_id, tenant_id, tenant_name, tenant_type, product_code, name, status, rule_json,"
    " request_hash, use_limit, per_user_limit, valid_from, valid_until, codes_requested,"
    " created_by, created_at, updated_at"
)


def _record(row: Any) -> CampaignRecord:
    values = list(row)
    rule = values[7]
    values[7] = orjson.loads(rule) if isinstance(rule, str | bytes) else rule
    return CampaignRecord(*values)


def get_campaign(
    conn: Connection, campaign_id: str, *, tenant_id: str | None = None, lock: bool = False
) -> CampaignRecord | None:
    """The campaign (of ``tenant_id`` when given), optionally locked FOR UPDATE."""
    sql = f"SELECT {_COLUMNS} FROM campaigns WHERE campaign_id = :c"
    params: dict[str, Any] = {"c": campaign_id}
    if tenant_id is not None:
        sql += " AND tenant_id = :t"
        params["t"] = tenant_id
    if lock:
        sql += " FOR UPDATE"
    row = conn.execute(text(sql), params).first()
    return _record(row) if row is not None else None


def insert_campaign(conn: Connection, record: CampaignRecord) -> None:
    """Insert a new campaign row (duplicate ids raise IntegrityError)."""
    params = {
        **record.__dict__,
        "rule": orjson.dumps(record.rule, option=orjson.OPT_SORT_KEYS).decode(),
    }
    conn.execute(
        text(
            f"INSERT INTO campaigns ({_COLUMNS}) VALUES (:campaign_id, :tenant_id, :tenant_name,"
            " :tenant_type, :product_code, :name, :status, :rule, :request_hash, :use_limit,"
            " :per_user_limit, :valid_from, :valid_until, :codes_requested, :created_by,"
            " :created_at, :updated_at)"
        ),
        params,
    )


def update_status(
    conn: Connection, tenant_id: str, campaign_id: str, status: str, now: datetime
) -> bool:
    """Set a campaign's status; False when the tenant has no such campaign."""
    result = conn.execute(
        text(
            "UPDATE campaigns SET status = :s, updated_at = :u"
            " WHERE tenant_id = :t AND campaign_id = :c"
        ),
        {"s": status, "u": now, "t": tenant_id, "c": campaign_id},
    )
    return bool(result.rowcount)


def add_requested(conn: Connection, campaign_id: str, delta: int) -> None:
    """Account for codes requested for a campaign after its creation."""
    conn.execute(
        text("UPDATE campaigns SET codes_requested = codes_requested + :d WHERE campaign_id = :c"),
        {"c": campaign_id, "d": delta},
    )


def code_counts(conn: Connection, tenant_id: str, campaign_id: str) -> dict[str, int]:
    """Counts of the campaign's codes by status, plus ``exported`` and ``issued``."""
    rows = conn.execute(
        text(
            "SELECT status, COUNT(*), SUM(export_status = 1) FROM redeem_codes"
            " WHERE tenant_id = :t AND campaign_id = :c GROUP BY status"
        ),
        {"t": tenant_id, "c": campaign_id},
    ).all()
    names = {0: "unused", 1: "claimed", 2: "granted", 3: "voided"}
    counts = dict.fromkeys(names.values(), 0)
    exported = 0
    for status, count, exp in rows:
        counts[names.get(int(status), f"status_{status}")] = int(count)
        exported += int(exp or 0)
    counts["issued"] = sum(counts.values())
    counts["exported"] = exported
    return counts


def tenants_of_campaign(conn: Connection, campaign_id: str) -> list[str]:
    """The tenants holding a campaign of this id (sorted; one at most while the id is the
    table's primary key, but callers must not rely on the schema for that)."""
    rows = conn.execute(
        text("SELECT DISTINCT tenant_id FROM campaigns WHERE campaign_id = :c ORDER BY 1"),
        {"c": campaign_id},
    ).all()
    return [str(row[0]) for row in rows]
