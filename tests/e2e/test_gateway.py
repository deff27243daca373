"""The HTTP gateway over real HTTP: a gateway process, a worker process, the session broker,
MariaDB and Redis. One stack per module; tests use fresh codes, users and keys."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import create_engine, text

from core.redemption.model import GENERIC_NOT_FOUND
from core.settings import Settings
from core.topics import Topic
from tests.e2e.gateway_support import GatewayProcess, Stack, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(base_settings, broker, tmp_path_factory) -> Iterator[Stack]:
    with running_stack(
        base_settings, broker.bootstrap_servers, tmp_path_factory.mktemp("gw")
    ) as running:
        yield running


def post(stack: Stack, body: object, key: str | None = None, **headers: str) -> httpx.Response:
    sent = {"x-product-code": "APP_A", **headers}
    if key is not None:
        sent["x-api-key"] = key
    return httpx.post(stack.url + "/api/redeem", json=body, headers=sent, timeout=30)


def user() -> str:
    return f"u{uuid.uuid4().hex[:10]}"


def published_count(settings: Settings) -> int:
    """Records ever written to this stack's redeem.requests (sum of high watermarks)."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers,
                         "group.id": f"probe-{uuid.uuid4().hex[:6]}"})
    topic = settings.topic(Topic.REDEEM_REQUESTS)
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                   for p in parts)
    finally:
        consumer.close()


