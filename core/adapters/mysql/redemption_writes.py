"""The write side of redemption in MySQL: the guarded batch commit and the record of
granted redemptions (shared with compensation).

Functions taking a connection block: run them from an executor. The script builders
(:func:`commit_script`, :func:`record_script`) do no I/O, so the event loop's thread can
judge, build and render while the executor's thread only waits on MySQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from core.adapters.mysql import stored_grants
from core.adapters.mysql.script import SqlScript, fetch_sets, marks
from core.adapters.mysql.stored_grants import RedemptionFacts
from core.codes.status import CodeStatus, RedemptionStatus
from core.redemption.model import Attempt, CodeState
from core.redemption.verdict import CodeUse, CommitPlan, LockedRows, UsageCount
from schemas.events import RedeemOutcome, RewardGrant

_CODES_SQL = (
    "SELECT id, tenant_id, code, campaign_id, status, use_limit, used_count, user_id"
    " FROM redeem_codes FORCE INDEX (uk_tenant_code) WHERE tenant_id = %s AND code IN ({codes})"
)
#: The primary key is forced: while the table is small, or its statistics lag behind its
#: growth, the optimizer scans it whole, and a locking scan waits on every row another
#: batch's open commit has inserted or changed (each sustained benchmark run showed a few
#: such waits, 50-350 ms in all), where point lookups touch only these users' rows.
_USAGE_LOCKED_SQL = (
    "SELECT campaign_id, user_id, used FROM campaign_user_usage FORCE INDEX (PRIMARY)"
    " WHERE tenant_id = %s AND campaign_id IN ({campaigns}) AND user_id IN ({users}) FOR UPDATE"
)


def select_codes(
    conn: Connection, tenant_id: str, codes: Sequence[str], *, lock: bool = False
) -> dict[str, CodeState]:
    """The MySQL rows of some codes of one tenant (locked, in code order, when ``lock``)."""
    query = _codes_query(tenant_id, codes, lock=lock)
    return _code_states(fetch_sets(conn, [query])[0]) if query else {}


def _codes_query(
    tenant_id: str, codes: Iterable[str], *, lock: bool
) -> tuple[str, list[object]] | None:
    wanted = sorted(set(codes))
    if not wanted:
        return None
    sql = _CODES_SQL.format(codes=marks(wanted)) + (" ORDER BY code FOR UPDATE" if lock else "")
    return sql, [tenant_id, *wanted]


def _usage_query(
    tenant_id: str, campaigns: Iterable[str], users: Iterable[str]
) -> tuple[str, list[object]]:
    camp_ids, user_ids = sorted(set(campaigns)), sorted(set(users))
    sql = _USAGE_LOCKED_SQL.format(campaigns=marks(camp_ids), users=marks(user_ids))
    return sql, [tenant_id, *camp_ids, *user_ids]


def _code_states(rows: Iterable[Any]) -> dict[str, CodeState]:
    return {
        r[2]: CodeState(int(r[0]), r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]), r[7])
        for r in rows
    }


def claims_by_tenant(claims: Iterable[Attempt]) -> dict[str, list[Attempt]]:
    """Claims grouped by tenant (the unit of every locked read and write)."""
    by_tenant: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in claims:
        by_tenant[attempt.tenant_id].append(attempt)
    return dict(by_tenant)


def commit_script(plan: CommitPlan, attempts: list[Attempt], now: datetime) -> SqlScript:
    """The commit's writes as the domain planned them (no I/O, no judging): changed codes,
    usage counts and new redemptions per tenant, then every outcome decided now."""
    script = SqlScript()
    for tenant_id in sorted(plan.tenants):
        tenant = plan.tenants[tenant_id]
        _write_codes(script, tenant_id, tenant.codes, now)
        _write_usage(script, tenant_id, tenant.usage)
        script.add_rows(
            "INSERT INTO redemptions (redemption_id, request_id, tenant_id, code, campaign_id,"
            " product_code, user_id, device_id, channel, status, grants_json, claimed_at)",
            [_redemption_row(r.attempt, r.state, now) for r in tenant.redemptions],
        )
    add_outcomes(script, attempts, now)
    return script


#: The commit transaction's isolation (why: ``RedemptionStore.begin_commit``), set by the
#: statement before its first read.
_READ_COMMITTED: tuple[str, list[object]] = ("SET TRANSACTION ISOLATION LEVEL READ COMMITTED", [])
#: A plain (consistent, unlocked) read: the campaigns' status as committed now.
_CAMPAIGN_STATUS_SQL = "SELECT campaign_id, status FROM campaigns WHERE campaign_id IN ({ids})"


def lock_rows(conn: Connection, by_tenant: dict[str, list[Attempt]]) -> dict[str, LockedRows]:
    """The commit's first step, starting its transaction READ COMMITTED: the claimed codes
    and their per-user usage, locked, and their campaigns' status; one round trip (tenants
    and codes in sorted order). Usage and status are read for the campaigns Redis named; a
    code whose MySQL campaign differs gets them read in a second round trip. Without
    claims, nothing is sent (the transaction only inserts outcomes, at any isolation)."""
    if not by_tenant:
        return {}
    queries: list[tuple[str, list[object]]] = [_READ_COMMITTED]
    for tenant_id in sorted(by_tenant):
        group = by_tenant[tenant_id]
        named = sorted({a.campaign_id or "" for a in group})
        query = _codes_query(tenant_id, (a.code or "" for a in group), lock=True)
        assert query is not None
        queries += [
            query,
            _usage_query(tenant_id, named, [a.request.user_id for a in group]),
            _status_query(named),
        ]
    sets = iter(fetch_sets(conn, queries)[1:])
    locked: dict[str, LockedRows] = {}
    for tenant_id in sorted(by_tenant):
        rows = LockedRows(
            _code_states(next(sets)),
            {(r[0], r[1]): int(r[2]) for r in next(sets)},
            {r[0]: r[1] for r in next(sets)},
        )
        others = {s.campaign_id for s in rows.states.values()} - set(rows.campaign_status)
        if others:
            users = [a.request.user_id for a in by_tenant[tenant_id]]
            usage, status = fetch_sets(
                conn, [_usage_query(tenant_id, others, users), _status_query(others)]
            )
            rows.usage.update({(r[0], r[1]): int(r[2]) for r in usage})
            rows.campaign_status.update({r[0]: r[1] for r in status})
        locked[tenant_id] = rows
    return locked


def _status_query(campaigns: Iterable[str]) -> tuple[str, list[object]]:
    ids = sorted(set(campaigns))
    return _CAMPAIGN_STATUS_SQL.format(ids=marks(ids)), list(ids)


def _write_usage(script: SqlScript, tenant_id: str, counts: list[UsageCount]) -> None:
    """The new per-user counts. A row read (and locked) is overwritten; a row that was
    absent is inserted plainly: the commit reads READ COMMITTED, which locks no gap, so
    another transaction may have inserted it since, and then the duplicate key fails this
    commit (to be judged again) rather than losing that transaction's count."""
    insert = "INSERT INTO campaign_user_usage (tenant_id, campaign_id, user_id, used)"
    read = [(tenant_id, c.campaign_id, c.user_id, c.used) for c in counts if c.existed]
    new = [(tenant_id, c.campaign_id, c.user_id, c.used) for c in counts if not c.existed]
    script.add_rows(insert, read, " ON DUPLICATE KEY UPDATE used = VALUES(used)")
    script.add_rows(insert, new)


