"""SQL of the operator side of codes: allocation to users, listings and voiding.

Allocation binds ``user_id`` with a guarded UPDATE (only a code still unused, unexported
and unbound) and records the hand-out in ``code_allocations`` (primary key
``(tenant_id, code)``: a code can be allocated once, even if every other guard failed).
Rows are taken ``FOR UPDATE SKIP LOCKED`` so an allocation never waits behind an export.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from core.codes.status import CodeStatus
from core.records import BoundCode, CodeQuery, CodeRecord, VoidCandidate, VoidTarget

_FREE = (
    f"status = {CodeStatus.UNUSED:d} AND used_count = 0 AND export_status = 0 AND user_id IS NULL"
)


def _bind(conn: Connection, tenant_id: str, campaign_id: str, row: Any, user_id: str,
          source: str, now: datetime) -> BoundCode | None:
    changed = conn.execute(
        text("UPDATE redeem_codes SET user_id = :u WHERE tenant_id = :t AND campaign_id = :c"
             f" AND id = :id AND {_FREE}"),
        {"u": user_id, "t": tenant_id, "c": campaign_id, "id": int(row[0])},
    ).rowcount
    if changed != 1:
        return None
    conn.execute(
        text("INSERT INTO code_allocations (tenant_id, code, campaign_id, user_id, source,"
             " allocated_at) VALUES (:t, :code, :c, :u, :s, :now)"),
        {"t": tenant_id, "code": row[1], "c": campaign_id, "u": user_id, "s": source,
         "now": now},
    )
    return BoundCode(row[1], campaign_id, int(row[2]), row[3], row[4])


def bind_code(conn: Connection, tenant_id: str, campaign_id: str, code: str, user_id: str,
              now: datetime) -> BoundCode | None:
    """Bind one named code (popped from the pool); None if it is no longer free."""
    row = conn.execute(
        text("SELECT id, code, use_limit, code_key_id, code_sealed FROM redeem_codes"
             " WHERE tenant_id = :t AND code = :code"
             f" AND campaign_id = :c AND {_FREE} FOR UPDATE SKIP LOCKED"),
        {"t": tenant_id, "code": code, "c": campaign_id},
    ).first()
    return _bind(conn, tenant_id, campaign_id, row, user_id, "pool", now) if row else None


def bind_any_free(conn: Connection, tenant_id: str, campaign_id: str, user_id: str,
                  now: datetime) -> BoundCode | None:
    """Bind the lowest free code no other transaction holds (the MySQL fallback)."""
    row = conn.execute(
        text("SELECT id, code, use_limit, code_key_id, code_sealed FROM redeem_codes"
             f" WHERE tenant_id = :t AND campaign_id = :c AND {_FREE}"
             " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"),
        {"t": tenant_id, "c": campaign_id},
    ).first()
    return _bind(conn, tenant_id, campaign_id, row, user_id, "mysql", now) if row else None


def campaign_exists(conn: Connection, tenant_id: str, campaign_id: str) -> bool:
    """Whether the tenant has this campaign."""
    row = conn.execute(
        text("SELECT 1 FROM campaigns WHERE tenant_id = :t AND campaign_id = :c"),
        {"t": tenant_id, "c": campaign_id},
    ).first()
    return row is not None


# listings show the stored mask (a row not yet migrated: its code, masked by the caller);
# who exported a code and when come from its export's row (a code keeps only export_seq)
#: The columns of a ``CodeRecord``, from ``CODE_FROM``.
CODE_COLUMNS = (
    "r.id, r.tenant_id, r.campaign_id, r.code, r.status, r.use_limit, r.used_count,"
    " r.gen_batch_id, r.gen_account_id, r.gen_time, r.export_status, x.account_id,"
    " x.created_at, x.export_id, r.user_id, a.allocated_at, r.act_user_id, r.act_time,"
    " r.valid_from, r.expired_at, r.remark, r.code_mask"
)
#: Codes with their allocation (``a``) and export (``x``: none while ``export_seq`` is 0).
CODE_FROM = (
    "FROM redeem_codes r"
    " LEFT JOIN code_allocations a ON a.tenant_id = r.tenant_id AND a.code = r.code"
    " LEFT JOIN export_batches x ON r.export_seq > 0 AND x.seq = r.export_seq"
)


def list_codes(conn: Connection, query: CodeQuery) -> list[CodeRecord]:
    """The codes ``query`` selects (with their allocation and export), in id order."""
    sql = (f"SELECT {CODE_COLUMNS} {CODE_FROM}"
           " WHERE r.tenant_id = :t AND r.campaign_id = :c AND r.id > :after")
    params: dict[str, Any] = {"t": query.tenant_id, "c": query.campaign_id,
                              "after": query.after_id, "n": query.limit}
    if query.upto_id is not None:
        sql += " AND r.id <= :upto"
        params["upto"] = query.upto_id
    if query.status is not None:
        sql += " AND r.status = :s"
        params["s"] = query.status
    if query.exported is not None:
        sql += " AND r.export_status = :e"
        params["e"] = int(query.exported)
    rows = conn.execute(text(sql + " ORDER BY r.id LIMIT :n"), params).all()
    return [CodeRecord(*row) for row in rows]


def _selector(by: str) -> str:
    return {
        "code": "code IN (:v, :p)",  # its lookup, or the plaintext of an unmigrated row
        "campaign": "campaign_id = :v",
        "export": "campaign_id = :c AND export_seq = (SELECT seq FROM export_batches"
                  " WHERE export_id = :v AND tenant_id = :t)",
    }[by]


def _target_params(target: VoidTarget) -> dict[str, Any]:
    return {"t": target.tenant_id, "v": target.value, "p": target.plain or target.value,
            "c": target.campaign_id}


def lock_voidable(conn: Connection, target: VoidTarget, after_id: int,
                  limit: int) -> list[VoidCandidate]:
    """Lock up to ``limit`` never-redeemed codes of ``target``, ids > ``after_id``."""
    rows = conn.execute(
        text("SELECT id, code, campaign_id, use_limit, user_id FROM redeem_codes"
             f" WHERE tenant_id = :t AND {_selector(target.by)}"
             f" AND status = {CodeStatus.UNUSED:d} AND used_count = 0"
             " AND id > :after ORDER BY id LIMIT :n FOR UPDATE"),
        {**_target_params(target), "after": after_id, "n": limit},
    ).all()
    return [VoidCandidate(int(r[0]), r[1], r[2], int(r[3]), r[4]) for r in rows]


def void_rows(conn: Connection, tenant_id: str, rows: list[VoidCandidate], note: str) -> int:
    """Set status 3 on locked codes and append ``note`` to their remark (one statement per
    campaign: rows are addressed by the primary key (tenant_id, campaign_id, id))."""
    changed = 0
    for campaign in sorted({r.campaign_id for r in rows}):
        marks = ", ".join(str(int(r.row_id)) for r in rows if r.campaign_id == campaign)
        changed += int(conn.execute(
            text(f"UPDATE redeem_codes SET status = {CodeStatus.VOIDED:d},"
                 " remark = CONCAT_WS('\\n', remark, :note)"
                 f" WHERE tenant_id = :t AND campaign_id = :c AND id IN ({marks})"
                 f" AND status = {CodeStatus.UNUSED:d} AND used_count = 0"),
            {"note": note, "t": tenant_id, "c": campaign},
        ).rowcount)
    return changed


def void_census(conn: Connection, target: VoidTarget) -> dict[str, int]:
    """Codes of ``target`` that were not voidable: voided, partly used, used."""
    row = conn.execute(
        text(f"SELECT COUNT(*), COALESCE(SUM(status = {CodeStatus.VOIDED:d}), 0),"
             f" COALESCE(SUM(status = {CodeStatus.UNUSED:d} AND used_count > 0), 0),"
             f" COALESCE(SUM(status IN ({CodeStatus.CLAIMED:d}, {CodeStatus.GRANTED:d})), 0)"
             f" FROM redeem_codes WHERE tenant_id = :t AND {_selector(target.by)}"),
        _target_params(target),
    ).one()
    return {"matched": int(row[0]), "already_voided": int(row[1]),
            "partly_used": int(row[2]), "used": int(row[3])}
