"""The one place that builds Redis clients: a single server or a Redis Cluster.

``sync_client`` / ``async_client`` read ``Settings.redis_url``: ``redis://host:port/db`` gives
a ``redis.Redis``; ``redis+cluster://host:port,host:port`` (or any URL with
``redis_cluster=true``) gives a ``RedisCluster`` seeded with those nodes, which discovers the
rest, follows MOVED/ASK redirections and refreshes its slot table after a failover. Client
options (timeouts, health checks) belong in ``client_options`` so both kinds share them.

Library errors of either kind are ``REDIS_ERRORS``: ``RedisClusterException`` (no reachable
node, slot not covered, keys of one command in several slots) is not a ``RedisError``, and
every adapter guard catches both and raises ``CacheUnavailable`` (retryable).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode
from redis.crc import key_slot
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

from core.errors import CacheUnavailable
from core.settings import Settings

__all__ = [
    "REDIS_ERRORS",
    "AsyncRedisClient",
    "SyncRedisClient",
    "async_client",
    "client_options",
    "connection_pool_for",
    "describe_nodes",
    "hash_slot",
    "is_cluster",
    "mget_any",
    "redis_guard",
    "redis_ready",
    "refresh_slots",
    "scan_page",
    "sync_client",
]

REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, RedisClusterException)
"""Everything redis-py raises for a failed call, single server or cluster."""

T = TypeVar("T")


def redis_guard(what: str, work: Callable[[], T]) -> T:
    """``work()``, with any redis-py failure raised as CacheUnavailable naming ``what``
    (retryable: the caller backs off and runs the work again)."""
    try:
        return work()
    except REDIS_ERRORS as exc:
        raise CacheUnavailable(f"{what}: {exc.__class__.__name__}: {exc}") from exc


SyncRedisClient = redis.Redis | redis.RedisCluster
AsyncRedisClient = aioredis.Redis | aioredis.RedisCluster

#: Retries inside the cluster client for connection errors and CLUSTERDOWN: enough to ride a
#: MOVED after a failover; a longer outage surfaces as CacheUnavailable and the caller backs off.
CLUSTER_RETRIES = 3


def client_options(settings: Settings) -> dict[str, Any]:
    """Options every Redis client gets, blocking or asyncio, single or cluster: decoded
    replies, a health check, and connect/read timeouts so a hung Redis fails a call with a
    TimeoutError (a retryable CacheUnavailable at the adapters) instead of hanging it."""
    return {
        "decode_responses": True,
        "health_check_interval": 30,
        "socket_connect_timeout": settings.redis_connect_timeout_seconds,
        "socket_timeout": settings.redis_socket_timeout_seconds,
    }


def _credentials(url: str) -> dict[str, Any]:
    """Username/password of ``scheme://user:pass@host:port,...`` (none when absent)."""
    rest = url.split("://", 1)[1]
    if "@" not in rest:
        return {}
    userinfo = rest.rsplit("@", 1)[0]
    user, _, password = userinfo.partition(":")
    return {"username": user or None, "password": password or None}


def _cluster_options(settings: Settings) -> dict[str, Any]:
    url = settings.redis_url
    options = {**client_options(settings), **_credentials(url)}
    options["retry"] = Retry(ExponentialBackoff(cap=0.5, base=0.05), CLUSTER_RETRIES)
    if url.lower().startswith("rediss"):
        options["ssl"] = True
    return options


def describe_nodes(settings: Settings) -> str:
    """``host:port,host:port`` of the configured seed nodes, for error messages."""
    return ",".join(f"{h}:{p}" for h, p in settings.redis_cluster_nodes)


def sync_client(settings: Settings) -> SyncRedisClient:
    """A blocking client. A cluster client asks a seed node for the slot table at once:
    no reachable seed node raises CacheUnavailable naming them."""
    if not settings.redis_is_cluster:
        return redis.Redis.from_url(settings.redis_url, **client_options(settings))
    nodes = [ClusterNode(host, port) for host, port in settings.redis_cluster_nodes]
    try:
        return redis.RedisCluster(startup_nodes=nodes, **_cluster_options(settings))
    except REDIS_ERRORS as exc:
        raise CacheUnavailable(
            f"redis cluster {describe_nodes(settings)}: {exc.__class__.__name__}: {exc}"
        ) from exc


