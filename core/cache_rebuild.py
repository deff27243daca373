"""Rebuild the Redis cache from MySQL, and compare the two.

``rebuild_cache`` reloads, per tenant: campaign hashes, every code entry (used count,
status, bound user), the per-user counters (a counter of a user MySQL has no usage for is
deleted: a claim whose repair was lost, e.g. written to a Redis master that then failed),
and finally the tenant's ``ready`` marker. Codes
and counters are streamed by keyset pagination (``(tenant_id, campaign_id, id)``, the
primary key) in
chunks of ``CHUNK`` rows and written with one pipeline per chunk.

Safe while workers run: every entry is overwritten with MySQL's view. A worker that claimed
a code in Redis but has not committed yet may see its claim undone in the cache; that can
only make Redis *under*-count, and an under-counted claim is re-judged by the guarded MySQL
commit (rows locked ``FOR UPDATE``), which refuses it and repairs the entry. Redis can never
let a used code through (I1, I6). The ready marker is not set while a generation batch of
the tenant is still running (its codes may be in MySQL before they reach Redis).

Blocking: run it from the CLI or an executor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import bindparam, text

from core.adapters.mysql.engine import guarded
from core.adapters.mysql.redemption_store import RedemptionStore
from core.adapters.redis.client import redis_guard as _redis
from core.adapters.redis.keys import campaign_fields
from core.bootstrap import Container
from core.compensation.claims import state_value
from core.redemption.model import CodeState

CHUNK = 5_000
Progress = Callable[[int], None]

_CODES = text(
    "SELECT id, tenant_id, code, campaign_id, status, use_limit, used_count, user_id"
    " FROM redeem_codes WHERE tenant_id = :t"
    " AND (campaign_id > :c OR (campaign_id = :c AND id > :after))"
    " ORDER BY campaign_id, id LIMIT :n"
)
_USAGE = text(
    "SELECT campaign_id, user_id, used FROM campaign_user_usage WHERE tenant_id = :t"
    " AND (campaign_id, user_id) > (:c, :u) ORDER BY campaign_id, user_id LIMIT :n"
)


@dataclass
class RebuildReport:
    """What a rebuild wrote."""

    tenants: list[str] = field(default_factory=list)
    campaigns: int = 0
    codes: int = 0
    user_counters: int = 0
    stale_counters_dropped: int = 0
    ready_set: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0


def _query(container: Container, what: str, statement: Any, params: dict[str, Any]) -> list[Any]:
    def work() -> list[Any]:
        with container.engine.connect() as conn:
            return list(conn.execute(statement, params).all())

    return guarded(what, work)


def tenants_with_codes(container: Container, tenant_id: str | None = None) -> list[str]:
    """The tenants a rebuild covers (one, or every tenant with a campaign)."""
    if tenant_id is not None:
        return [tenant_id]
    rows = _query(container, "list tenants",
                  text("SELECT DISTINCT tenant_id FROM campaigns ORDER BY tenant_id"), {})
    return [r[0] for r in rows]


def count_codes(container: Container, tenants: list[str]) -> int:
    """How many code rows a rebuild of these tenants streams (for a progress bar)."""
    if not tenants:
        return 0
    rows = _query(container, "count codes", text(
        "SELECT COUNT(*) FROM redeem_codes WHERE tenant_id IN :ts"
    ).bindparams(bindparam("ts", expanding=True)), {"ts": tenants})
    return int(rows[0][0])


def rebuild_cache(
    container: Container, tenant_id: str | None = None, progress: Progress | None = None
) -> RebuildReport:
    """Write MySQL's view of campaigns, codes and user counters into Redis, then ``ready``."""
    started = time.monotonic()
    report = RebuildReport(tenants=tenants_with_codes(container, tenant_id))
    for tenant in report.tenants:
        report.campaigns += _load_campaigns(container, tenant)
        for rows in _code_chunks(container, tenant):
            _write_codes(container, tenant, rows)
            report.codes += len(rows)
            if progress:
                progress(len(rows))
        known: set[tuple[str, str]] = set()
        report.user_counters += _load_usage(container, tenant, known)
        report.stale_counters_dropped += _drop_stale_counters(container, tenant, known)
        if not _generation_running(container, tenant) and not _unprotected(container, tenant):
            ready = container.keys.ready(tenant)
            _redis("set ready", partial(container.redis.set, ready, "1"))
            report.ready_set.append(tenant)
    report.duration_seconds = round(time.monotonic() - started, 3)
    return report


def _load_campaigns(container: Container, tenant: str) -> int:
    rows = _query(container, "list campaigns", text(
        "SELECT campaign_id FROM campaigns WHERE tenant_id = :t"), {"t": tenant})
    infos = RedemptionStore(container.engine).campaigns(r[0] for r in rows)
    pipe = container.redis.pipeline(transaction=False)
    for info in infos.values():
        fields = campaign_fields(info.status, info.valid_from, info.valid_until,
                                 info.products, info.per_user_limit, info.reward_rules)
        mapping: dict[Any, Any] = dict(fields)
        pipe.hset(container.keys.campaign(tenant, info.campaign_id), mapping=mapping)
    _redis("write campaigns", pipe.execute)
    return len(infos)


