"""Redis Cluster specifics on real local clusters: the no-device key stays in the tenant's
slot, readiness reads cluster_state, and an unreachable or failed cluster is a retryable
CacheUnavailable (the worker pauses and resumes) rather than a lost or dead-lettered request.

Tests that kill nodes start their own small cluster, so the session's cluster stays whole.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from core.adapters.kafka.broker import find_free_port
from core.adapters.redis.client import hash_slot, redis_ready, sync_client
from core.adapters.redis.keys import RedisKeys
from core.adapters.redis.local_cluster import LocalRedisCluster
from core.bootstrap import bootstrap
from core.errors import CacheUnavailable, RetryableError
from core.settings import Settings
from schemas.events import RedeemOutcome as O
from tests.integration.redeem_support import make_service, request, seed_campaign

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


async def test_failures_without_a_device_are_not_counted_as_one_device(
    base_settings: Settings, container
) -> None:
    # "no device" travels as the tenant's "rl:d:" key (under the hash tag: one slot); it
    # must not become a device shared by every device-less request
    guesser = seed_campaign(container, count=1)
    strict = base_settings.model_copy(update={"device_failed_attempts_per_hour": 1})
    with bootstrap(strict) as limited:
        service, _ = make_service(limited)
        wrong = [request(guesser, guesser.codec.generate(), user=f"g{i}") for i in range(3)]
        results = await service.process(wrong)
        with_device = [
            request(guesser, guesser.codec.generate(), user=f"d{i}", device_id="dev1")
            for i in range(2)
        ]
        results += await service.process(with_device)
    assert [r.outcome for r in results] == [O.NOT_FOUND] * 4 + [O.RATE_LIMITED]


def test_every_key_of_a_claim_shares_the_tenant_slot(container) -> None:
    from core.adapters.redis.claims import ClaimCache

    cache = ClaimCache(container.async_redis(), container.keys, container.settings)
    for script, samples in cache.sample_calls().items():
        for keys in samples:
            assert len({hash_slot(k) for k in keys}) == 1, (script, keys)


async def test_readiness_names_the_redis_kind(container, redis_mode: str) -> None:
    client = container.async_redis()
    try:
        detail = await redis_ready(client)
    finally:
        await client.aclose()
    expected = "cluster_state:ok, 3 masters" if redis_mode == "cluster" else "PONG"
    assert expected in detail


@pytest.fixture()
def fragile_cluster() -> Iterator[LocalRedisCluster]:
    """Three masters, no replicas: killing one puts the cluster in ``fail`` state."""
    with LocalRedisCluster(masters=3, replicas=0) as cluster:
        yield cluster


def test_an_unreachable_cluster_is_a_clear_retryable_error(database_url, redis_prefix) -> None:
    port = find_free_port()
    settings = Settings(database_url=database_url, redis_key_prefix=redis_prefix,
                        redis_url=f"redis+cluster://127.0.0.1:{port}")
    with pytest.raises(CacheUnavailable, match=f"redis cluster 127.0.0.1:{port}") as caught:
        sync_client(settings)
    assert isinstance(caught.value, RetryableError)


async def test_a_worker_cache_on_an_unreachable_cluster_fails_retryably(
    database_url, redis_prefix
) -> None:
    from core.adapters.redis.claims import ClaimCache
    from core.adapters.redis.client import async_client

    port = find_free_port()
    settings = Settings(database_url=database_url, redis_key_prefix=redis_prefix,
                        redis_url=f"redis+cluster://127.0.0.1:{port}")
    cache = ClaimCache(async_client(settings), RedisKeys(redis_prefix), settings)
    with pytest.raises(CacheUnavailable, match="cannot be connected"):
        await cache.start()  # the worker's batch is retried with back-off, not dropped
    await cache.close()


async def test_a_failed_cluster_pauses_redemption_until_it_is_back(
    database_url: str, redis_prefix: str, fragile_cluster: LocalRedisCluster
) -> None:
    settings = Settings(database_url=database_url, redis_key_prefix=redis_prefix,
                        redis_url=fragile_cluster.url)
    with bootstrap(settings) as container:
        seeded = seed_campaign(container, count=2)
        service, _ = make_service(container)
        first = await service.process([request(seeded, seeded.codes[0])])
        assert first[0].outcome is O.REDEEMED
        victim = fragile_cluster.master_of(container.keys.ready(seeded.tenant_id))
        victim.kill()
        probe = container.async_redis()
        failed = False
        deadline = time.monotonic() + 20
        while not failed and time.monotonic() < deadline:  # the others mark it failed
            try:
                await redis_ready(probe)
            except CacheUnavailable as exc:
                failed = "cluster_state:fail" in str(exc) or "Connection" in str(exc)
        assert failed, "readiness reports the failed cluster"
        waiting = request(seeded, seeded.codes[1])
        with pytest.raises(CacheUnavailable):  # retryable: the batch is retried, not lost
            await service.process([waiting])
        fragile_cluster.restart(victim)
        fragile_cluster.wait_until_ok(30)
        results = []
        for _ in range(50):  # what retry_transient does in the worker, with a short pause
            try:
                results = await service.process([waiting])
                break
            except CacheUnavailable:
                await asyncio.sleep(0.2)
        await probe.aclose()
    assert [r.outcome for r in results] == [O.REDEEMED], "the same request, once, later"


def _walk(client, pattern: str, count: int) -> list[str]:
    from core.adapters.redis.client import scan_page

    found: list[str] = []
    cursor = 0
    for _ in range(1_000_000):
        cursor, page = scan_page(client, cursor, pattern, count)
        found += page
        if cursor == 0:
            return found
    raise AssertionError("the scan never ended")


def test_a_scan_walks_every_master_and_ends(database_url, redis_prefix, redis_cluster) -> None:
    # cluster only: on one server scan_page is a plain SCAN (of the whole shared keyspace)
    settings = Settings(database_url=database_url, redis_key_prefix=redis_prefix,
                        redis_url=redis_cluster.url)
    with bootstrap(settings) as container:
        _scan_every_master(container)


def _scan_every_master(container) -> None:
    from core.adapters.redis.client import mget_any
    from tests.conftest import unique_id

    keys = container.keys
    tenants = [unique_id("sc") for _ in range(12)]  # 12 tags: every master holds some
    wanted = {keys.request(t, f"r{i}") for t in tenants for i in range(5)}
    for key in wanted:
        container.redis.set(key, "v")
    assert wanted <= set(_walk(container.redis, f"{keys.prefix}:{{*}}:req:r*", 5000))
    assert mget_any(container.redis, sorted(wanted)) == ["v"] * len(wanted)
    mine = {keys.request(tenants[0], f"r{i}") for i in range(5)}
    assert set(_walk(container.redis, keys.request(tenants[0], "*"), 5000)) == mine
    container.redis.delete(*wanted)


def test_after_a_failover_the_sweep_scans_the_promoted_master(database_url, redis_prefix) -> None:
    from core.adapters.redis.claim_records import ClaimRecords
    from tests.conftest import unique_id

    with LocalRedisCluster(masters=3, replicas=1) as cluster:
        settings = Settings(database_url=database_url, redis_key_prefix=redis_prefix,
                            redis_url=cluster.url)
        with bootstrap(settings) as container:
            keys = container.keys
            wanted = {keys.request(unique_id("fo"), "r1") for _ in range(12)}
            for key in wanted:
                container.redis.set(key, "camp|CODE|user|1")
            for master in cluster.masters():
                master.client().wait(1, 5000)  # on the replicas before the crash
            records = ClaimRecords(container.redis, keys)
            records.scan_page(records.pattern(None), 0)  # the client knows the old masters
            cluster.master_of(next(iter(wanted))).kill()
            cluster.wait_until_ok(30)  # the replica took over
            found, failures, cursor = [], 0, 0
            while True:
                try:
                    cursor, page = records.scan_page(records.pattern(None), cursor)
                except CacheUnavailable:  # as the sweep does: the job starts again
                    failures += 1
                    assert failures < 3, "the client never found the promoted master"
                    found, cursor = [], 0
                    continue
                found += [r.key for r in page]
                if cursor == 0:
                    break
    assert wanted <= set(found)


async def test_a_call_sent_to_the_wrong_node_is_redirected_and_runs_once(
    database_url, redis_prefix, redis_cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what a stale slot table does after a failover or resharding: MOVED, then redis-py
    # follows it; the call ran once, on the right node
    from core.adapters.redis.client import async_client
    from core.adapters.redis.scripts import ScriptRunner

    settings = Settings(database_url=database_url, redis_key_prefix=redis_prefix,
                        redis_url=redis_cluster.url)
    client = async_client(settings)
    runner = ScriptRunner(client)
    await runner.register()
    key = f"{redis_prefix}:{{moved}}:counter"
    right = client.get_node_from_key(key)
    wrong = next(n for n in client.get_primaries() if n.name != right.name)
    monkeypatch.setattr(client, "get_node_from_key", lambda *_a, **_k: wrong)
    call = ([key, key + ":pu", key + ":req"], ["v1", "u", "0", "1"])
    assert await runner.run_many("release", [call]) == [1]
    monkeypatch.undo()
    assert await client.get(key) == "v1"
    assert await client.hget(key + ":pu", "u") == "1", "ran once"
    await client.delete(key, key + ":pu")
    await client.aclose()


async def test_claims_continue_after_a_master_fails_over(database_url, redis_prefix) -> None:
    with LocalRedisCluster(masters=3, replicas=1) as cluster:
        settings = Settings(database_url=database_url, redis_key_prefix=redis_prefix,
                            redis_url=cluster.url)
        with bootstrap(settings) as container:
            seeded = seed_campaign(container, count=2)
            service, _ = make_service(container)
            first = await service.process([request(seeded, seeded.codes[0])])
            cluster.master_of(container.keys.ready(seeded.tenant_id)).kill()
            cluster.wait_until_ok(30)  # its replica took over
            later = request(seeded, seeded.codes[1])
            failures, results = 0, []
            while not results:
                try:
                    results = await service.process([later])
                except CacheUnavailable:  # the client learns the new master: retried
                    failures += 1
                    assert failures < 5, "the client never found the promoted master"
    assert [r.outcome for r in first + results] == [O.REDEEMED, O.REDEEMED]
