"""A real worker SIGKILLed mid-stream, restarted, then a compensation job over Kafka."""

from __future__ import annotations

import collections
import time

import pytest
from sqlalchemy import text

from core.bootstrap import bootstrap
from core.cache_rebuild import cache_mismatches
from core.compensation import new_job
from core.compensation.reports import ReportWatcher, publish_job
from core.topics import Topic
from schemas.events import RedeemOutcome as O
from schemas.events import RedeemResult, RewardGrant
from tests.e2e.harness import WorkerProcess, consume_all, publish
from tests.integration.redeem_support import request, seed_campaign

pytestmark = pytest.mark.e2e


def _results_so_far(settings) -> int:
    return len(consume_all(settings, Topic.REDEEM_RESULTS, expected=10**9, timeout=1.0))


def test_sigkill_restart_and_compensation_converge(e2e_settings, tmp_path) -> None:
    settings = e2e_settings.model_copy(update={
        "user_failed_attempts_per_hour": 10_000, "device_failed_attempts_per_hour": 10_000,
        "redeem_batch_size": 50})
    with bootstrap(settings) as container:
        single = seed_campaign(container, count=300)
        multi = seed_campaign(container, count=2, tenant_id=single.tenant_id,
                              rule={"useLimit": 50, "rewardRules": [{"type": "COUPON", "id": "M"}]})
    requests = [request(single, c) for c in single.codes] + [
        request(multi, multi.codes[i % 2]) for i in range(120)]
    requests += requests[:40]  # redelivered duplicates
    worker = WorkerProcess(settings, tmp_path, "victim").start()
    publish(settings, Topic.REDEEM_REQUESTS, [(r.kafka_key(), r.to_bytes()) for r in requests])
    deadline = time.monotonic() + 90
    while _results_so_far(settings) < 60 and time.monotonic() < deadline:
        time.sleep(0.2)
    worker.kill()
    restarted = WorkerProcess(settings, tmp_path, "restarted").start()
    try:
        unique = {r.request_id for r in requests}
        results = consume_all(settings, Topic.REDEEM_RESULTS, expected=len(unique), timeout=120)
        job = new_job(tenant_id=single.tenant_id, older_than_seconds=0, requested_by="e2e")
        with bootstrap(settings) as container, \
                ReportWatcher(container.topic_reader, settings) as watcher:
            publish_job(container.event_sink, settings, job)
            report = watcher.wait(job.job_id, timeout=60)
        assert report is not None and report.failed == 0, report
        grants = consume_all(settings, Topic.REWARD_GRANTS, expected=400, timeout=60)
    finally:
        assert restarted.stop() == 0, restarted.log_text()[-3000:]

    outcomes = collections.defaultdict(set)
    for message in results:
        result = RedeemResult.from_bytes(message.value())
        outcomes[result.request_id].add((result.outcome, tuple(result.grant_ids)))
    assert set(outcomes) == unique
    assert all(len(v) == 1 for v in outcomes.values()), "one outcome per request_id"
    redeemed = {g for v in outcomes.values() for o, ids in v if o is O.REDEEMED for g in ids}
    assert len(redeemed) == 300 + 2 * 50
    assert {RewardGrant.from_bytes(m.value()).grant_id for m in grants} == redeemed
    with bootstrap(settings) as container:
        with container.engine.connect() as conn:
            pending = conn.execute(text(
                "SELECT (SELECT COUNT(*) FROM redeem_codes WHERE tenant_id = :t AND status = 1)"
                " + (SELECT COUNT(*) FROM redemptions WHERE tenant_id = :t AND status = 1)"),
                {"t": single.tenant_id}).scalar()
        assert pending == 0
        assert cache_mismatches(container, single.tenant_id) == []
