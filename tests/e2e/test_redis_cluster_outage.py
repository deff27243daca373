"""A Redis Cluster in ``fail`` state (a master down, no replica to promote) pauses a real
worker: when the node is back, every request gets its one result, nothing is dead-lettered.
"""

from __future__ import annotations

import time

import pytest

from core.adapters.redis.local_cluster import LocalRedisCluster
from core.bootstrap import bootstrap
from core.topics import Topic
from schemas.events import RedeemOutcome as O
from tests.e2e.harness import WorkerProcess, consume_all, outcomes_by_request, publish_requests
from tests.integration.redeem_support import request, seed_campaign

pytestmark = pytest.mark.e2e

#: How long the master stays down once the cluster has noticed (cluster_state:fail).
OUTAGE_SECONDS = 4.0


def _wait_for_fail(cluster: LocalRedisCluster, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {n.client().cluster("INFO")["cluster_state"] for n in cluster.nodes if n.alive()}
        if states == {"fail"}:
            return
        time.sleep(0.1)
    raise AssertionError("the cluster never reported cluster_state:fail")


def test_a_failed_cluster_pauses_the_worker_and_loses_nothing(e2e_settings, tmp_path) -> None:
    with LocalRedisCluster(masters=3, replicas=0) as cluster:
        settings = e2e_settings.model_copy(update={"redis_url": cluster.url})
        with bootstrap(settings) as container:
            seeded = seed_campaign(container, count=30)
            victim = cluster.master_of(container.keys.ready(seeded.tenant_id))
        before = [request(seeded, code) for code in seeded.codes[:10]]
        during = [request(seeded, code) for code in seeded.codes[10:]]
        results_topic = Topic.REDEEM_RESULTS
        worker = WorkerProcess(settings, tmp_path).start()
        try:
            publish_requests(settings, before)
            assert len(consume_all(settings, results_topic, expected=10, timeout=90)) == 10
            victim.kill()
            _wait_for_fail(cluster)
            publish_requests(settings, during)
            paused = consume_all(settings, results_topic, expected=11, timeout=OUTAGE_SECONDS)
            cluster.restart(victim)
            cluster.wait_until_ok(30)
            results = consume_all(settings, results_topic, expected=30, timeout=90)
            dead = consume_all(settings, Topic.REDEEM_REQUESTS.dlq, expected=1, timeout=2)
        finally:
            assert worker.stop() == 0, worker.log_text()[-3000:]
        log = worker.log_text()
    assert len(paused) == 10, "no request was decided while the cluster was failed"
    assert "transient failure, retrying" in log and "CacheUnavailable" not in log.split(
        "transient failure"
    )[0], "the worker paused on a retryable error"
    assert dead == [], "good requests are never dead-lettered for a failed cluster"
    outcomes = outcomes_by_request(results)
    assert set(outcomes) == {r.request_id for r in [*before, *during]}
    assert all(len(v) == 1 for v in outcomes.values()), "one outcome per request_id"
    assert {o for v in outcomes.values() for o, _ in v} == {O.REDEEMED}
