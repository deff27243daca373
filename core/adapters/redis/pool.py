"""Redis side of allocation, export and voiding: the pre-generated pool and code entries.

* ``pool:<campaign>`` is a SET of unallocated, unexported codes, filled at generation time;
  ``SPOP`` hands each member to exactly one caller, atomically, across processes.
* ``c:<code>`` entries are rewritten (``SET ... KEEPTTL``) when a code is bound to a user
  or voided, so ``claim.lua`` refuses other users / voided codes without asking MySQL.

Redis is a cache: a pool that lost members is backed by the MySQL fallback, and an entry
that missed a rewrite is corrected by the MySQL judge at commit. Errors become
``CacheUnavailable``; callers decide whether that is fatal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.adapters.redis.client import SyncRedisClient
from core.adapters.redis.client import redis_guard as _guard
from core.adapters.redis.keys import RedisKeys, code_value
from core.records import CachedCode

#: Members per SREM/SADD and entries per pipeline.
CHUNK = 5_000


class CodePool:
    """The per-campaign pool of pre-generated codes and the code entries it relates to."""

    def __init__(self, client: SyncRedisClient, keys: RedisKeys) -> None:
        self._client = client
        self._keys = keys

    def pop(self, tenant_id: str, campaign_id: str) -> str | None:
        """Take one code out of the pool (None when it is empty)."""
        key = self._keys.pool(tenant_id, campaign_id)
        value = _guard("pop pool", lambda: self._client.spop(key))
        return str(value) if value is not None else None

    def size(self, tenant_id: str, campaign_id: str) -> int:
        """Members left in the pool."""
        key = self._keys.pool(tenant_id, campaign_id)
        return int(_guard("pool size", lambda: self._client.scard(key)))

    def add(self, tenant_id: str, campaign_id: str, codes: Sequence[str]) -> None:
        """Put codes (back) into the pool."""
        self._chunked("add to pool", tenant_id, campaign_id, codes, remove=False)

    def remove(self, tenant_id: str, campaign_id: str, codes: Sequence[str]) -> None:
        """Take codes out of the pool (exported or voided: never to be allocated)."""
        self._chunked("remove from pool", tenant_id, campaign_id, codes, remove=True)

    def set_entries(self, tenant_id: str, entries: Iterable[tuple[str, str]]) -> None:
        """Rewrite ``(code, value)`` entries, keeping any TTL, pipelined in chunks."""

        def work() -> None:
            pipe = self._client.pipeline(transaction=False)
            for queued, (code, value) in enumerate(entries, 1):
                pipe.set(self._keys.code(tenant_id, code), value, keepttl=True)
                if queued % CHUNK == 0:
                    pipe.execute()
            pipe.execute()

        _guard("rewrite code entries", work)

    def write_states(self, tenant_id: str, states: Iterable[CachedCode]) -> None:
        """Rewrite the cache entries of codes with the given states (keeping any TTL)."""
        self.set_entries(tenant_id, ((s.code, code_value(s.campaign_id, s.use_limit, s.used,
                                                         s.status, s.bound_user))
                                     for s in states))

    def _chunked(
        self, what: str, tenant_id: str, campaign_id: str, codes: Sequence[str], *, remove: bool
    ) -> None:
        if not codes:
            return
        key = self._keys.pool(tenant_id, campaign_id)

        def work() -> None:
            pipe = self._client.pipeline(transaction=False)
            for start in range(0, len(codes), CHUNK):
                part = codes[start : start + CHUNK]
                if remove:
                    pipe.srem(key, *part)
                else:
                    pipe.sadd(key, *part)
            pipe.execute()

        _guard(what, work)