def _write_codes(script: SqlScript, tenant_id: str, uses: list[CodeUse], now: datetime) -> None:
    """One UPDATE per campaign for every changed code of the tenant, joined to a derived
    table of the new values. The campaign and the column names are stated once, not per
    row: MariaDB's cost per row of this statement grows with the text it parses (measured
    on batches of 1,000: 37 µs per row with both on every row, 22 without)."""
    changed: dict[str, list[CodeUse]] = defaultdict(list)
    for use in uses:
        changed[use.state.campaign_id].append(use)
    for campaign_id in sorted(changed):
        rows = changed[campaign_id]
        params: list[object] = []
        for use in rows:
            params += [use.state.row_id, use.used, int(use.status), use.last_user]
        first, rest = "SELECT %s AS id, %s AS n, %s AS s, %s AS u", "SELECT %s, %s, %s, %s"
        values = " UNION ALL ".join([first] + [rest] * (len(rows) - 1))
        script.add(
            f"UPDATE redeem_codes c JOIN ({values}) v ON c.id = v.id"
            " SET c.used_count = v.n, c.status = v.s, c.act_user_id = v.u, c.act_time = %s,"
            " c.claimed_at = %s WHERE c.tenant_id = %s AND c.campaign_id = %s",
            [*params, now, now, tenant_id, campaign_id],
        )


def _redemption_row(attempt: Attempt, state: CodeState, now: datetime) -> tuple[object, ...]:
    request = attempt.request
    facts = RedemptionFacts(
        attempt.redemption_id or "",
        request.request_id,
        request.tenant_id,
        request.product_code,
        state.campaign_id,
        request.user_id,
        now,
    )
    return (
        facts.redemption_id,
        facts.request_id,
        facts.tenant_id,
        state.code,
        facts.campaign_id,
        facts.product_code,
        facts.user_id,
        request.device_id,
        request.channel.value,
        int(RedemptionStatus.PENDING),
        stored_grants.pack(attempt.grants, facts),
        now,
    )


