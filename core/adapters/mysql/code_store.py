"""SQL for generated codes and their generation batches (``redeem_codes``, ``code_batches``).

Bulk inserts use ``LOAD DATA LOCAL INFILE ... IGNORE`` with a file holding only the id and
code columns; every other column is a constant of the chunk set by the statement's SET
clause, so the client ships ~22 bytes per row. IGNORE turns a duplicate (tenant_id, code)
into a skipped row instead of an error; the caller finds the skipped codes and replaces them.

Row ids are not AUTO_INCREMENT (an index on ``id`` alone would cost every insert): writers
reserve a contiguous range from ``id_sequences`` with ``reserve_code_ids``. The primary key is
``(tenant_id, campaign_id, id)``, so statements address rows by all three.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Connection

from core.codes.protection import ProtectedCode, ProtectedRows
from core.codes.status import CodeStatus
from core.records import (  # noqa: F401 - the batch states are re-exported
    DONE,
    ROLLED_BACK,
    RUNNING,
    BatchRecord,
    RowTemplate,
)

_BATCH_COLUMNS = (
    "batch_id, tenant_id, campaign_id, requested, inserted, status, account_id, created_at,"
    " finished_at, rule_json"
)
_SCRATCH_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _json(value: Any) -> Any:
    """A JSON column's value as Python (MariaDB hands JSON back as text)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _batch(row: Any) -> BatchRecord:
    t = tuple(row)
    return BatchRecord(t[0], t[1], t[2], int(t[3]), int(t[4]), t[5], t[6], t[7], t[8],
                       _json(t[9]))


def insert_batch(conn: Connection, record: BatchRecord) -> None:
    """Insert a batch row (normally RUNNING with ``inserted`` 0)."""
    rule = None if record.rule is None else orjson.dumps(record.rule).decode()
    conn.execute(
        text(
            f"INSERT INTO code_batches ({_BATCH_COLUMNS}) VALUES (:batch_id, :tenant_id,"
            " :campaign_id, :requested, :inserted, :status, :account_id, :created_at,"
            " :finished_at, :rule)"
        ),
        {**record.__dict__, "rule": rule},
    )


def tenant_batch_rules(conn: Connection, tenant_id: str) -> list[dict[str, Any]]:
    """The distinct code rules stored on a tenant's batches that may hold codes (not rolled
    back); batches without a rule of their own use their campaign's and are not listed."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT rule_json FROM code_batches WHERE tenant_id = :t"
            " AND rule_json IS NOT NULL AND status <> 'ROLLED_BACK'"
        ),
        {"t": tenant_id},
    ).all()
    return [_json(row[0]) for row in rows]


def generated_counts(conn: Connection) -> dict[str, int]:
    """Codes ever generated, by code type, over every tenant's batches (a batch without a
    rule of its own has its campaign's code type)."""
    rows = conn.execute(
        text(
            "SELECT COALESCE(JSON_VALUE(b.rule_json, '$.codeType'),"
            " JSON_VALUE(c.rule_json, '$.codeType'), 'RANDOM_ALPHANUM') AS code_type,"
            " SUM(b.generated) FROM code_batches b"
            " LEFT JOIN campaigns c ON c.campaign_id = b.campaign_id"
            " GROUP BY 1"
        )
    ).all()
    return {str(code_type): int(total or 0) for code_type, total in rows}


def get_batch(conn: Connection, batch_id: str, *, lock: bool = False) -> BatchRecord | None:
    """A batch by id, optionally locked FOR UPDATE (serialises writers of one batch)."""
    sql = f"SELECT {_BATCH_COLUMNS} FROM code_batches WHERE batch_id = :b"
    row = conn.execute(text(sql + (" FOR UPDATE" if lock else "")), {"b": batch_id}).first()
    return _batch(row) if row is not None else None


def campaign_batches(conn: Connection, tenant_id: str, campaign_id: str) -> list[BatchRecord]:
    """Every batch of a campaign, oldest first."""
    rows = conn.execute(
        text(
            f"SELECT {_BATCH_COLUMNS} FROM code_batches WHERE tenant_id = :t"
            " AND campaign_id = :c ORDER BY created_at, batch_id"
        ),
        {"t": tenant_id, "c": campaign_id},
    ).all()
    return [_batch(r) for r in rows]


def other_running_batches(conn: Connection, tenant_id: str, batch_id: str) -> int:
    """How many other batches of the tenant are still RUNNING."""
    value = conn.execute(
        text(
            "SELECT COUNT(*) FROM code_batches WHERE tenant_id = :t AND status = 'RUNNING'"
            " AND batch_id <> :b"
        ),
        {"t": tenant_id, "b": batch_id},
    ).scalar()
    return int(value or 0)


