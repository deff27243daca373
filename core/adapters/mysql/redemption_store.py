"""MySQL side of redemption: outcomes already decided, code lookups, the batch commit and
the record of produced grants. Blocking: call it from an executor, never the event loop."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from core.adapters.mysql.engine import guarded
from core.errors import ConcurrentUpdate
from core.redemption.model import Attempt, CampaignInfo, CodeState
from schemas.campaign import CampaignRule
from schemas.code_rule import CodeGenerateRule
from schemas.events import RedeemOutcome, RewardGrant

_OUTCOMES = text(
    "SELECT o.request_id, o.outcome, o.redemption_id, r.status, r.grants_json, r.code"
    " FROM request_outcomes o LEFT JOIN redemptions r ON r.redemption_id = o.redemption_id"
    " WHERE o.request_id IN :ids"
).bindparams(bindparam("ids", expanding=True))

_CODES_SQL = (
    "SELECT id, tenant_id, code, campaign_id, status, use_limit, used_count, user_id"
    " FROM redeem_codes WHERE tenant_id = :t AND code IN :codes"
)
_CODES = text(_CODES_SQL).bindparams(bindparam("codes", expanding=True))
_CODES_LOCKED = text(_CODES_SQL + " ORDER BY code FOR UPDATE").bindparams(
    bindparam("codes", expanding=True)
)

_CAMPAIGNS = text(
    "SELECT campaign_id, tenant_id, status, valid_from, valid_until, use_limit, per_user_limit,"
    " rule_json FROM campaigns WHERE campaign_id IN :ids"
).bindparams(bindparam("ids", expanding=True))

_USAGE_SQL = (
    "SELECT campaign_id, user_id, used FROM campaign_user_usage"
    " WHERE tenant_id = :t AND campaign_id IN :campaigns AND user_id IN :users"
)
_USAGE = text(_USAGE_SQL).bindparams(
    bindparam("campaigns", expanding=True), bindparam("users", expanding=True)
)
_USAGE_LOCKED = text(_USAGE_SQL + " FOR UPDATE").bindparams(
    bindparam("campaigns", expanding=True), bindparam("users", expanding=True)
)


@dataclass(frozen=True)
class KnownOutcome:
    """A request's recorded outcome; for redemptions also its status, grants and code."""

    outcome: str
    redemption_id: str | None
    status: int | None
    grants: list[RewardGrant]
    code: str | None


