"""A MariaDB or Redis outage pauses a real worker; when the service is back, every request
gets its one result and nothing went to the dead-letter topic.

The worker reaches the machine's real server through :class:`CuttableProxy`, which the test
cuts (connections dropped, new ones refused) and restores.
"""

from __future__ import annotations

import pytest

from core.bootstrap import bootstrap
from core.topics import Topic
from schemas.events import RedeemOutcome as O
from schemas.events import RewardGrant
from tests.e2e.harness import WorkerProcess, consume_all, outcomes_by_request, publish_requests
from tests.e2e.outage import CuttableProxy, service_address, through
from tests.integration.redeem_support import request, seed_campaign

pytestmark = pytest.mark.e2e

#: How long the service stays away: long enough for several retries with back-off.
OUTAGE_SECONDS = 4.0


@pytest.mark.parametrize("service", ["mysql", "redis"])
def test_an_outage_pauses_processing_and_loses_nothing(e2e_settings, tmp_path, service) -> None:
    with bootstrap(e2e_settings) as container:
        seeded = seed_campaign(container, count=30)
    before = [request(seeded, code) for code in seeded.codes[:10]]
    during = [request(seeded, code) for code in seeded.codes[10:]]
    results_topic = Topic.REDEEM_RESULTS
    with CuttableProxy(*service_address(e2e_settings, service)) as proxy:
        worker = WorkerProcess(through(e2e_settings, service, proxy), tmp_path).start()
        try:
            publish_requests(e2e_settings, before)
            assert len(consume_all(e2e_settings, results_topic, expected=10, timeout=90)) == 10
            proxy.cut()
            publish_requests(e2e_settings, during)
            paused = consume_all(e2e_settings, results_topic, expected=11, timeout=OUTAGE_SECONDS)
            proxy.restore()
            results = consume_all(e2e_settings, results_topic, expected=30, timeout=60)
            dead = consume_all(e2e_settings, Topic.REDEEM_REQUESTS.dlq, expected=1, timeout=2)
            grants = consume_all(e2e_settings, Topic.REWARD_GRANTS, expected=30, timeout=30)
        finally:
            assert worker.stop() == 0, worker.log_text()[-3000:]
        log = worker.log_text()
    assert len(paused) == 10, "no request was decided while the service was away"
    assert proxy.refused > 0, "the worker kept trying during the outage"
    assert "transient failure, retrying" in log
    assert dead == [], "good requests are never dead-lettered for an outage"
    outcomes = outcomes_by_request(results)
    assert set(outcomes) == {r.request_id for r in [*before, *during]}
    assert all(len(v) == 1 for v in outcomes.values()), "one outcome per request_id"
    assert {o for v in outcomes.values() for o, _ in v} == {O.REDEEMED}
    grant_ids = {RewardGrant.from_bytes(m.value()).grant_id for m in grants}
    assert grant_ids == {g for v in outcomes.values() for _, ids in v for g in ids}
    assert len(grant_ids) == 30