def add_outcomes(script: SqlScript, attempts: list[Attempt], now: datetime) -> None:
    """One request_outcomes row per request decided now (I4: its one and only outcome)."""
    script.add_rows(
        "INSERT INTO request_outcomes (request_id, tenant_id, user_id, outcome,"
        " redemption_id, grant_ids_json, processed_at, request_hash, message)",
        [
            (
                a.request_id,
                a.tenant_id,
                a.request.user_id,
                (a.outcome or RedeemOutcome.INVALID_REQUEST).value,
                a.redemption_id,
                orjson.dumps([g.grant_id for g in a.grants]).decode(),
                now,
                a.fingerprint,
                a.message,
            )
            for a in attempts
            if not a.replayed
        ],
    )


@dataclass(frozen=True)
class GrantedRedemption:
    """A redemption whose grants are on the broker: what recording them needs."""

    tenant_id: str
    redemption_id: str
    code: str
    grants: list[RewardGrant]


#: Whether code ``c`` has a pending redemption. The index is forced: with few pending rows
#: the optimizer may prefer ``idx_pending``, and inside an UPDATE (REPEATABLE READ) that read
#: locks every pending row and the gap new claims are inserted into, so recording one batch
#: blocks (or deadlocks with) the commit of the next.
PENDING_OF_CODE = (
    "SELECT 1 FROM redemptions r FORCE INDEX (idx_code)"
    " WHERE r.tenant_id = c.tenant_id AND r.code = c.code"
    f" AND r.status = {RedemptionStatus.PENDING:d}"
)


def granted_attempts(redeemed: list[Attempt]) -> list[GrantedRedemption]:
    """What recording the grants of the redemption path's attempts needs."""
    return [
        GrantedRedemption(a.tenant_id, a.redemption_id or "", a.code or "", a.grants)
        for a in redeemed
    ]


def record_granted(conn: Connection, redeemed: Sequence[GrantedRedemption], now: datetime) -> None:
    """Run :func:`record_script` on ``conn`` (nothing when nothing was granted)."""
    if redeemed:
        record_script(redeemed, now).run(conn)


def record_script(redeemed: Sequence[GrantedRedemption], now: datetime) -> SqlScript:
    """Reward records (INSERT IGNORE by grant_id), redemption status 2, and code status 2 once
    no redemption of the code is pending; one round trip on a hot-path connection. Shared by
    the redemption path and compensation; it must be the first work of its transaction.

    The transaction reads READ COMMITTED: under REPEATABLE READ the status updates' IN-list
    scans take next-key locks, whose gaps the next batch's commit inserts its redemptions
    into, and the two deadlocked (about once per 20,000 redemptions in ``bench/redeem.py``).
    Nothing here needs a repeatable snapshot: every row it changes is locked, and the one
    read (is a redemption of this code pending?) can only go from yes to no once the code is
    exhausted, so a stale yes leaves status 1 for compensation, never a wrong status 2."""
    script = SqlScript()
    script.add("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    script.add_rows(
        "INSERT IGNORE INTO reward_records (grant_id, redemption_id, tenant_id, user_id,"
        " campaign_id, code, reward_type, reward_id, quantity, recorded_at)",
        [
            (
                g.grant_id,
                g.redemption_id,
                g.tenant_id,
                g.user_id,
                g.campaign_id,
                r.code,
                g.reward.type.value,
                g.reward.id,
                g.reward.quantity,
                now,
            )
            for r in redeemed
            for g in r.grants
        ],
    )
    ids = [r.redemption_id for r in redeemed]
    script.add(
        # by primary key, forced: on a small table (a new deployment) the optimizer scans a
        # whole index instead, every row of it locked and checked against the next commit's
        "UPDATE redemptions FORCE INDEX (PRIMARY)"
        f" SET status = {RedemptionStatus.GRANTED:d}, granted_at = %s"
        f" WHERE redemption_id IN ({marks(ids)}) AND status = {RedemptionStatus.PENDING:d}",
        [now, *ids],
    )
    by_tenant: dict[str, set[str]] = defaultdict(set)
    for item in redeemed:
        by_tenant[item.tenant_id].add(item.code)
    for tenant_id, code_set in sorted(by_tenant.items()):
        codes = sorted(code_set)
        script.add(
            "UPDATE redeem_codes c FORCE INDEX (uk_tenant_code)"
            f" SET c.status = {CodeStatus.GRANTED:d}"
            f" WHERE c.tenant_id = %s AND c.code IN ({marks(codes)})"
            f" AND c.status = {CodeStatus.CLAIMED:d}"
            # a single-use code has one redemption only (I1): this one, granted just above
            f" AND (c.use_limit = 1 OR NOT EXISTS ({PENDING_OF_CODE}))",
            [tenant_id, *codes],
        )
    return script