def async_client(settings: Settings) -> AsyncRedisClient:
    """An asyncio client bound to the calling loop (a cluster's slot table is read on first
    use, so building one never connects)."""
    if not settings.redis_is_cluster:
        return aioredis.Redis.from_url(settings.redis_url, **client_options(settings))
    nodes = [AsyncClusterNode(host, port) for host, port in settings.redis_cluster_nodes]
    return aioredis.RedisCluster(startup_nodes=nodes, **_cluster_options(settings))


def is_cluster(client: object) -> bool:
    """Whether ``client`` (or a pipeline of it) talks to a Redis Cluster."""
    return isinstance(
        client, redis.RedisCluster | aioredis.RedisCluster | aioredis.cluster.ClusterPipeline
    )


def hash_slot(key: str) -> int:
    """The cluster slot of ``key`` (its ``{hash tag}`` when it has one)."""
    return int(key_slot(key.encode()))


def _node_clients(client: redis.RedisCluster, match: str) -> list[redis.Redis]:
    """The masters a SCAN for ``match`` must visit: the one owning the pattern's hash tag
    when it names one literally (``p:{tenant}:req:*``), else every master, in name order."""
    start, end = match.find("{"), match.find("}")
    tag = match[start + 1 : end] if 0 <= start < end else ""
    if tag and not any(c in tag for c in "*?[\\"):
        nodes = [client.get_node_from_key(match[: end + 1])]
    else:
        nodes = sorted(client.get_primaries(), key=lambda n: n.name)
    return [client.get_redis_connection(n) for n in nodes]


def scan_page(
    client: SyncRedisClient, cursor: int, match: str, count: int
) -> tuple[int, list[Any]]:
    """One SCAN step over the whole keyspace; 0 as the next cursor means done.

    On a cluster the cursor walks the masters one after the other: the node's index in the
    high bits, that node's own cursor in the low 64 bits. A walk that failed (a master
    down) must start again at 0: the masters may have changed. Keys moved by a failover
    during a walk may be missed or seen twice: SCAN is best effort (as Redis's own is).
    """
    if not isinstance(client, redis.RedisCluster):
        next_cursor, keys = client.scan(cursor, match=match, count=count)
        return int(next_cursor), list(keys)
    nodes = _node_clients(client, match)
    index, node_cursor = divmod(cursor, 1 << 64)
    if index >= len(nodes):
        return 0, []
    try:
        next_cursor, keys = nodes[index].scan(node_cursor, match=match, count=count)
    except REDIS_ERRORS:
        refresh_slots(client)  # a failed-over master: the next attempt asks its successor
        raise
    if int(next_cursor) != 0:
        return (index << 64) | int(next_cursor), list(keys)
    return ((index + 1) << 64 if index + 1 < len(nodes) else 0), list(keys)


def mget_any(client: SyncRedisClient, keys: list[Any]) -> list[Any]:
    """MGET of keys that may sit in different slots (one MGET per slot on a cluster)."""
    if isinstance(client, redis.RedisCluster):
        return list(client.mget_nonatomic(keys))
    return list(client.mget(keys))


def connection_pool_for(client: SyncRedisClient, key: str) -> redis.ConnectionPool:
    """The connection pool of the server holding ``key``: the client's own for a single
    server, the owning master's on a cluster (for pre-encoded commands sent by hand)."""
    if not isinstance(client, redis.RedisCluster):
        return client.connection_pool
    return client.get_redis_connection(client.get_node_from_key(key)).connection_pool


def refresh_slots(client: SyncRedisClient) -> None:
    """After a failed hand-sent command, let a cluster client reread the slot table (a
    failover may have moved the slot); best effort: a cluster still down fails the retry."""
    if isinstance(client, redis.RedisCluster):
        with contextlib.suppress(*REDIS_ERRORS):
            client.nodes_manager.initialize()


async def redis_ready(client: AsyncRedisClient) -> str:
    """Readiness of Redis: ``PONG`` from a single server; on a cluster, PING of every node
    and ``cluster_state:ok`` (a cluster in ``fail`` state refuses commands: not ready).
    Raises CacheUnavailable with the reason."""
    try:
        await client.ping()
        if not isinstance(client, aioredis.RedisCluster):
            return "PONG"
        info = await client.cluster_info()
    except REDIS_ERRORS as exc:
        raise CacheUnavailable(f"{exc.__class__.__name__}: {exc}") from exc
    state = info.get("cluster_state")
    if state != "ok":
        raise CacheUnavailable(
            f"redis cluster_state:{state} (slots ok {info.get('cluster_slots_ok')}/16384,"
            f" failing {info.get('cluster_slots_fail')})"
        )
    masters = len(client.get_primaries())
    return f"PONG, cluster_state:ok, {masters} masters"
