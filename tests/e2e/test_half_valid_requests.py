"""Half-valid messages through a real worker: dead-lettered, logged, and answered once."""

from __future__ import annotations

import collections

import orjson
import pytest

from core.bootstrap import bootstrap
from core.masking import mask_redeem_request
from core.topics import Topic
from schemas.campaign import CampaignOutcome, CreateCampaignResult
from schemas.events import RedeemOutcome as O
from schemas.events import RedeemResult
from tests.conftest import unique_id
from tests.e2e.harness import WorkerProcess, consume_all, publish
from tests.integration.redeem_support import request, seed_campaign

pytestmark = pytest.mark.e2e

BROKEN = {
    "channel": {"channel": "fax"},
    "colour": {"colour": "blue"},
    "requested_at": {"requested_at": "2026-01-01T10:00:00"},
    "schema_version": {"schema_version": 2},
    "code": {"code": "A" * 65},
}


def test_half_valid_requests_get_one_invalid_answer_and_a_dead_letter(
    e2e_settings, tmp_path
) -> None:
    with bootstrap(e2e_settings) as container:
        seeded = seed_campaign(container, count=2)
    good = request(seeded, seeded.codes[0])
    half = {}
    for field, change in BROKEN.items():
        payload = request(seeded, seeded.codes[1]).model_dump(mode="json")
        half[payload["request_id"]] = (field, orjson.dumps({**payload, **change}))
    hopeless = orjson.dumps({"request_id": "r-x", "channel": "fax"})
    bad_rule = orjson.dumps(
        {"campaign_id": unique_id("cp"), "tenant_id": seeded.tenant_id, "product_code": "APP_A",
         "rule": {"rewardRules": [{"type": "COUPON", "id": "X"}], "useLimit": 0}}
    )
    worker = WorkerProcess(e2e_settings, tmp_path).start()
    try:
        messages = [(good.kafka_key(), good.to_bytes())]
        messages += [(b"k", data) for _, data in half.values()] * 2  # each one redelivered
        publish(e2e_settings, Topic.REDEEM_REQUESTS, [*messages, (b"k", hopeless)])
        publish(e2e_settings, Topic.CAMPAIGN_REQUESTS, [(b"c", bad_rule)])
        results = consume_all(e2e_settings, Topic.REDEEM_RESULTS, expected=11, timeout=90)
        dead = consume_all(e2e_settings, Topic.REDEEM_REQUESTS.dlq, expected=11, timeout=30)
        campaigns = consume_all(e2e_settings, Topic.CAMPAIGN_RESULTS, expected=1, timeout=30)
        campaign_dead = consume_all(
            e2e_settings, Topic.CAMPAIGN_REQUESTS.dlq, expected=1, timeout=30
        )
    finally:
        assert worker.stop() == 0, worker.log_text()[-3000:]
    answers: dict[str, set[bytes]] = collections.defaultdict(set)
    for message in results:
        answers[RedeemResult.from_bytes(message.value()).request_id].add(message.value())
    assert set(answers) == {good.request_id, *half}, "the hopeless one has nobody to answer"
    assert all(len(v) == 1 for v in answers.values()), "a redelivery repeats the same answer"
    for request_id, (field, _) in half.items():
        answer = RedeemResult.from_bytes(next(iter(answers[request_id])))
        assert answer.outcome is O.INVALID_REQUEST and field in answer.message, answer
    assert RedeemResult.from_bytes(next(iter(answers[good.request_id]))).outcome is O.REDEEMED
    # dead letters of redeem requests carry the code masked (codes at rest, issue 20)
    assert len(dead) == 11 and {m.value() for m in dead} == {
        mask_redeem_request(b"", d, "")[1] for d in (*(d for _, d in half.values()), hopeless)
    }
    [created] = [CreateCampaignResult.from_bytes(m.value()) for m in campaigns]
    assert created.outcome is CampaignOutcome.INVALID_RULE and "useLimit" in created.message
    assert [m.value() for m in campaign_dead] == [bad_rule]
    log = worker.log_text()
    assert log.count("dead-lettered topic=") == 12, log[-3000:]