def _code_chunks(container: Container, tenant: str) -> Iterator[list[CodeState]]:
    campaign, after = "", 0
    while True:
        rows = _query(container, "read codes", _CODES,
                      {"t": tenant, "c": campaign, "after": after, "n": CHUNK})
        if not rows:
            return
        campaign, after = rows[-1].campaign_id, int(rows[-1].id)
        yield [_state(r) for r in rows]


def _write_codes(container: Container, tenant: str, states: list[CodeState]) -> None:
    pairs = [x for s in states for x in (container.keys.code(tenant, s.code), state_value(s))]
    pipe = container.redis.pipeline(transaction=False)
    # MSET and DEL through execute_command: a cluster pipeline refuses mset() and
    # multi-key delete(); every key is under the tenant's tag, so each is one slot
    pipe.execute_command("MSET", *pairs)
    pipe.execute_command("DEL", *(container.keys.negative(tenant, s.code) for s in states))
    _redis("write codes", pipe.execute)


def _load_usage(container: Container, tenant: str, known: set[tuple[str, str]]) -> int:
    """Write MySQL's per-user counts; ``known`` collects every (campaign, user) written."""
    written, last = 0, ("", "")
    while True:
        rows = _query(container, "read user usage", _USAGE,
                      {"t": tenant, "c": last[0], "u": last[1], "n": CHUNK})
        if not rows:
            return written
        last = (rows[-1][0], rows[-1][1])
        pipe = container.redis.pipeline(transaction=False)
        for campaign, user, used in rows:
            pipe.hset(container.keys.per_user(tenant, campaign), user, int(used))
            known.add((campaign, user))
        _redis("write user counters", pipe.execute)
        written += len(rows)


def _drop_stale_counters(container: Container, tenant: str, known: set[tuple[str, str]]) -> int:
    """Delete per-user counters MySQL has no usage for (only ever lowers a count: safe while
    workers run, the guarded MySQL commit re-judges); how many."""
    rows = _query(container, "list campaigns", text(
        "SELECT campaign_id FROM campaigns WHERE tenant_id = :t"), {"t": tenant})
    dropped = 0
    for (campaign,) in rows:
        key = container.keys.per_user(tenant, campaign)
        users = _redis("read counters", partial(container.redis.hkeys, key))
        stale = [u for u in map(str, users) if (campaign, u) not in known]
        for start in range(0, len(stale), CHUNK):
            part = stale[start:start + CHUNK]
            dropped += int(_redis("drop counters", partial(container.redis.hdel, key, *part)))
    return dropped


def _generation_running(container: Container, tenant: str) -> bool:
    rows = _query(container, "read code batches", text(
        "SELECT COUNT(*) FROM code_batches WHERE tenant_id = :t AND status = 'RUNNING'"),
        {"t": tenant})
    return int(rows[0][0]) > 0


def _unprotected(container: Container, tenant: str) -> bool:
    """Whether rows written before codes were protected remain (``keys migrate``): their
    entries are keyed by the plaintext, so a miss of a lookup must still reach MySQL."""
    rows = _query(container, "read unprotected codes", text(
        "SELECT 1 FROM redeem_codes WHERE tenant_id = :t AND code_key_id IS NULL LIMIT 1"),
        {"t": tenant})
    return bool(rows)


def _state(row: Any) -> CodeState:
    return CodeState(int(row.id), row.tenant_id, row.code, row.campaign_id, int(row.status),
                     int(row.use_limit), int(row.used_count), row.user_id)


def cache_mismatches(container: Container, tenant_id: str, limit: int = 100) -> list[str]:
    """Where Redis disagrees with MySQL for one tenant (entries missing from Redis are fine):
    code entries, per-user counters, and claim records whose request has no outcome."""
    from core.adapters.mysql.compensation_store import CompensationStore
    from core.compensation.claims import ClaimRecords

    keys, client, problems = container.keys, container.redis, []
    campaigns: set[str] = set()
    for chunk in _code_chunks(container, tenant_id):
        cached = _redis("read codes", partial(client.mget, [keys.code(tenant_id, s.code)
                                                            for s in chunk]))
        for state, value in zip(chunk, cached, strict=True):
            campaigns.add(state.campaign_id)
            if value is not None and value != state_value(state):
                problems.append(f"code {state.code}: redis {value!r} mysql {state_value(state)!r}")
    rows = _query(container, "read user usage", text(
        "SELECT campaign_id, user_id, used FROM campaign_user_usage WHERE tenant_id = :t"),
        {"t": tenant_id})
    truth_usage = {(r[0], r[1]): int(r[2]) for r in rows}
    for campaign in sorted(campaigns):
        counters = _redis("read counters", partial(client.hgetall,
                                                   keys.per_user(tenant_id, campaign)))
        for raw_user, count in counters.items():
            user = raw_user.decode() if isinstance(raw_user, bytes) else str(raw_user)
            if int(count) != truth_usage.get((campaign, user), 0):
                problems.append(f"user {user} in {campaign}: redis {count!r}")
    records = ClaimRecords(client, keys)
    store = CompensationStore(container.engine)
    cursor = 0
    while True:
        cursor, found = records.scan_page(records.pattern(tenant_id), cursor)
        known = store.known_requests(tenant_id, [r.request_id for r in found])
        problems += [f"claim without outcome: {r.request_id}" for r in found
                     if r.request_id not in known]
        if cursor == 0:
            return problems[:limit]
