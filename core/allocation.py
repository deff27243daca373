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
from functools import partial

from core.codes.protection import CodeProtector
from core.codes.status import CodeStatus
from core.errors import CacheUnavailable, PoolExhausted, UnknownCampaign
from core.records import BoundCode, CachedCode
from core.service_ports import AllocationPool, CodePorts, Storage, StoreTx

log = logging.getLogger(__name__)

#: Stale pool members tolerated per call before going to MySQL directly.
MAX_POOL_TRIES = 64


def allocate_code(ports: CodePorts, tenant_id: str, campaign_id: str, user_id: str) -> str:
    """Bind one free code of the campaign to ``user_id`` and return it (full code: its seal
    opened; the pool and MySQL know only its lookup).

    Raises KeyMaterialError/TamperedCode (nothing bound) when the code's seal cannot be
    opened, PoolExhausted when no free code is left, UnknownCampaign when the tenant has no
    such campaign, StorageUnavailable when MySQL is unreachable.
    """
    if not user_id:
        raise ValueError("user_id must not be empty")
    store, pool = ports.store, ports.pool
    reveal = partial(_reveal, ports.protector, tenant_id)
    bound = _from_pool(store, pool, tenant_id, campaign_id, user_id, reveal)
    if bound is None:
        bound = _run(store, reveal, lambda tx, now: tx.bind_any_free(
            tenant_id, campaign_id, user_id, now))
    if bound is None:
        raise _exhausted(store, tenant_id, campaign_id)
    _mirror(pool, tenant_id, bound, user_id)
    return reveal(bound)


def _reveal(protector: CodeProtector, tenant_id: str, bound: BoundCode) -> str:
    """The bound code in full (its seal opened; a row not migrated yet: its plaintext)."""
    return protector.reveal(tenant_id, bound.code, bound.key_id, bound.sealed,
                            where=f"tenant {tenant_id}")


def _from_pool(store: Storage, pool: AllocationPool, tenant_id: str, campaign_id: str,
               user_id: str, reveal: Callable[[BoundCode], str]) -> BoundCode | None:
    for _ in range(MAX_POOL_TRIES):
        try:
            code = pool.pop(tenant_id, campaign_id)
        except CacheUnavailable as exc:
            log.warning("pool unavailable, allocating from MySQL: %s", exc)
            return None
        if code is None:
            return None
        bound = _run(store, reveal, partial(_bind_named, tenant_id, campaign_id, code, user_id))
        if bound is not None:
            return bound
    return None


def _bind_named(tenant_id: str, campaign_id: str, code: str, user_id: str, tx: StoreTx,
                now: datetime) -> BoundCode | None:
    return tx.bind_code(tenant_id, campaign_id, code, user_id, now)


def _run(store: Storage, reveal: Callable[[BoundCode], str],
         work: Callable[[StoreTx, datetime], BoundCode | None]) -> BoundCode | None:
    """One short READ COMMITTED transaction (no gap locks, skipped rows stay unlocked);
    the bound code's seal is opened inside it, so one that does not open binds nothing."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with store.begin_read_committed("allocate code") as tx:
        bound = work(tx, now)
        if bound is not None:
            reveal(bound)
        return bound


def _mirror(pool: AllocationPool, tenant_id: str, bound: BoundCode, user_id: str) -> None:
    """Write the binding into the code entry; if Redis misses it, MySQL's judge still holds."""
    state = CachedCode(bound.code, bound.campaign_id, bound.use_limit, 0, CodeStatus.UNUSED,
                       user_id)
    try:
        pool.write_states(tenant_id, [state])
    except CacheUnavailable as exc:
        log.warning("code bound in MySQL but not in Redis (the commit check covers it): %s", exc)


def _exhausted(store: Storage, tenant_id: str, campaign_id: str) -> Exception:
    with store.read("read campaign") as tx:
        exists = tx.campaign_exists(tenant_id, campaign_id)
    if not exists:
        return UnknownCampaign(f"tenant {tenant_id} has no campaign {campaign_id}")
    return PoolExhausted(
        f"campaign {campaign_id} of tenant {tenant_id} has no code left to allocate: every "
        "code is allocated, exported, used or voided (generate more codes)"
    )
