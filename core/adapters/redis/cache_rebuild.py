"""The Redis side of a cache rebuild or check (implements ``core.cache_rebuild.CacheImage``):
campaign hashes, code entries, per-user counters and ready markers, pipelined per chunk."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from core.adapters.redis.claim_records import state_value
from core.adapters.redis.client import SyncRedisClient
from core.adapters.redis.client import redis_guard as _redis
from core.adapters.redis.keys import RedisKeys, campaign_fields
from core.redemption.model import CampaignInfo, CodeState

#: Members per HDEL.
CHUNK = 5_000


class RedisCacheImage:
    """Writes and reads the cache's copy of MySQL with the blocking client."""

    def __init__(self, client: SyncRedisClient, keys: RedisKeys) -> None:
        self._client = client
        self._keys = keys

    def write_campaigns(self, tenant_id: str, infos: Iterable[CampaignInfo]) -> None:
        """Rewrite the campaigns' hashes."""
        pipe = self._client.pipeline(transaction=False)
        for info in infos:
            fields = campaign_fields(info.status, info.valid_from, info.valid_until,
                                     info.products, info.per_user_limit, info.reward_rules)
            mapping: dict[Any, Any] = dict(fields)
            pipe.hset(self._keys.campaign(tenant_id, info.campaign_id), mapping=mapping)
        _redis("write campaigns", pipe.execute)

    def write_codes(self, tenant_id: str, states: Sequence[CodeState]) -> None:
        """Rewrite the code entries with MySQL's states and drop their negative entries."""
        keys = self._keys
        pairs = [x for s in states for x in (keys.code(tenant_id, s.code), state_value(s))]
        pipe = self._client.pipeline(transaction=False)
        # MSET and DEL through execute_command: a cluster pipeline refuses mset() and
        # multi-key delete(); every key is under the tenant's tag, so each is one slot
        pipe.execute_command("MSET", *pairs)
        pipe.execute_command("DEL", *(keys.negative(tenant_id, s.code) for s in states))
        _redis("write codes", pipe.execute)

    def write_user_counters(self, tenant_id: str, rows: Sequence[tuple[str, str, int]]) -> None:
        """Set (campaign, user) -> used counters."""
        pipe = self._client.pipeline(transaction=False)
        for campaign, user, used in rows:
            pipe.hset(self._keys.per_user(tenant_id, campaign), user, int(used))
        _redis("write user counters", pipe.execute)

    def counters(self, tenant_id: str, campaign_id: str) -> dict[str, int]:
        """The campaign's cached per-user counters."""
        key = self._keys.per_user(tenant_id, campaign_id)
        raw = _redis("read counters", partial(self._client.hgetall, key))
        return {(u.decode() if isinstance(u, bytes) else str(u)): int(n) for u, n in raw.items()}

    def drop_counters(self, tenant_id: str, campaign_id: str, users: Sequence[str]) -> int:
        """Delete these users' counters of the campaign; how many there were."""
        key = self._keys.per_user(tenant_id, campaign_id)
        dropped = 0
        for start in range(0, len(users), CHUNK):
            part = list(users[start:start + CHUNK])
            dropped += int(_redis("drop counters", partial(self._client.hdel, key, *part)))
        return dropped

    def set_ready(self, tenant_id: str) -> None:
        """Mark every code of the tenant as cached."""
        _redis("set ready", partial(self._client.set, self._keys.ready(tenant_id), "1"))

    def code_mismatches(self, tenant_id: str, states: Sequence[CodeState]) -> list[str]:
        """A line per code whose cached entry differs from MySQL's state (a missing entry is
        fine: a miss falls back to MySQL)."""
        keys = [self._keys.code(tenant_id, s.code) for s in states]
        cached = _redis("read codes", partial(self._client.mget, keys))
        return [f"code {s.code}: redis {value!r} mysql {state_value(s)!r}"
                for s, value in zip(states, cached, strict=True)
                if value is not None and value != state_value(s)]
