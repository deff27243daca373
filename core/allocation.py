"""Hand one pre-generated code to one user, atomically (seed 000 "预生成+异步分配").

    SPOP pool:<campaign> -> guarded bind in MySQL (unused, unexported, unbound)
        -> code entry rewritten with bound_user -> the code
    pool empty / unreachable / only stale members -> MySQL fallback
        (lowest free code, FOR UPDATE SKIP LOCKED) -> bind -> the code
    nothing free -> PoolExhausted

SPOP gives each member to one caller; the guarded UPDATE and the ``code_allocations``
primary key make MySQL refuse a second binding anyway, so a stale pool member (exported or
voided meanwhile) is simply dropped and the next one taken. An allocated code is bound
(``redeem_codes.user_id``): only that user can redeem it, and exports skip it. It is not
marked ``export_status = 1``: that flag and its audit columns describe file exports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from core.adapters.mysql import code_admin_store as store
from core.adapters.mysql.code_admin_store import BoundCode
from core.adapters.mysql.engine import guarded
from core.adapters.redis.keys import code_value
from core.adapters.redis.pool import CodePool
from core.bootstrap import Container
from core.errors import CacheUnavailable, PoolExhausted, UnknownCampaign

log = logging.getLogger(__name__)

#: Stale pool members tolerated per call before going to MySQL directly.
MAX_POOL_TRIES = 64


def allocate_code(container: Container, tenant_id: str, campaign_id: str, user_id: str) -> str:
    """Bind one free code of the campaign to ``user_id`` and return it (full code: its seal
    opened; the pool and MySQL know only its lookup).

    Raises KeyMaterialError/TamperedCode (before anything is bound) when the code's seal
    cannot be opened, PoolExhausted when no free code is left, UnknownCampaign when the
    tenant has no such campaign, StorageUnavailable when MySQL is unreachable.
    """
    if not user_id:
        raise ValueError("user_id must not be empty")
    pool = CodePool(container.redis, container.keys)
    bound = _from_pool(container, pool, tenant_id, campaign_id, user_id)
    if bound is None:
        bound = _run(container, tenant_id, lambda conn, now: store.bind_any_free(
            conn, tenant_id, campaign_id, user_id, now))
    if bound is None:
        raise _exhausted(container, tenant_id, campaign_id)
    _mirror(pool, tenant_id, bound, user_id)
    return _reveal(container, tenant_id, bound)


def _reveal(container: Container, tenant_id: str, bound: BoundCode) -> str:
    """The bound code in full. Also called inside the binding transaction, so a seal that
    does not open rolls the binding back (nothing written)."""
    return container.settings.code_protector.reveal(
        tenant_id, bound.code, bound.key_id, bound.sealed, where=f"tenant {tenant_id}")


def _from_pool(container: Container, pool: CodePool, tenant_id: str, campaign_id: str,
               user_id: str) -> BoundCode | None:
    for _ in range(MAX_POOL_TRIES):
        try:
            code = pool.pop(tenant_id, campaign_id)
        except CacheUnavailable as exc:
            log.warning("pool unavailable, allocating from MySQL: %s", exc)
            return None
        if code is None:
            return None
        bound = _run(container, tenant_id, lambda conn, now, code=code: store.bind_code(
            conn, tenant_id, campaign_id, code, user_id, now))
        if bound is not None:
            return bound
    return None


def _run(container: Container, tenant_id: str,
         work: Callable[..., BoundCode | None]) -> BoundCode | None:
    """One short READ COMMITTED transaction (no gap locks, skipped rows stay unlocked)."""
    now = datetime.now(UTC).replace(tzinfo=None)

    def transaction() -> BoundCode | None:
        with container.engine.connect() as raw:
            conn = raw.execution_options(isolation_level="READ COMMITTED")
            with conn.begin():
                bound = work(conn, now)
                if bound is not None:
                    _reveal(container, tenant_id, bound)
                return bound

    return guarded("allocate code", transaction)


def _mirror(pool: CodePool, tenant_id: str, bound: BoundCode, user_id: str) -> None:
    """Write the binding into the code entry; if Redis misses it, MySQL's judge still holds."""
    value = code_value(bound.campaign_id, bound.use_limit, 0, 0, user_id)
    try:
        pool.set_entries(tenant_id, [(bound.code, value)])
    except CacheUnavailable as exc:
        log.warning("code bound in MySQL but not in Redis (the commit check covers it): %s", exc)


def _exhausted(container: Container, tenant_id: str, campaign_id: str) -> Exception:
    def work() -> bool:
        with container.engine.connect() as conn:
            return store.campaign_exists(conn, tenant_id, campaign_id)

    if not guarded("read campaign", work):
        return UnknownCampaign(f"tenant {tenant_id} has no campaign {campaign_id}")
    return PoolExhausted(
        f"campaign {campaign_id} of tenant {tenant_id} has no code left to allocate: every "
        "code is allocated, exported, used or voided (generate more codes)"
    )