class RedemptionStore:
    """Reads and writes of the redemption path, each one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def known_outcomes(self, request_ids: Sequence[str]) -> dict[str, KnownOutcome]:
        """Outcomes already recorded for these requests, by request_id."""
        if not request_ids:
            return {}

        def work() -> dict[str, KnownOutcome]:
            with self._engine.connect() as conn:
                rows = conn.execute(_OUTCOMES, {"ids": list(request_ids)}).all()
            found = {}
            for rid, outcome, red_id, status, grants_json, code in rows:
                raw_grants = _json(grants_json)
                grants = [RewardGrant.model_validate(g) for g in raw_grants or []]  # type: ignore[attr-defined]
                found[rid] = KnownOutcome(outcome, red_id, status, grants, code)
            return found

        return guarded("read known outcomes", work)

    def campaigns(self, campaign_ids: Iterable[str]) -> dict[str, CampaignInfo]:
        """Campaign facts for redemption, by id."""
        ids = sorted(set(campaign_ids))
        if not ids:
            return {}

        def work() -> dict[str, CampaignInfo]:
            with self._engine.connect() as conn:
                rows = conn.execute(_CAMPAIGNS, {"ids": ids}).all()
            return {row.campaign_id: _campaign_info(row) for row in rows}

        return guarded("read campaigns", work)

    def tenant_code_rules(self, tenant_id: str) -> list[CodeGenerateRule]:
        """The distinct code rules of a tenant's campaigns (for offline format checks)."""

        def work() -> list[CodeGenerateRule]:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT rule_json FROM campaigns WHERE tenant_id = :t"), {"t": tenant_id}
                ).all()
            rules = (CampaignRule.model_validate(_json(r[0])).code for r in rows)
            distinct = {rule.model_dump_json(): rule for rule in rules}
            return [distinct[k] for k in sorted(distinct)]

        return guarded("read code rules", work)

    def lookup_codes(self, tenant_id: str, codes: Sequence[str]) -> dict[str, CodeState]:
        """Current MySQL state of some codes of one tenant."""
        if not codes:
            return {}

        def work() -> dict[str, CodeState]:
            with self._engine.connect() as conn:
                return _select_codes(conn, tenant_id, codes, lock=False)

        return guarded("look up codes", work)

    def user_usage(
        self, tenant_id: str, campaign_ids: Sequence[str], users: Sequence[str]
    ) -> dict[tuple[str, str], int]:
        """Per-user redemption counts: (campaign_id, user_id) -> used."""
        if not campaign_ids or not users:
            return {}

        def work() -> dict[tuple[str, str], int]:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    _USAGE,
                    {
                        "t": tenant_id,
                        "campaigns": list(set(campaign_ids)),
                        "users": list(set(users)),
                    },
                ).all()
            return {(r[0], r[1]): int(r[2]) for r in rows}

        return guarded("read user usage", work)

    def commit(
        self,
        claims: list[Attempt],
        decided: list[Attempt],
        campaigns: dict[str, CampaignInfo],
        now: datetime,
    ) -> None:
        """Apply claims against locked MySQL rows and record every outcome, atomically.

        A claim MySQL disagrees with (code used, voided, user limit) is settled with MySQL's
        answer and marked for a cache repair. Raises ConcurrentUpdate when another worker
        recorded one of these requests meanwhile (the caller retries and replays it).
        """

        def work() -> None:
            try:
                with self._engine.begin() as conn:
                    _commit(conn, claims, campaigns, now)
                    _insert_outcomes(conn, [*claims, *decided], now)
            except IntegrityError as exc:
                for attempt in claims:
                    attempt.cache_repair = None
                raise ConcurrentUpdate(f"request recorded concurrently: {exc.orig}") from exc

        guarded("commit redemptions", work)

    def record_grants(self, attempts: Sequence[Attempt], now: datetime) -> None:
        """After the grants are on the broker: reward records, redemption and code status 2."""
        redeemed = [a for a in attempts if a.redemption_id and a.outcome is RedeemOutcome.REDEEMED]
        if not redeemed:
            return

        def work() -> None:
            with self._engine.begin() as conn:
                _record(conn, redeemed, now)

        guarded("record grants", work)


def _json(value: object) -> object:
    if value is None or isinstance(value, (dict, list)):
        return value
    return orjson.loads(value)  # type: ignore[arg-type]


def _campaign_info(row: object) -> CampaignInfo:
    rule = CampaignRule.model_validate(_json(row.rule_json))  # type: ignore[attr-defined]
    return CampaignInfo(
        campaign_id=row.campaign_id,  # type: ignore[attr-defined]
        tenant_id=row.tenant_id,  # type: ignore[attr-defined]
        status=row.status,  # type: ignore[attr-defined]
        valid_from=row.valid_from,  # type: ignore[attr-defined]
        valid_until=row.valid_until,  # type: ignore[attr-defined]
        products=list(rule.applicable_products),
        use_limit=int(row.use_limit),  # type: ignore[attr-defined]
        per_user_limit=int(row.per_user_limit),  # type: ignore[attr-defined]
        reward_rules=list(rule.reward_rules),
    )


def _bulk(conn: Connection, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
    """A multi-row statement straight through the driver (``%s`` placeholders): pymysql
    folds the rows into one INSERT, without SQLAlchemy's per-row parameter processing."""
    if rows:
        conn.exec_driver_sql(sql, list(rows))


def _select_codes(
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


def _commit(
    conn: Connection, claims: list[Attempt], campaigns: dict[str, CampaignInfo], now: datetime
) -> None:
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
    states = _select_codes(conn, tenant_id, [a.code for a in claims if a.code], lock=True)
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
        selects.append(f"SELECT :id{i} AS id, :n{i} AS n, :s{i} AS s, :u{i} AS u")
        params[f"id{i}"] = state.row_id
        params[f"n{i}"] = used[state.code]
        params[f"s{i}"] = 1 if used[state.code] >= state.use_limit else 0
        params[f"u{i}"] = last_user.get(state.code)
    conn.execute(
        text(
            "UPDATE redeem_codes c JOIN (" + " UNION ALL ".join(selects) + ") v ON c.id = v.id"
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


def _insert_outcomes(conn: Connection, attempts: list[Attempt], now: datetime) -> None:
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


def _record(conn: Connection, redeemed: list[Attempt], now: datetime) -> None:
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
