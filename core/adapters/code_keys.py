"""``keys migrate`` and ``keys rotate``: online, batched, resumable, idempotent rewrites
(an adapter-level job: it drives MySQL and Redis directly, in one transaction per batch).

**migrate** protects rows written before codes were protected (``code_key_id`` NULL, the
code in clear): per batch, one transaction locks up to ``batch_size`` such rows of a
campaign, stores each code's lookup, seal and mask in place of the code, and rewrites the
code in ``redemptions``, ``reward_records`` and ``code_allocations``; after the commit the
Redis entry ``c:<code>`` is renamed to ``c:<lookup>`` (state and TTL kept), a negative entry
of the lookup is dropped and a pool member is swapped, one script call per code. Meanwhile
redemption keeps working: a lookup MySQL does not know is retried by its plaintext
(``RedemptionService._find_unprotected``), so unmigrated rows redeem as before and migrated
rows by their lookup. A last pass rewrites dependent rows a redemption wrote in clear while
its code was being migrated. Stopping at any point and running again continues: only rows
still in clear are selected.

**rotate** re-seals every row whose key id is not the active one: per batch, the seals are
opened with their own (still configured) keys and sealed again with the active key before
anything is written, so a seal that does not open (TamperedCode, UnknownCodeKey) fails the
batch naming the row, with nothing of that batch written. Lookups do not change, so Redis
and redemption are untouched. Run it again after a failure: finished rows are skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from core.adapters.mysql.code_key_store import verify_code_keys
from core.adapters.mysql.engine import guarded
from core.adapters.redis.client import REDIS_ERRORS
from core.bootstrap import Container
from core.codes.protection import CodeProtector

DEFAULT_BATCH = 2_000
#: Called with the rows done so far.
Progress = Callable[[int], None]

# KEYS: entry of the plaintext, entry of the lookup, negative entry of the lookup, the pool;
# ARGV: plaintext, lookup. One tenant's keys: one cluster slot.
_MOVE_ENTRY = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[2]) end
redis.call('DEL', KEYS[3])
if redis.call('SREM', KEYS[4], ARGV[1]) == 1 then redis.call('SADD', KEYS[4], ARGV[2]) end
return 1
"""


@dataclass
class KeyJobReport:
    """What one run did: rows rewritten, batches, dependents fixed, time, rows left."""

    action: str
    active_key_id: str
    rows: int = 0
    batches: int = 0
    dependents_fixed: int = 0
    cache_synced: bool = True
    seconds: float = 0.0
    remaining: int = 0
    campaigns: list[str] = field(default_factory=list)


_PENDING = {
    "migrate": "code_key_id IS NULL",
    "rotate": "code_key_id IS NOT NULL AND code_key_id <> :active",
}


def pending_rows(container: Container, action: str, tenant_id: str | None = None) -> int:
    """Rows ``action`` still has to rewrite (a full scan: for progress and the summary)."""
    sql = f"SELECT COUNT(*) FROM redeem_codes WHERE {_PENDING[action]}"
    if tenant_id:
        sql += " AND tenant_id = :t"
    params = {"active": container.settings.code_protector.active_id, "t": tenant_id}

    def work() -> int:
        with container.engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar() or 0)

    return guarded("count rows to rewrite", work)


def run_key_job(container: Container, action: str, *, tenant_id: str | None = None,
                batch_size: int = DEFAULT_BATCH, max_batches: int | None = None,
                progress: Progress | None = None) -> KeyJobReport:
    """Migrate plaintext rows or rotate seals to the active key (see the module doc);
    ``max_batches`` stops early (the next run continues)."""
    if action not in _PENDING:
        raise ValueError(f"unknown key job {action!r}")
    protector = container.settings.code_protector
    verify_code_keys(container.engine, protector)
    started = time.perf_counter()
    report = KeyJobReport(action, protector.active_id)
    for tenant, campaign in _campaigns(container, tenant_id):
        after = 0
        while max_batches is None or report.batches < max_batches:
            done, after = _batch(container, protector, action, tenant, campaign, after,
                                 batch_size, report)
            if not done:
                break
            report.rows += done
            report.batches += 1
            if campaign not in report.campaigns:
                report.campaigns.append(campaign)
            if progress is not None:
                progress(report.rows)
    if action == "migrate" and max_batches is None:
        report.dependents_fixed += _sweep_dependents(container, protector, tenant_id)
    report.remaining = pending_rows(container, action, tenant_id)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _campaigns(container: Container, tenant_id: str | None) -> list[tuple[str, str]]:
    sql = "SELECT tenant_id, campaign_id FROM campaigns"
    sql += " WHERE tenant_id = :t" if tenant_id else ""

    def work() -> list[tuple[str, str]]:
        with container.engine.connect() as conn:
            rows = conn.execute(text(sql + " ORDER BY tenant_id, campaign_id"),
                                {"t": tenant_id}).all()
            return [(r[0], r[1]) for r in rows]

    return guarded("list campaigns", work)


