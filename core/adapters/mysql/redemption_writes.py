"""The write side of redemption in MySQL: the guarded batch commit and the record of
granted redemptions (shared with compensation). Blocking: run from an executor."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from core.redemption.model import Attempt, CampaignInfo, CodeState
from schemas.events import RedeemOutcome, RewardGrant

_CODES_SQL = (
    "SELECT id, tenant_id, code, campaign_id, status, use_limit, used_count, user_id"
    " FROM redeem_codes WHERE tenant_id = :t AND code IN :codes"
)
_CODES = text(_CODES_SQL).bindparams(bindparam("codes", expanding=True))
_CODES_LOCKED = text(_CODES_SQL + " ORDER BY code FOR UPDATE").bindparams(
    bindparam("codes", expanding=True)
)
_USAGE_SQL = (
    "SELECT campaign_id, user_id, used FROM campaign_user_usage"
    " WHERE tenant_id = :t AND campaign_id IN :campaigns AND user_id IN :users"
)
_USAGE_LOCKED = text(_USAGE_SQL + " FOR UPDATE").bindparams(
    bindparam("campaigns", expanding=True), bindparam("users", expanding=True)
)


def _bulk(conn: Connection, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
    """A multi-row statement straight through the driver (``%s`` placeholders): pymysql
    folds the rows into one INSERT, without SQLAlchemy's per-row parameter processing."""
    if rows:
        conn.exec_driver_sql(sql, list(rows))


def select_codes(
    conn: Connection, tenant_id: str, codes: Sequence[str], *, lock: bool
) -> dict[str, CodeState]:
    statement = _CODES_LOCKED if lock else _CODES
    rows = conn.execute(statement, {"t": tenant_id, "codes": sorted(set(codes))}).all()
    return {
        r.code: CodeState(
            int(r.id),
            r.tenant_id,
            r.code,
            r.campaign_id,
            int(r.status),
            int(r.use_limit),
            int(r.used_count),
            r.user_id,
        )
        for r in rows
    }


def commit_claims(
    conn: Connection, claims: list[Attempt], campaigns: dict[str, CampaignInfo], now: datetime
) -> None:
    """Judge every claim again against locked rows (tenants in sorted order) and write the
    accepted ones; refused claims are settled with MySQL's answer and marked for repair."""
    by_tenant: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in claims:
        by_tenant[attempt.tenant_id].append(attempt)
    for tenant_id in sorted(by_tenant):
        _commit_tenant(conn, tenant_id, by_tenant[tenant_id], campaigns, now)


def _commit_tenant(
    conn: Connection,
    tenant_id: str,
    claims: list[Attempt],
    campaigns: dict[str, CampaignInfo],
    now: datetime,
) -> None:
    assert all(a.code for a in claims)
    states = select_codes(conn, tenant_id, [a.code for a in claims if a.code], lock=True)
    users = sorted({a.request.user_id for a in claims})
    camp_ids = sorted({s.campaign_id for s in states.values()})
    usage: dict[tuple[str, str], int] = {}
    if camp_ids:
        rows = conn.execute(
            _USAGE_LOCKED,
            {"t": tenant_id, "campaigns": camp_ids, "users": users},
        ).all()
        usage = {(r[0], r[1]): int(r[2]) for r in rows}
    used = {code: s.used_count for code, s in states.items()}
    touched_usage: set[tuple[str, str]] = set()
    redemptions = []
    for attempt in claims:
        verdict = _judge(attempt, states.get(attempt.code or ""), used, usage, campaigns)
        if verdict is not RedeemOutcome.REDEEMED:
            attempt.decide(verdict)
            attempt.cache_repair = states.get(attempt.code or "")
            attempt.cache_forget = attempt.cache_repair is None
            continue
        state = states[attempt.code or ""]
        used[state.code] += 1
        key = (state.campaign_id, attempt.request.user_id)
        usage[key] = usage.get(key, 0) + 1
        touched_usage.add(key)
        attempt.decide(RedeemOutcome.REDEEMED)
        attempt.grants_pending = True
        redemptions.append(_redemption_row(attempt, state, now))
    for attempt in claims:
        refused = attempt.cache_repair
        if refused is not None:
            attempt.cache_user_used = usage.get((refused.campaign_id, attempt.request.user_id), 0)
    _write_codes(conn, tenant_id, states, used, claims, now)
    if touched_usage:
        _bulk(
            conn,
            "INSERT INTO campaign_user_usage (tenant_id, campaign_id, user_id, used)"
            " VALUES (%s, %s, %s, %s) ON DUPLICATE KEY UPDATE used = VALUES(used)",
            [(tenant_id, c, u, usage[(c, u)]) for c, u in sorted(touched_usage)],
        )
    if redemptions:
        _bulk(
            conn,
            "INSERT INTO redemptions (redemption_id, request_id, tenant_id, code, campaign_id,"
            " product_code, user_id, device_id, channel, status, grants_json, claimed_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            redemptions,
        )


