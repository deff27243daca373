"""The gateway's answers match its documented contract, on a live stack (gateway process,
worker process, the session broker, MariaDB and Redis): authentication first, one error
shape for every error, suspended or closed tenants' keys refused within seconds, and
schemathesis (every check) finding nothing against the served OpenAPI."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer

from core.apikeys import issue_key
from core.bootstrap import bootstrap
from core.topics import Topic
from schemas.events import TenantStatus, TenantType, TenantUpdated
from tests.e2e.gateway_support import Stack, running_stack
from tests.integration.redeem_support import seed_campaign

pytestmark = pytest.mark.e2e
ERROR_KEYS = {"error", "message", "fields"}
SCHEMATHESIS_SEED = 20_261_203
SCHEMATHESIS_MAX_EXAMPLES = 10


@pytest.fixture(scope="module")
def stack(base_settings, broker, tmp_path_factory) -> Iterator[Stack]:
    with running_stack(
        base_settings, broker.bootstrap_servers, tmp_path_factory.mktemp("gwc")
    ) as running:
        yield running


def send(stack: Stack, body: bytes, key: str | None, method: str = "POST",
         path: str = "/api/redeem") -> httpx.Response:
    headers = {"x-product-code": "APP_A", "content-type": "application/json"}
    if key is not None:
        headers["x-api-key"] = key
    return httpx.request(method, stack.url + path, content=body, headers=headers, timeout=30)


def assert_error(answer: httpx.Response, status: int, error: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == ERROR_KEYS and body["error"] == error, body
    return body


#: Not UTF-8, not JSON, truncated, NaN: refused as 422 after authentication.
BAD_BODIES = [b'{"code": "AB\xff12", "userId": "u1"}', b'{"code": "AB12", ', b"\xff\xfe\x00",
              b'{"code": NaN, "userId": "u1"}']
NOT_JSON = BAD_BODIES[:3]


@pytest.mark.parametrize("path", ["/api/redeem", "/api/tokens"])
@pytest.mark.parametrize("body", BAD_BODIES)
def test_without_valid_credentials_any_body_is_401_first(stack: Stack, body: bytes,
                                                         path: str) -> None:
    answer = send(stack, body, None, path=path)
    assert_error(answer, 401, "unauthorized")
    assert answer.headers["WWW-Authenticate"] == "ApiKey"
    assert_error(send(stack, body, "rfk_not-a-key", path=path), 401, "unauthorized")


@pytest.mark.parametrize("path", ["/api/redeem", "/api/tokens"])
def test_without_valid_credentials_even_an_oversized_body_is_401(stack: Stack,
                                                                 path: str) -> None:
    big = b'{"code": "ABC", "userId": "u1", "pad": "' + b"x" * 50_000 + b'"}'
    assert_error(send(stack, big, None, path=path), 401, "unauthorized")
    assert_error(send(stack, big, "rfk_nope", path=path), 401, "unauthorized")

    def chunks() -> Iterator[bytes]:  # streamed, no Content-Length
        for _ in range(50):
            yield b"y" * 1000

    streamed = httpx.post(stack.url + path, content=chunks(), timeout=30,
                          headers={"x-product-code": "APP_A", "x-api-key": "rfk_nope"})
    assert_error(streamed, 401, "unauthorized")
    too_large = send(stack, big, stack.key_a, path=path)
    assert_error(too_large, 413, "payload_too_large")
    assert too_large.headers["connection"] == "close"


@pytest.mark.parametrize("path", ["/api/redeem", "/api/tokens"])
@pytest.mark.parametrize("body", BAD_BODIES)
def test_bodies_that_are_not_utf8_json_are_422_validation_errors(stack: Stack, body: bytes,
                                                                 path: str) -> None:
    error = assert_error(send(stack, body, stack.key_a, path=path), 422, "validation_error")
    assert error["fields"], error
    if body in NOT_JSON:
        assert error["fields"][0]["field"] == "body", error


def test_framework_errors_use_the_error_shape(stack: Stack) -> None:
    answer = send(stack, b"", stack.key_a, method="DELETE")
    assert_error(answer, 405, "method_not_allowed")
    assert "POST" in answer.headers["Allow"]
    assert_error(send(stack, b"", stack.key_a, method="GET", path="/nowhere"), 404, "not_found")
    unknown = send(stack, b"", stack.key_a, method="GET", path="/api/redeem/gw-none")
    assert_error(unknown, 404, "unknown_request")
    assert_error(send(stack, b"", None, method="GET", path="/api/redeem/gw-none"), 401,
                 "unauthorized")


def publish_tenant(stack: Stack, tenant: str, status: TenantStatus, version: int) -> None:
    event = TenantUpdated(tenant_id=tenant, name="Suspendable", type=TenantType.CHANNEL,
                          status=status, code_quota=1000, version=version)
    producer = Producer({"bootstrap.servers": stack.settings.kafka_bootstrap_servers})
    producer.produce(stack.settings.topic(Topic.TENANT_UPDATED), key=tenant,
                     value=event.to_bytes())
    assert producer.flush(30) == 0


def wait_for_status(stack: Stack, key: str, status: int, timeout: float = 20.0) -> float:
    """Seconds until a redeem call with ``key`` answers ``status``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        answer = httpx.post(stack.url + "/api/redeem",
                            json={"code": "NOSUCHCODE", "userId": f"u{uuid.uuid4().hex[:8]}"},
                            headers={"x-api-key": key, "x-product-code": "APP_A"}, timeout=30)
        if answer.status_code == status:
            return time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"never answered {status}: last {answer.status_code} {answer.text}")


def test_suspended_and_closed_tenants_keys_are_refused_within_seconds(stack: Stack) -> None:
    with bootstrap(stack.settings) as container:
        tenant = seed_campaign(container, count=2).tenant_id
        key = issue_key(container.api_key_store, tenant, "suspend-me").secret_key
    publish_tenant(stack, tenant, TenantStatus.ACTIVE, 1)
    wait_for_status(stack, key, 404)
    publish_tenant(stack, tenant, TenantStatus.SUSPENDED, 2)
    took = wait_for_status(stack, key, 403)
    answer = send(stack, b'{"code": "AB12", "userId": "u1"}', key)
    body = assert_error(answer, 403, "tenant_inactive")
    assert "suspended" in body["message"]
    publish_tenant(stack, tenant, TenantStatus.ACTIVE, 3)
    wait_for_status(stack, key, 404)
    publish_tenant(stack, tenant, TenantStatus.CLOSED, 4)
    wait_for_status(stack, key, 403)
    assert took < 15, f"suspension took {took:.1f}s to reach the gateway"


@pytest.mark.timeout(300)
def test_schemathesis_finds_nothing_against_the_live_gateway(stack: Stack,
                                                             tmp_path: Path) -> None:
    """Every check, a fixed seed, bounded examples: the served OpenAPI is what the gateway
    does (tenant B's API key, so tenant A's codes stay for the other tests)."""
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{stack.url}/openapi.json",
        "--checks", "all", "--seed", str(SCHEMATHESIS_SEED),
        "--max-examples", str(SCHEMATHESIS_MAX_EXAMPLES),
        "--header", f"x-api-key: {stack.key_b}", "--request-timeout", "20",
        "--workers", "1", "--no-color", "--report-dir", str(tmp_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=280, check=False,
                          cwd=tmp_path)
    output = done.stdout[-8000:] + done.stderr[-2000:]
    assert done.returncode == 0, output
    assert f"Seed: {SCHEMATHESIS_SEED}" in done.stdout, output
    assert "6 selected" in done.stdout, output  # redeem, result, tokens and the 3 probes