def _batch(container: Container, protector: CodeProtector, action: str, tenant: str,
           campaign: str, after: int, size: int, report: KeyJobReport) -> tuple[int, int]:
    """One transaction: lock, rewrite; then Redis (migrate). Returns (rows, last id)."""
    params = {"t": tenant, "c": campaign, "after": after, "n": size,
              "active": protector.active_id}
    moved: list[tuple[str, str]] = []

    def work() -> tuple[int, int]:
        moved.clear()  # a retried transaction starts over
        with container.engine.connect() as raw:
            conn = raw.execution_options(isolation_level="READ COMMITTED")
            with conn.begin():
                rows = conn.execute(text(
                    "SELECT id, code, code_key_id, code_sealed FROM redeem_codes"
                    f" WHERE tenant_id = :t AND campaign_id = :c AND id > :after"
                    f" AND {_PENDING[action]} ORDER BY id LIMIT :n FOR UPDATE"), params).all()
                if not rows:
                    return 0, after
                if action == "migrate":
                    moved.extend(_protect_rows(conn, protector, tenant, campaign, rows))
                else:
                    _reseal_rows(conn, protector, tenant, campaign, rows)
                return len(rows), int(rows[-1][0])

    done, last = guarded(f"{action} codes", work)
    if moved:
        report.cache_synced = _move_entries(container, tenant, campaign, moved) and \
            report.cache_synced
    return done, last


def _protect_rows(conn: Connection, protector: CodeProtector, tenant: str, campaign: str,
                  rows: Sequence[Any]) -> list[tuple[str, str]]:
    plains = [str(r[1]) for r in rows]
    protected = protector.protect(tenant, plains)
    conn.execute(text(
        "UPDATE redeem_codes SET code = :l, code_sealed = :s, code_key_id = :k, code_mask = :m"
        " WHERE tenant_id = :t AND campaign_id = :c AND id = :id AND code_key_id IS NULL"),
        [{"l": p.lookup, "s": p.sealed, "k": protector.active_id, "m": p.mask, "t": tenant,
          "c": campaign, "id": int(r[0])} for r, p in zip(rows, protected, strict=True)])
    pairs = [(plain, p.lookup) for plain, p in zip(plains, protected, strict=True)]
    _rewrite_dependents(conn, tenant, pairs)
    return pairs


def _rewrite_dependents(conn: Connection, tenant: str, pairs: list[tuple[str, str]]) -> None:
    """The code of redemptions, their reward records and allocations: plaintext -> lookup."""
    values = [{"t": tenant, "p": plain, "l": lookup} for plain, lookup in pairs]
    conn.execute(text("UPDATE redemptions SET code = :l WHERE tenant_id = :t AND code = :p"),
                 values)
    conn.execute(text(
        "UPDATE reward_records rr JOIN redemptions r ON rr.redemption_id = r.redemption_id"
        " SET rr.code = r.code WHERE r.tenant_id = :t AND r.code = :l AND rr.code <> r.code"),
        values)
    conn.execute(text(
        "UPDATE code_allocations SET code = :l WHERE tenant_id = :t AND code = :p"), values)


def _reseal_rows(conn: Connection, protector: CodeProtector, tenant: str, campaign: str,
                 rows: Sequence[Any]) -> None:
    """Open every seal first (an error names the row, nothing written), then write."""
    updates = []
    for row_id, lookup, key_id, sealed in rows:
        code = protector.open(tenant, lookup, key_id, sealed,
                              where=f"tenant {tenant} campaign {campaign} row {row_id}")
        updates.append({"s": protector.seal(tenant, lookup, code), "k": protector.active_id,
                        "old": key_id, "t": tenant, "c": campaign, "id": int(row_id)})
    conn.execute(text(
        "UPDATE redeem_codes SET code_sealed = :s, code_key_id = :k WHERE tenant_id = :t"
        " AND campaign_id = :c AND id = :id AND code_key_id = :old"), updates)


def _move_entries(container: Container, tenant: str, campaign: str,
                  pairs: list[tuple[str, str]]) -> bool:
    """Rename each migrated code's Redis entry to its lookup (False: Redis unreachable; the
    entries then reload from MySQL on their next miss)."""
    keys = container.keys
    pool = keys.pool(tenant, campaign)
    try:
        pipe = container.redis.pipeline(transaction=False)
        for plain, lookup in pairs:
            # EVAL by name: a cluster pipeline has no eval(), but routes the command by its
            # keys (one tenant's keys: one slot)
            pipe.execute_command("EVAL", _MOVE_ENTRY, 4, keys.code(tenant, plain),
                                 keys.code(tenant, lookup), keys.negative(tenant, lookup),
                                 pool, plain, lookup)
        pipe.execute()
    except REDIS_ERRORS:
        return False
    return True


def _sweep_dependents(container: Container, protector: CodeProtector,
                      tenant_id: str | None) -> int:
    """Dependent rows still holding a plaintext code (written by a redemption that raced a
    migration batch): rewritten to the lookup. Full scans, once per run."""
    fixed = 0
    where = " AND tenant_id = :t" if tenant_id else ""
    for table, key in (("redemptions", "redemption_id"), ("code_allocations", "code"),
                       ("reward_records", "grant_id")):
        def work(table: str = table, key: str = key) -> int:
            with container.engine.begin() as conn:
                rows = conn.execute(text(
                    f"SELECT {key}, tenant_id, code FROM {table}"
                    f" WHERE code NOT LIKE '~%'{where}"), {"t": tenant_id}).all()
                for row_key, tenant, code in rows:
                    conn.execute(text(f"UPDATE {table} SET code = :l WHERE {key} = :k"
                                      " AND tenant_id = :t"),
                                 {"l": protector.lookup(tenant, code), "k": row_key,
                                  "t": tenant})
                return len(rows)

        fixed += guarded(f"rewrite {table}", work)
    return fixed

