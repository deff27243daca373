"""SQL of the back office's read views: campaign lists, dashboard figures, code lookup,
export history. Every query takes the tenant scope (None only for platform operators)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from core.adapters.mysql.code_admin_store import CODE_JOINS, LIST_COLUMNS, filtered_codes
from core.backoffice.rows import (
    CampaignCounts,
    CampaignRow,
    CodeRecord,
    ExportRow,
    RedemptionRow,
)
from core.codes.status import CodeStatus
from core.records import CodeListing


def _scope(tenant_id: str | None, column: str = "tenant_id") -> tuple[str, dict[str, Any]]:
    if tenant_id is None:
        return "1 = 1", {}
    return f"{column} = :scope_tenant", {"scope_tenant": tenant_id}


def list_campaigns(conn: Connection, tenant_id: str | None, *, status: str | None,
                   search: str | None, limit: int) -> list[CampaignRow]:
    """Campaigns newest first, filtered by status and a name/id substring."""
    where, params = _scope(tenant_id)
    if status:
        where += " AND status = :status"
        params["status"] = status
    if search:
        where += " AND (name LIKE :q OR campaign_id LIKE :q)"
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["q"] = f"%{escaped}%"
    params["n"] = limit
    rows = conn.execute(text(
        "SELECT campaign_id, tenant_id, name, product_code, status, valid_from, valid_until,"
        f" created_by, created_at FROM campaigns WHERE {where}"
        " ORDER BY created_at DESC, campaign_id LIMIT :n"), params).all()
    return [CampaignRow(*r) for r in rows]


def tenant_ids(conn: Connection) -> list[str]:
    """Every tenant of the registry (the platform operator's choices)."""
    return [r[0] for r in conn.execute(text("SELECT tenant_id FROM tenants ORDER BY tenant_id"))]


def campaign_counts(conn: Connection, tenant_id: str | None,
                    campaign_id: str | None = None) -> list[CampaignCounts]:
    """Per campaign: generated, exported, allocated, redeemed, voided, left (one scan of the
    scope's codes by primary key; the dashboard of a tenant with 1M codes reads 1M rows)."""
    where, params = _scope(tenant_id)
    if campaign_id is not None:
        where += " AND campaign_id = :c"
        params["c"] = campaign_id
    rows = conn.execute(text(
        "SELECT tenant_id, campaign_id, COUNT(*), SUM(export_status = 1),"
        " SUM(user_id IS NOT NULL),"
        f" SUM(status IN ({CodeStatus.CLAIMED:d}, {CodeStatus.GRANTED:d}) OR used_count > 0),"
        f" SUM(status = {CodeStatus.VOIDED:d}),"
        f" SUM(status = {CodeStatus.UNUSED:d} AND used_count = 0 AND export_status = 0"
        " AND user_id IS NULL)"
        f" FROM redeem_codes WHERE {where} GROUP BY tenant_id, campaign_id"
        " ORDER BY tenant_id, campaign_id"), params).all()
    return [CampaignCounts(r[0], r[1], *(int(v or 0) for v in r[2:])) for r in rows]


def campaign_names(conn: Connection, tenant_id: str | None) -> dict[str, str]:
    """campaign_id -> name for the scope."""
    where, params = _scope(tenant_id)
    rows = conn.execute(text(f"SELECT campaign_id, name FROM campaigns WHERE {where}"),
                        params).all()
    return {r[0]: r[1] for r in rows}


def redemptions_per_bucket(conn: Connection, tenant_id: str | None, since: datetime,
                           bucket_format: str) -> dict[str, int]:
    """Redemptions since ``since``, counted per DATE_FORMAT bucket."""
    where, params = _scope(tenant_id)
    params.update({"since": since, "fmt": bucket_format})
    rows = conn.execute(text(
        f"SELECT DATE_FORMAT(claimed_at, :fmt), COUNT(*) FROM redemptions WHERE {where}"
        " AND claimed_at >= :since GROUP BY 1"), params).all()
    return {str(r[0]): int(r[1]) for r in rows}


def outcome_mix(conn: Connection, tenant_id: str | None, since: datetime) -> dict[str, int]:
    """Request outcomes since ``since`` by outcome."""
    where, params = _scope(tenant_id)
    params["since"] = since
    rows = conn.execute(text(
        f"SELECT outcome, COUNT(*) FROM request_outcomes WHERE {where}"
        " AND processed_at >= :since GROUP BY outcome ORDER BY 2 DESC"), params).all()
    return {str(r[0]): int(r[1]) for r in rows}


_CODE_COLUMNS = (
    "r.id, r.tenant_id, r.campaign_id, r.code, r.status, r.use_limit, r.used_count,"
    " r.gen_batch_id, r.gen_account_id, r.gen_time, r.export_status, x.account_id,"
    " x.created_at, x.export_id, r.user_id, a.allocated_at, r.act_user_id, r.act_time,"
    " r.remark, r.code_mask"
)
_CODE_FROM = f"FROM redeem_codes r {CODE_JOINS}"


def find_code(conn: Connection, tenant_id: str, code: str, plain: str = "") -> CodeRecord | None:
    """A tenant's code by its lookup, or by ``plain`` for a row not migrated yet (the
    unique key (tenant_id, code))."""
    row = conn.execute(text(f"SELECT {_CODE_COLUMNS} {_CODE_FROM}"
                            " WHERE r.tenant_id = :t AND r.code IN (:code, :plain) LIMIT 1"),
                       {"t": tenant_id, "code": code, "plain": plain or code}).first()
    return CodeRecord(*row) if row else None


def code_by_row(conn: Connection, tenant_id: str, campaign_id: str,
                row_id: int) -> CodeRecord | None:
    """A campaign's code by row id (the primary key)."""
    row = conn.execute(text(f"SELECT {_CODE_COLUMNS} {_CODE_FROM} WHERE r.tenant_id = :t"
                            " AND r.campaign_id = :c AND r.id = :id"),
                       {"t": tenant_id, "c": campaign_id, "id": row_id}).first()
    return CodeRecord(*row) if row else None


def redemptions_of(conn: Connection, tenant_id: str, code: str,
                   plain: str = "") -> list[RedemptionRow]:
    """The code's redemptions by its lookup (or ``plain``, rows not migrated yet; index
    (tenant_id, code))."""
    rows = conn.execute(text(
        "SELECT redemption_id, request_id, user_id, channel, status, grants_json, claimed_at,"
        " granted_at FROM redemptions WHERE tenant_id = :t AND code IN (:code, :plain)"
        " ORDER BY claimed_at"), {"t": tenant_id, "code": code, "plain": plain or code}).all()
    return [RedemptionRow(*r) for r in rows]


def recorded_grants(conn: Connection, redemption_ids: list[str]) -> dict[str, datetime]:
    """grant_id -> when its reward record was written, for the given redemptions."""
    if not redemption_ids:
        return {}
    marks = ", ".join(f":r{n}" for n in range(len(redemption_ids)))
    rows = conn.execute(text(
        f"SELECT grant_id, recorded_at FROM reward_records WHERE redemption_id IN ({marks})"),
        {f"r{n}": v for n, v in enumerate(redemption_ids)}).all()
    return {r[0]: r[1] for r in rows}


def export_history(conn: Connection, tenant_id: str | None, campaign_id: str | None,
                   limit: int = 100) -> list[ExportRow]:
    """Exports newest first (index (tenant_id, campaign_id))."""
    where, params = _scope(tenant_id)
    if campaign_id is not None:
        where += " AND campaign_id = :c"
        params["c"] = campaign_id
    params["n"] = limit
    rows = conn.execute(text(
        "SELECT export_id, tenant_id, campaign_id, account_id, owner_override, code_count,"
        f" file_format, file_sha256, created_at FROM export_batches WHERE {where}"
        " ORDER BY created_at DESC LIMIT :n"), params).all()
    return [ExportRow(r[0], r[1], r[2], r[3], bool(r[4]), int(r[5]), r[6], r[7], r[8])
            for r in rows]


def codes_window(conn: Connection, tenant_id: str, campaign_id: str, *, status: int | None,
                 exported: bool | None, after_id: int, upto_id: int,
                 limit: int) -> list[CodeListing]:
    """Filtered codes with ``after_id < id <= upto_id`` in id order: a bounded stretch of the
    primary key, so a filter that matches few rows never reads the whole campaign."""
    sql = (f"SELECT {LIST_COLUMNS} FROM redeem_codes r {CODE_JOINS} WHERE r.tenant_id = :t"
           " AND r.campaign_id = :c AND r.id > :after AND r.id <= :upto")
    params: dict[str, Any] = {"t": tenant_id, "c": campaign_id, "after": after_id,
                              "upto": upto_id, "n": limit}
    return filtered_codes(conn, sql, params, status=status, exported=exported)


def code_id_range(conn: Connection, tenant_id: str, campaign_id: str) -> tuple[int, int]:
    """The campaign's lowest and highest code row ids ((0, 0) without codes; two probes of
    the primary key)."""
    row = conn.execute(text("SELECT MIN(id), MAX(id) FROM redeem_codes WHERE tenant_id = :t"
                            " AND campaign_id = :c"), {"t": tenant_id, "c": campaign_id}).one()
    return int(row[0] or 0), int(row[1] or 0)