def _judge(
    attempt: Attempt,
    state: CodeState | None,
    used: dict[str, int],
    usage: dict[tuple[str, str], int],
    campaigns: dict[str, CampaignInfo],
) -> RedeemOutcome:
    user = attempt.request.user_id
    if state is None or state.status == 3 or (state.bound_user and state.bound_user != user):
        return RedeemOutcome.NOT_FOUND
    if used[state.code] >= state.use_limit or state.status in (1, 2):
        return RedeemOutcome.ALREADY_USED
    campaign = campaigns.get(state.campaign_id)
    limit = campaign.per_user_limit if campaign else 1
    if usage.get((state.campaign_id, user), 0) >= limit:
        return RedeemOutcome.USER_LIMIT_REACHED
    return RedeemOutcome.REDEEMED


def _write_codes(
    conn: Connection,
    tenant_id: str,
    states: dict[str, CodeState],
    used: dict[str, int],
    claims: list[Attempt],
    now: datetime,
) -> None:
    """One UPDATE for every changed code of the tenant (joined to a derived table of values)."""
    changed = [s for code, s in states.items() if used[code] != s.used_count]
    if not changed:
        return
    last_user = {a.code: a.request.user_id for a in claims if a.outcome is RedeemOutcome.REDEEMED}
    params: dict[str, object] = {"t": tenant_id, "now": now}
    selects = []
    for i, state in enumerate(changed):
        selects.append(f"SELECT :c{i} AS c, :id{i} AS id, :n{i} AS n, :s{i} AS s, :u{i} AS u")
        params[f"c{i}"] = state.campaign_id
        params[f"id{i}"] = state.row_id
        params[f"n{i}"] = used[state.code]
        params[f"s{i}"] = 1 if used[state.code] >= state.use_limit else 0
        params[f"u{i}"] = last_user.get(state.code)
    conn.execute(
        text(
            "UPDATE redeem_codes c JOIN (" + " UNION ALL ".join(selects) + ") v"
            " ON c.campaign_id = v.c AND c.id = v.id"
            " SET c.used_count = v.n, c.status = v.s, c.act_user_id = v.u, c.act_time = :now,"
            " c.claimed_at = :now WHERE c.tenant_id = :t"
        ),
        params,
    )


def _redemption_row(attempt: Attempt, state: CodeState, now: datetime) -> tuple[object, ...]:
    request = attempt.request
    grants = orjson.dumps([g.model_dump(mode="json") for g in attempt.grants]).decode()
    return (
        attempt.redemption_id,
        request.request_id,
        request.tenant_id,
        state.code,
        state.campaign_id,
        request.product_code,
        request.user_id,
        request.device_id,
        request.channel.value,
        1,
        grants,
        now,
    )


def insert_outcomes(conn: Connection, attempts: list[Attempt], now: datetime) -> None:
    """One request_outcomes row per request decided now (I4: its one and only outcome)."""
    rows = [
        (
            a.request_id,
            a.tenant_id,
            a.request.user_id,
            (a.outcome or RedeemOutcome.INVALID_REQUEST).value,
            a.redemption_id,
            orjson.dumps([g.grant_id for g in a.grants]).decode(),
            now,
        )
        for a in attempts
        if not a.replayed
    ]
    if rows:
        _bulk(
            conn,
            "INSERT INTO request_outcomes (request_id, tenant_id, user_id, outcome,"
            " redemption_id, grant_ids_json, processed_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            rows,
        )


@dataclass(frozen=True)
class GrantedRedemption:
    """A redemption whose grants are on the broker: what recording them needs."""

    tenant_id: str
    redemption_id: str
    code: str
    grants: list[RewardGrant]


def record_attempts(conn: Connection, redeemed: list[Attempt], now: datetime) -> None:
    """``record_granted`` for attempts of the redemption path."""
    record_granted(
        conn,
        [
            GrantedRedemption(a.tenant_id, a.redemption_id or "", a.code or "", a.grants)
            for a in redeemed
        ],
        now,
    )


def record_granted(conn: Connection, redeemed: Sequence[GrantedRedemption], now: datetime) -> None:
    """Reward records (INSERT IGNORE by grant_id), redemption status 2, and code status 2 once
    no redemption of the code is pending. Shared by the redemption path and compensation."""
    grants = [(r, g) for r in redeemed for g in r.grants]
    if grants:
        _bulk(
            conn,
            "INSERT IGNORE INTO reward_records (grant_id, redemption_id, tenant_id, user_id,"
            " campaign_id, code, reward_type, reward_id, quantity, recorded_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
                for r, g in grants
            ],
        )
    conn.execute(
        text(
            "UPDATE redemptions SET status = 2, granted_at = :now"
            " WHERE redemption_id IN :ids AND status = 1"
        ).bindparams(bindparam("ids", expanding=True)),
        {"now": now, "ids": [r.redemption_id for r in redeemed]},
    )
    by_tenant: dict[str, set[str]] = defaultdict(set)
    for item in redeemed:
        by_tenant[item.tenant_id].add(item.code)
    for tenant_id, codes in by_tenant.items():
        conn.execute(
            text(
                "UPDATE redeem_codes c SET c.status = 2 WHERE c.tenant_id = :t"
                " AND c.code IN :codes AND c.status = 1 AND NOT EXISTS (SELECT 1 FROM redemptions r"
                " WHERE r.tenant_id = c.tenant_id AND r.code = c.code AND r.status = 1)"
            ).bindparams(bindparam("codes", expanding=True)),
            {"t": tenant_id, "codes": sorted(codes)},
        )