def test_redeem_ok(stack: Stack) -> None:
    answer = post(stack, {"code": stack.fresh_code(), "userId": user(), "channel": "app"},
                  stack.key_a, **{"x-device-id": "dev-1"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "REDEEMED" and body["message"] == "redeemed"
    assert body["redemptionId"] and len(body["grantIds"]) == 1


def test_same_idempotency_key_same_answer_one_redemption(stack: Stack) -> None:
    code, who, key = stack.fresh_code(), user(), f"idem-{uuid.uuid4().hex}"
    first = post(stack, {"code": code, "userId": who}, stack.key_a, **{"Idempotency-Key": key})
    again = post(stack, {"code": code, "userId": who}, stack.key_a, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json() == again.json()
    assert again.headers["Idempotency-Key"] == key
    other = post(stack, {"code": code, "userId": user()}, stack.key_a)
    assert other.status_code == 409 and other.json()["outcome"] == "ALREADY_USED"
    engine = create_engine(stack.settings.database_url)
    try:
        with engine.connect() as conn:
            redemptions = conn.execute(
                text("SELECT COUNT(*) FROM redemptions WHERE tenant_id = :t AND code = :c"),
                {"t": stack.tenant_a.tenant_id,  # stored as its lookup, never in clear
                 "c": stack.settings.code_protector.lookup(stack.tenant_a.tenant_id, code)},
            ).scalar_one()
            grants = conn.execute(
                text("SELECT COUNT(*) FROM reward_records WHERE redemption_id = :r"),
                {"r": first.json()["redemptionId"]},
            ).scalar_one()
    finally:
        engine.dispose()
    assert (redemptions, grants) == (1, 1)


def test_missing_or_wrong_key_is_401_and_publishes_nothing(stack: Stack) -> None:
    before = published_count(stack.settings)
    body = {"code": stack.fresh_code(), "userId": user()}
    wrong = "rfk_0123456789ab_" + "A" * 43
    altered = stack.key_a[:-1] + ("x" if stack.key_a[-1] != "x" else "y")
    for key in (None, "", "not-a-key", wrong, altered):
        answer = post(stack, body, key)
        assert answer.status_code == 401, (key, answer.text)
        assert answer.json()["error"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"] == "ApiKey"
    assert httpx.get(stack.url + "/api/redeem/gw-x", timeout=10).status_code == 401
    assert published_count(stack.settings) == before


def test_validation_errors_are_422_naming_the_field(stack: Stack) -> None:
    cases = [
        ({"code": "ABC"}, {}, "userId"),
        ({"code": "A B!", "userId": user()}, {}, "code"),
        ({"code": "ABC", "userId": user(), "channel": "tv"}, {}, "channel"),
        ({"code": "ABC", "userId": user()}, {"x-product-code": ""}, "x-product-code"),
        ({"code": "ABC", "userId": user()}, {"Idempotency-Key": "bad key!"}, "Idempotency-Key"),
    ]
    for body, headers, field in cases:
        sent = {"x-api-key": stack.key_a, "x-product-code": "APP_A", **headers}
        answer = httpx.post(stack.url + "/api/redeem", json=body, headers=sent, timeout=30)
        assert answer.status_code == 422, (field, answer.text)
        fields = [f["field"].lower() for f in answer.json()["fields"]]
        assert field.lower() in fields, (field, answer.json())
        assert field in answer.json()["message"] or field.lower() in answer.json()["message"]


def test_oversized_body_is_413(stack: Stack) -> None:
    big = {"code": "ABC", "userId": user(), "pad": "x" * 5000}
    declared = post(stack, big, stack.key_a)
    assert declared.status_code == 413 and declared.json()["error"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # streamed, no Content-Length
        yield b'{"code": "ABC", "userId": "u", "pad": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    streamed = httpx.post(stack.url + "/api/redeem", content=chunks(), timeout=30,
                          headers={"x-api-key": stack.key_a, "x-product-code": "APP_A",
                                   "content-type": "application/json"})
    assert streamed.status_code == 413


def test_unknown_and_other_tenant_codes_get_one_generic_404(stack: Stack) -> None:
    unknown = post(stack, {"code": "ZZZZ-ZZZZ-ZZZZ", "userId": user()}, stack.key_a)
    foreign = post(stack, {"code": stack.fresh_code(stack.tenant_b), "userId": user()},
                   stack.key_a)
    for answer in (unknown, foreign):
        assert answer.status_code == 404, answer.text
        body = answer.json()
        assert (body["outcome"], body["message"]) == ("NOT_FOUND", GENERIC_NOT_FOUND)
        assert body["redemptionId"] is None and body["grantIds"] == []
    strip = lambda b: {k: v for k, v in b.items() if k != "requestId"}  # noqa: E731
    assert strip(unknown.json()) == strip(foreign.json())


def test_get_answers_from_mysql_and_hides_other_tenants(stack: Stack) -> None:
    request_id = f"ext-{uuid.uuid4().hex}"
    engine = create_engine(stack.settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO request_outcomes (request_id, tenant_id, user_id, outcome,"
                     " redemption_id, grant_ids_json, processed_at)"
                     " VALUES (:r, :t, 'u1', 'EXPIRED', NULL, '[]', :now)"),
                {"r": request_id, "t": stack.tenant_a.tenant_id,
                 "now": datetime.now(UTC).replace(tzinfo=None)},
            )
    finally:
        engine.dispose()
    mine = httpx.get(f"{stack.url}/api/redeem/{request_id}",
                     headers={"x-api-key": stack.key_a}, timeout=10)
    assert mine.status_code == 409 and mine.json()["outcome"] == "EXPIRED", mine.text
    theirs = httpx.get(f"{stack.url}/api/redeem/{request_id}",
                       headers={"x-api-key": stack.key_b}, timeout=10)
    assert theirs.status_code == 404 and theirs.json()["error"] == "unknown_request"


def test_ops_endpoints(stack: Stack) -> None:
    ready = httpx.get(stack.url + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert {n for n, c in ready.json()["checks"].items() if c["ok"]} >= {"kafka", "mysql", "redis"}
    assert httpx.get(stack.url + "/healthz", timeout=10).json() == {"status": "ok"}
    metrics = httpx.get(stack.url + "/metrics", timeout=10).text
    assert 'marketing_gateway_requests_total{route="/api/redeem",status="200"}' in metrics
    spec = httpx.get(stack.url + "/openapi.json", timeout=10).json()
    assert {"/api/redeem", "/api/redeem/{requestId}"} <= set(spec["paths"])
    assert httpx.get(stack.url + "/docs", timeout=10).status_code == 200


def test_readyz_is_503_naming_the_failed_dependency(stack: Stack) -> None:
    broken = GatewayProcess(stack.settings, stack.log_dir,
                            REDEEMFLOW_REDIS_URL="redis://127.0.0.1:1/0").start()
    try:
        broken.wait_up()
        ready = httpx.get(broken.url + "/readyz", timeout=10)
    finally:
        broken.stop()
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert not checks["redis"]["ok"] and checks["redis"]["detail"]
    assert checks["mysql"]["ok"] and checks["kafka"]["ok"]


def test_pending_202_then_get_after_worker_restart(stack: Stack) -> None:
    stack.worker.stop()
    code, who = stack.fresh_code(), user()
    accepted = post(stack, {"code": code, "userId": who}, stack.key_a)
    assert accepted.status_code == 202, accepted.text
    request_id = accepted.json()["requestId"]
    assert accepted.json()["outcome"] == "PENDING"
    assert accepted.headers["Location"] == f"/api/redeem/{request_id}"
    url = f"{stack.url}/api/redeem/{request_id}"
    assert httpx.get(url, headers={"x-api-key": stack.key_a}, timeout=10).status_code == 202
    stack.restart_worker()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        later = httpx.get(url, headers={"x-api-key": stack.key_a}, timeout=10)
        if later.status_code != 202:
            break
        time.sleep(0.5)
    assert later.status_code == 200, later.text
    assert later.json()["outcome"] == "REDEEMED" and later.json()["requestId"] == request_id
