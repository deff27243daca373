"""Requests over Kafka through real worker processes: results, grants, DLQ, races."""

from __future__ import annotations

import collections

import orjson
import pytest

from core.bootstrap import bootstrap
from core.topics import Topic
from schemas.events import RedeemOutcome as O
from schemas.events import RedeemResult, RewardGrant
from tests.e2e.harness import WorkerProcess, consume_all, publish
from tests.integration.redeem_support import request, seed_campaign

pytestmark = pytest.mark.e2e


def test_worker_redeems_dedups_and_dead_letters(e2e_settings, tmp_path) -> None:
    with bootstrap(e2e_settings) as container:
        seeded = seed_campaign(container, count=5)
    requests = [request(seeded, code) for code in seeded.codes]
    duplicate = requests[0]
    malformed = [(b"t:x", b"{not json"), (b"t:y", orjson.dumps({"request_id": "r"}))]
    worker = WorkerProcess(e2e_settings, tmp_path).start()
    try:
        publish(
            e2e_settings,
            Topic.REDEEM_REQUESTS,
            [(r.kafka_key(), r.to_bytes()) for r in [*requests, duplicate]] + malformed,
        )
        results = consume_all(e2e_settings, Topic.REDEEM_RESULTS, expected=6, timeout=90)
        dead = consume_all(e2e_settings, Topic.REDEEM_REQUESTS.dlq, expected=2, timeout=30)
        grants = consume_all(e2e_settings, Topic.REWARD_GRANTS, expected=5, timeout=30)
    finally:
        assert worker.stop() == 0, worker.log_text()[-3000:]
    parsed = [RedeemResult.from_bytes(m.value()) for m in results]
    by_request = collections.defaultdict(set)
    for result in parsed:
        by_request[result.request_id].add((result.outcome, tuple(result.grant_ids)))
    assert set(by_request) == {r.request_id for r in requests}
    assert all(len(v) == 1 for v in by_request.values()), "one outcome per request_id"
    assert {next(iter(v))[0] for v in by_request.values()} == {O.REDEEMED}
    assert {m.value() for m in dead} == {v for _, v in malformed}
    headers = dict(dead[0].headers())
    assert headers["error"] and headers["source_topic"]
    grant_ids = {RewardGrant.from_bytes(m.value()).grant_id for m in grants}
    assert grant_ids == {g for v in by_request.values() for g in next(iter(v))[1]}


@pytest.mark.redis_cluster
def test_two_workers_race_200_codes_by_10_users(e2e_settings, tmp_path) -> None:
    # each racer may win many codes, and losing races is not guessing: lift those limits
    e2e_settings = e2e_settings.model_copy(
        update={"user_failed_attempts_per_hour": 10_000, "device_failed_attempts_per_hour": 10_000}
    )
    rule = {"perUserLimit": 1000, "rewardRules": [{"type": "COUPON", "id": "RACE"}]}
    with bootstrap(e2e_settings) as container:
        seeded = seed_campaign(container, count=200, rule=rule)
    users = [f"racer{i}" for i in range(10)]
    requests = [request(seeded, code, user=u) for u in users for code in seeded.codes]
    workers = [WorkerProcess(e2e_settings, tmp_path, f"w{i}").start() for i in range(2)]
    try:
        publish(
            e2e_settings, Topic.REDEEM_REQUESTS, [(r.kafka_key(), r.to_bytes()) for r in requests]
        )
        results = consume_all(e2e_settings, Topic.REDEEM_RESULTS, expected=2000, timeout=180)
        grants = consume_all(e2e_settings, Topic.REWARD_GRANTS, expected=200, timeout=30)
    finally:
        codes = [w.stop() for w in workers]
    outcomes = {}
    for message in results:
        result = RedeemResult.from_bytes(message.value())
        assert outcomes.setdefault(result.request_id, result.outcome) is result.outcome
    counts = collections.Counter(outcomes.values())
    assert counts == {O.REDEEMED: 200, O.ALREADY_USED: 1800}, counts
    distinct = {RewardGrant.from_bytes(m.value()).grant_id for m in grants}
    assert len(distinct) == 200
    assert codes == [0, 0], [w.log_text()[-2000:] for w in workers]