def tenant_has_other_codes(conn: Connection, tenant_id: str, batch_id: str) -> bool:
    """Whether the tenant has committed codes outside this batch."""
    other = conn.execute(
        text(
            "SELECT 1 FROM code_batches WHERE tenant_id = :t AND batch_id <> :b"
            " AND inserted > 0 AND status <> 'ROLLED_BACK' LIMIT 1"
        ),
        {"t": tenant_id, "b": batch_id},
    ).first()
    if other is not None:
        return True
    mine = get_batch(conn, batch_id)
    if mine is not None and mine.inserted > 0:
        return False
    row = conn.execute(
        text("SELECT 1 FROM redeem_codes WHERE tenant_id = :t LIMIT 1"), {"t": tenant_id}
    ).first()
    return row is not None


def finish_batch(conn: Connection, batch_id: str, status: str, now: datetime) -> None:
    """Mark a batch DONE or ROLLED_BACK."""
    conn.execute(
        text("UPDATE code_batches SET status = :s, finished_at = :f WHERE batch_id = :b"),
        {"s": status, "f": now, "b": batch_id},
    )


def count_chunk(conn: Connection, batch_id: str, count: int) -> bool:
    """Count a chunk's ``count`` codes in a RUNNING batch, unless that would exceed what it
    requested; False (nothing changed) otherwise. Locks the batch row until commit."""
    result = conn.execute(
        text(
            "UPDATE code_batches SET inserted = inserted + :n, generated = generated + :n"
            " WHERE batch_id = :b AND status = 'RUNNING' AND inserted + :n <= requested"
        ),
        {"b": batch_id, "n": count},
    )
    return int(result.rowcount) == 1


def add_inserted(conn: Connection, batch_id: str, delta: int) -> None:
    """Count codes committed (or, negative, removed) for a batch."""
    conn.execute(
        text("UPDATE code_batches SET inserted = inserted + :d WHERE batch_id = :b"),
        {"b": batch_id, "d": delta},
    )


def reserve_code_ids(conn: Connection, count: int) -> int:
    """The first of ``count`` consecutive row ids nobody else will get (the counter row is
    locked until ``conn``'s transaction ends: reserve in a transaction of its own when other
    writers must not wait)."""
    return reserve_ids(conn, "redeem_codes", count)


def reserve_ids(conn: Connection, name: str, count: int) -> int:
    """The first of ``count`` consecutive numbers of the ``id_sequences`` row ``name``."""
    if count <= 0:
        raise ValueError("count must be positive")
    conn.execute(
        text(
            "UPDATE id_sequences SET next_id = LAST_INSERT_ID(next_id + :n)"
            " WHERE name = :name"
        ),
        {"n": count, "name": name},
    )
    end = conn.execute(text("SELECT LAST_INSERT_ID()")).scalar()
    return int(end or 0) - count


def load_file(ids: Sequence[int], rows: ProtectedRows) -> bytes:
    """The LOAD DATA file of rows: ``id TAB lookup TAB seal TAB mask`` lines, built with one
    join (generation writes a million of them)."""
    if len(ids) != len(rows):
        raise ValueError(f"{len(ids)} ids for {len(rows)} rows")
    if not rows:
        return b""
    parts = [b"\t"] * (6 * len(rows))
    parts[0::6] = map(b"\n%d\t".__mod__, ids)
    parts[1::6] = rows.lookups
    parts[3::6] = rows.seals
    parts[5::6] = rows.masks
    return b"".join(parts)[1:] + b"\n"


def load_codes(conn: Connection, template: RowTemplate, ids: Sequence[int],
               rows: ProtectedRows) -> int:
    """Insert rows of ``ids`` (lookup, seal, mask) with LOAD DATA LOCAL INFILE IGNORE (the
    seals' key id is the template's); returns rows inserted."""
    body = load_file(ids, rows)
    if not body:
        return 0
    with tempfile.NamedTemporaryFile(
        "wb", dir=_SCRATCH_DIR, prefix="rf-codes-", suffix=".txt"
    ) as handle:
        handle.write(body)
        handle.flush()
        cursor = conn.exec_driver_sql(
            "LOAD DATA LOCAL INFILE %s IGNORE INTO TABLE redeem_codes CHARACTER SET ascii"
            " LINES TERMINATED BY '\\n' (id, code, code_sealed, code_mask) SET tenant_id = %s,"
            " product_code = %s, campaign_id = %s, gen_batch_id = %s, use_limit = %s,"
            " gen_account_id = %s, gen_time = %s, valid_from = %s, expired_at = %s,"
            " code_key_id = %s",
            (
                handle.name,
                template.tenant_id,
                template.product_code,
                template.campaign_id,
                template.batch_id,
                template.use_limit,
                template.account_id,
                template.gen_time,
                template.valid_from,
                template.expired_at,
                template.key_id,
            ),
        )
        return int(cursor.rowcount)


