"""Marks of requests a gateway answered 202 (PENDING), shared by every gateway process.

With ``gateway --workers N`` (or several replicas) a ``GET /api/redeem/{id}`` may reach a
process that did not publish the request. Before the worker recorded its outcome, only the
publishing process knew the request exists; the mark (written only on the slow path, when a
result did not arrive in time) lets every process answer 202 instead of 404.
"""

from __future__ import annotations

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from core.adapters.redis.keys import RedisKeys
from core.errors import CacheUnavailable

MARK_TTL_SECONDS = 3600


class PendingMarks:
    """``mark`` / ``marked`` over the async Redis client."""

    def __init__(self, client: aioredis.Redis, keys: RedisKeys) -> None:
        self._client = client
        self._keys = keys

    async def mark(self, tenant_id: str, request_id: str) -> None:
        """Note that ``request_id`` was published and is not decided yet."""
        try:
            await self._client.set(self._keys.gateway_pending(tenant_id, request_id), "1",
                                   ex=MARK_TTL_SECONDS)
        except RedisError as exc:
            raise CacheUnavailable(f"redis pending mark: {exc}") from exc

    async def marked(self, tenant_id: str, request_id: str) -> bool:
        """Whether some gateway answered 202 for ``request_id`` lately."""
        try:
            return bool(await self._client.exists(
                self._keys.gateway_pending(tenant_id, request_id)))
        except RedisError as exc:
            raise CacheUnavailable(f"redis pending mark: {exc}") from exc
