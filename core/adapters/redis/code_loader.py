"""Blocking Redis writes that mirror generated codes and campaigns into the cache.

What is written (layout in ``keys.py``, read by ``claim.lua``):

* ``c:<code>`` = ``code_value(campaign, use_limit, 0, 0, "")`` for every new code (MSET);
* ``pool:<campaign>`` gets every new code (SADD: the pre-generated, unallocated pool);
* ``camp:<campaign>`` hash: status, from, until (epoch ms or ""), products, pul;
* ``ready`` = "1" once every code of the tenant is in the cache (a miss is then final).

Commands carry many keys each and go out in one pipeline per chunk: round trips, not
Redis, are the cost. New codes' commands are encoded by ``resp`` (joins instead of redis-py's
per-argument packing) and sent on one pooled connection. Redis errors become
``CacheUnavailable``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, TypeVar

from core.adapters.redis import resp
from core.adapters.redis.client import (
    SyncRedisClient,
    connection_pool_for,
    refresh_slots,
)
from core.adapters.redis.client import redis_guard as _guard
from core.adapters.redis.keys import RedisKeys, campaign_fields, code_value
from core.codes.status import CodeStatus
from core.records import CachedCode, CampaignRecord
from schemas.campaign import CampaignRule

T = TypeVar("T")

#: Keys per MSET / members per SADD; big enough to amortise, small enough not to stall Redis.
KEYS_PER_COMMAND = 5_000


class CodeLoader:
    """Writes codes, pools, campaign hashes and ready markers with the blocking client."""

    def __init__(self, client: SyncRedisClient, keys: RedisKeys) -> None:
        self._client = client
        self._keys = keys

    def write_campaign(self, campaign: CampaignRecord) -> None:
        """Write the whole campaign hash (every field, so claim.lua never sees a partial one)."""
        rule = CampaignRule.model_validate(campaign.rule)
        mapping: dict[Any, Any] = campaign_fields(
            campaign.status, campaign.valid_from, campaign.valid_until,
            list(rule.applicable_products), campaign.per_user_limit, rule.reward_rules)
        key = self._keys.campaign(campaign.tenant_id, campaign.campaign_id)
        _guard("write campaign hash", lambda: self._client.hset(key, mapping=mapping))

    def write_codes(
        self, tenant_id: str, campaign_id: str, use_limit: int, codes: list[str]
    ) -> None:
        """MSET fresh entries for new codes and add them to the campaign's pool."""
        if not codes:
            return
        value = code_value(campaign_id, use_limit, 0, CodeStatus.UNUSED, "").encode()
        prefix = self._keys.code(tenant_id, "").encode()
        pool = self._keys.pool(tenant_id, campaign_id).encode()
        encoded = "\n".join(codes).encode().split(b"\n")
        payloads = []
        for part in _parts(encoded):
            payloads.append(resp.mset_prefixed(prefix, part, value))
            payloads.append(resp.sadd(pool, part))
        _guard("write codes", lambda: self._send_packed(payloads, pool.decode()))

    def _send_packed(self, payloads: list[bytes], route_key: str) -> None:
        """Send pre-encoded commands on one pooled connection (on a cluster: of the master
        owning ``route_key``'s slot, which every key of the commands shares) and read every
        reply. The connection is dropped on any error: unread replies would follow it into
        the pool; a cluster client then rereads its slot table (a failover moved the slot)."""
        pool = connection_pool_for(self._client, route_key)
        conn = pool.get_connection()
        try:
            conn.send_packed_command(payloads)
            for _ in payloads:
                conn.read_response()
        except BaseException:
            conn.disconnect()
            refresh_slots(self._client)
            raise
        finally:
            pool.release(conn)

    def restore_codes(self, tenant_id: str, states: Iterable[CachedCode]) -> None:
        """Write entries from MySQL without overwriting any (SET NX), and pool the free codes.

        Used when resuming a batch: entries already in Redis may be fresher than MySQL.
        """
        pipe = self._client.pipeline(transaction=False)
        unallocated: dict[str, list[str]] = defaultdict(list)
        for s in states:
            value = code_value(s.campaign_id, s.use_limit, s.used, s.status, s.bound_user)
            pipe.set(self._keys.code(tenant_id, s.code), value, nx=True)
            if s.status == CodeStatus.UNUSED and s.used == 0 and not s.bound_user:
                unallocated[s.campaign_id].append(s.code)
        for campaign_id, codes in unallocated.items():
            for part in _parts(codes):
                pipe.sadd(self._keys.pool(tenant_id, campaign_id), *part)
        _guard("restore codes", pipe.execute)

    def remove_codes(self, tenant_id: str, campaign_id: str, codes: list[str]) -> None:
        """Delete code entries and take them out of the pool (batch rollback)."""

        def work() -> None:
            pipe = self._client.pipeline(transaction=False)
            for part in _parts(codes):
                # DEL through execute_command: a cluster pipeline refuses multi-key delete()
                pipe.execute_command("DEL", *(self._keys.code(tenant_id, c) for c in part))
                pipe.srem(self._keys.pool(tenant_id, campaign_id), *part)
            pipe.execute()

        _guard("remove codes", work)

    def set_campaign_status(self, tenant_id: str, campaign_id: str, status: str) -> bool:
        """Change only the status of an existing campaign hash; False when it is absent."""
        key = self._keys.campaign(tenant_id, campaign_id)
        script = (
            "if redis.call('EXISTS', KEYS[1]) == 1 then "
            "redis.call('HSET', KEYS[1], 'status', ARGV[1]) return 1 end return 0"
        )
        found = _guard("set campaign status", lambda: self._client.eval(script, 1, key, status))
        return bool(found)

    def clear_ready(self, tenant_id: str) -> bool:
        """Remove the tenant's ready marker; True if it was there."""
        return bool(_guard("clear ready", lambda: self._client.delete(self._keys.ready(tenant_id))))

    def set_ready(self, tenant_id: str) -> None:
        """Declare every code of the tenant cached: a miss is now an authoritative NOT_FOUND."""
        _guard("set ready", lambda: self._client.set(self._keys.ready(tenant_id), "1"))


def _parts(codes: list[T]) -> Iterable[list[T]]:
    for start in range(0, len(codes), KEYS_PER_COMMAND):
        yield codes[start : start + KEYS_PER_COMMAND]