def rows_in_range(
    conn: Connection, template: RowTemplate, first_id: int, last_id: int
) -> list[tuple[int, str]]:
    """The chunk's (id, code) rows with ids in ``[first_id, last_id]`` (a primary-key range)."""
    rows = conn.execute(
        text(
            "SELECT id, code FROM redeem_codes WHERE tenant_id = :t AND campaign_id = :c"
            " AND id BETWEEN :lo AND :hi ORDER BY id"
        ),
        {"t": template.tenant_id, "c": template.campaign_id, "lo": first_id, "hi": last_id},
    ).all()
    return [(int(r[0]), r[1]) for r in rows]


def batch_rows(
    conn: Connection, batch: BatchRecord, after_id: int, limit: int
) -> list[tuple[int, str, int, int, str | None]]:
    """Up to ``limit`` (id, code, status, used_count, user_id) of a batch, ids > ``after_id``."""
    rows = conn.execute(
        text(
            "SELECT id, code, status, used_count, user_id FROM redeem_codes"
            " WHERE tenant_id = :t AND campaign_id = :c AND id > :a AND gen_batch_id = :b"
            " ORDER BY id LIMIT :n"
        ),
        {"t": batch.tenant_id, "c": batch.campaign_id, "b": batch.batch_id, "a": after_id,
         "n": limit},
    ).all()
    return [(int(r[0]), r[1], int(r[2]), int(r[3]), r[4]) for r in rows]


def batch_codes_in_use(conn: Connection, batch: BatchRecord) -> int:
    """Codes of a batch that were redeemed, exported or bound to a user (block a rollback)."""
    value = conn.execute(
        text(
            "SELECT COUNT(*) FROM redeem_codes WHERE tenant_id = :t AND campaign_id = :c"
            " AND gen_batch_id = :b"
            f" AND (status <> {CodeStatus.UNUSED:d} OR used_count > 0 OR export_status <> 0"
            " OR user_id IS NOT NULL)"
        ),
        {"t": batch.tenant_id, "c": batch.campaign_id, "b": batch.batch_id},
    ).scalar()
    return int(value or 0)


def delete_rows(conn: Connection, tenant_id: str, campaign_id: str, ids: list[int]) -> int:
    """Delete a campaign's code rows by id; returns rows deleted."""
    if not ids:
        return 0
    marks = ", ".join(str(int(i)) for i in ids)
    result = conn.execute(
        text(
            "DELETE FROM redeem_codes WHERE tenant_id = :t AND campaign_id = :c"
            f" AND id IN ({marks})"
        ),
        {"t": tenant_id, "c": campaign_id},
    )
    return int(result.rowcount)


def insert_code_rows(
    conn: Connection,
    template: RowTemplate,
    codes: list[str],
    protected: Sequence[ProtectedCode] | None = None,
) -> int:
    """Plain multi-row INSERT IGNORE of codes (tests and small seeds); rows inserted.

    With ``protected`` (one per code, sealed under ``template.key_id``) the rows are stored as
    generation stores them: lookup, seal and mask. Without, the codes go in clear, as rows
    written before codes were protected (see ``keys migrate``). Reserves the ids in
    ``conn``'s transaction (the counter row stays locked until it ends).
    """
    if not codes:
        return 0
    first = reserve_code_ids(conn, len(codes))
    stored: Sequence[ProtectedCode | None] = protected or [None] * len(codes)
    params = [
        {"id": first + n, "code": p.lookup if p else c, "sealed": p.sealed if p else None,
         "key": template.key_id if p else None, "mask": p.mask if p else None, **template.__dict__}
        for n, (c, p) in enumerate(zip(codes, stored, strict=True))
    ]
    result = conn.execute(
        text(
            "INSERT IGNORE INTO redeem_codes (id, tenant_id, code, product_code, campaign_id,"
            " gen_batch_id, use_limit, gen_account_id, gen_time, valid_from, expired_at,"
            " code_sealed, code_key_id, code_mask)"
            " VALUES (:id, :tenant_id, :code, :product_code, :campaign_id, :batch_id,"
            " :use_limit, :account_id, :gen_time, :valid_from, :expired_at,"
            " :sealed, :key, :mask)"
        ),
        params,
    )
    return int(result.rowcount)
