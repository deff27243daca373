"""A broker outage pauses a real worker instead of failing it or losing requests.

The test runs a broker of its own that advertises a :class:`CuttableProxy`, so that every
client, the worker and the test's own, reaches it through the proxy only. A batch is held
in hand first (the worker's MariaDB cut too), so that when MariaDB comes back the batch
commits and then hands its grants and results to an unreachable broker: the delivery times
out (``producer_delivery_timeout_ms``), the batch is retried with back-off, and once the
broker is back it goes through. Meanwhile the test publishes more requests, which wait in
its producer. In the end every request has its one outcome, every grant was delivered,
nothing was dead-lettered, and the worker never stopped.
"""

from __future__ import annotations

import time
import uuid

import pytest

from core.adapters.kafka.admin import create_topics
from core.adapters.kafka.broker import EmbeddedBroker, find_free_port
from core.adapters.kafka.producer import EventProducer
from core.bootstrap import bootstrap
from core.settings import Settings
from core.topics import Topic
from schemas.events import RedeemOutcome as O
from schemas.events import RedeemRequested, RewardGrant
from tests.e2e.harness import WorkerProcess, consume_all, outcomes_by_request, publish_requests
from tests.e2e.outage import CuttableProxy, service_address, through
from tests.integration.redeem_support import request, seed_campaign

pytestmark = pytest.mark.e2e

#: The worker's delivery timeout and the outage: several failed deliveries, each retried.
DELIVERY_TIMEOUT_MS = 1_000
OUTAGE_SECONDS = 5.0


def test_a_broker_outage_pauses_the_worker_and_loses_nothing(base_settings, tmp_path) -> None:
    broker_port = find_free_port()
    with (
        CuttableProxy("127.0.0.1", broker_port) as broker_proxy,
        EmbeddedBroker(broker_port, advertised_port=broker_proxy.port),
        CuttableProxy(*service_address(base_settings, "mysql")) as mysql_proxy,
    ):
        settings = base_settings.model_copy(
            update={
                "kafka_bootstrap_servers": f"127.0.0.1:{broker_proxy.port}",
                "topic_prefix": f"t{uuid.uuid4().hex[:12]}.",
                "consumer_group": f"rf-{uuid.uuid4().hex[:8]}",
                "topic_partitions": 4,
            }
        )
        create_topics(settings)
        with bootstrap(settings) as container:
            seeded = seed_campaign(container, count=30)
        requests = [request(seeded, code) for code in seeded.codes]
        worker_settings = through(settings, "mysql", mysql_proxy).model_copy(
            update={"producer_delivery_timeout_ms": DELIVERY_TIMEOUT_MS}
        )
        worker = WorkerProcess(worker_settings, tmp_path).start()
        try:
            _redeem_across_an_outage(settings, broker_proxy, mysql_proxy, worker, requests)
            results = consume_all(settings, Topic.REDEEM_RESULTS, expected=30, timeout=90)
            grants = consume_all(settings, Topic.REWARD_GRANTS, expected=30, timeout=30)
            dead = consume_all(settings, Topic.REDEEM_REQUESTS.dlq, expected=1, timeout=2)
        finally:
            assert worker.stop() == 0, worker.log_text()[-3000:]
        log = worker.log_text()
    assert "BrokerUnavailable" in log or "_MSG_TIMED_OUT" in log, "deliveries failed meanwhile"
    assert dead == [], "good requests are never dead-lettered for an outage"
    outcomes = outcomes_by_request(results)
    assert set(outcomes) == {r.request_id for r in requests}
    assert all(len(v) == 1 for v in outcomes.values()), "one outcome per request_id"
    assert {o for v in outcomes.values() for o, _ in v} == {O.REDEEMED}
    delivered = {RewardGrant.from_bytes(m.value()).grant_id for m in grants}
    assert delivered == {g for v in outcomes.values() for _, ids in v for g in ids}
    assert len(delivered) == 30  # a grant produced again by a retry has the same id


def _redeem_across_an_outage(
    settings: Settings,
    broker: CuttableProxy,
    mysql: CuttableProxy,
    worker: WorkerProcess,
    requests: list[RedeemRequested],
) -> None:
    """10 requests answered first; 10 held in hand, then delivered into the outage; 10
    produced during it (they wait in the test's producer)."""
    before, in_hand, during = requests[:10], requests[10:20], requests[20:]
    publish_requests(settings, before)
    assert len(consume_all(settings, Topic.REDEEM_RESULTS, expected=10, timeout=90)) == 10
    mysql.cut()
    publish_requests(settings, in_hand)
    worker.wait_for_log("transient failure, retrying")
    broker.cut()
    mysql.restore()  # the batch commits now, and its delivery meets the outage
    with EventProducer(settings) as producer:
        for r in during:
            producer.produce(settings.topic(Topic.REDEEM_REQUESTS), r.kafka_key(), r.to_bytes())
        time.sleep(OUTAGE_SECONDS)
        assert worker.process is not None and worker.process.poll() is None, "worker is up"
        broker.restore()
        producer.flush(60)
