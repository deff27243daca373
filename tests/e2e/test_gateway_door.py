"""The end user's door over real HTTP: bearer tokens, POST /api/tokens, CORS per tenant,
oversized headers, and ``gateway --workers``. Gateway and worker processes, the session
broker, MariaDB and Redis; one stack per module."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import create_engine, text

from core.bootstrap import bootstrap
from core.tokens import create_signing_key, mint, signing_secret
from producers.gateway.models import RATE_LIMIT_RETRY_AFTER
from tests.e2e.gateway_support import GatewayProcess, Stack, running_stack
from tests.e2e.test_gateway import published_count

pytestmark = pytest.mark.e2e

ORIGIN_A = "http://shop-a.example:8443"
ORIGIN_B = "https://shop-b.example"
REFUSED = {"error": "unauthorized", "message": "invalid or expired token", "fields": []}


def cors_env(tenant_a: str, tenant_b: str) -> dict[str, str]:
    return {"REDEEMFLOW_GATEWAY_CORS_ORIGINS": json.dumps({tenant_a: [ORIGIN_A],
                                                            tenant_b: [ORIGIN_B]})}


@pytest.fixture(scope="module")
def stack(base_settings, broker, tmp_path_factory) -> Iterator[Stack]:
    with running_stack(base_settings, broker.bootstrap_servers,
                       tmp_path_factory.mktemp("door"), gateway_env=cors_env) as running:
        yield running


@pytest.fixture(scope="module")
def signing(stack: Stack) -> tuple[str, str]:
    """(key id, secret) of a signing key of tenant A."""
    with bootstrap(stack.settings) as container:
        master = stack.settings.token_master_secret.get_secret_value().encode()
        record, secret = create_signing_key(container.signing_keys, master,
                                            stack.tenant_a.tenant_id, "e2e")
    return record.key_id, secret


def token_for(stack: Stack, signing: tuple[str, str], user: str, **kw: object) -> str:
    key_id, secret = signing
    args: dict[str, object] = {"products": ["APP_A"], "ttl_seconds": 300, **kw}
    return mint(secret, key_id, stack.tenant_a.tenant_id, user, args["products"],  # type: ignore[arg-type]
                args["ttl_seconds"], now=args.get("now")).token  # type: ignore[arg-type]


def bearer(stack: Stack, token: str, body: dict[str, object], **headers: str) -> httpx.Response:
    sent = {"authorization": f"Bearer {token}", "x-product-code": "APP_A", **headers}
    return httpx.post(stack.url + "/api/redeem", json=body, headers=sent, timeout=30)


def recorded_user(stack: Stack, request_id: str) -> str:
    engine = create_engine(stack.settings.database_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT user_id FROM request_outcomes"
                                         " WHERE request_id = :r"), {"r": request_id}).scalar_one())
    finally:
        engine.dispose()


def test_bearer_token_redeems_for_the_token_user(stack: Stack, signing) -> None:
    user = f"tok{uuid.uuid4().hex[:8]}"
    answer = bearer(stack, token_for(stack, signing, user), {"code": stack.fresh_code()})
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "REDEEMED"
    assert recorded_user(stack, answer.json()["requestId"]) == user


def test_body_user_other_than_the_token_user_is_refused(stack: Stack, signing) -> None:
    before = published_count(stack.settings)
    token = token_for(stack, signing, "alice")
    answer = bearer(stack, token, {"code": stack.fresh_code(), "userId": "mallory"})
    assert answer.status_code == 422, answer.text
    assert [f["field"] for f in answer.json()["fields"]] == ["userId"]
    assert published_count(stack.settings) == before


def test_every_bad_token_is_one_generic_401_and_publishes_nothing(stack: Stack, signing) -> None:
    key_id, secret = signing
    good = token_for(stack, signing, "bob")
    head, _payload, sig = good.split(".")
    now = int(time.time())
    claims = {"iss": "redeemflow", "tid": stack.tenant_a.tenant_id, "sub": "bob",
              "products": ["APP_A"], "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}
    b64 = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    master = stack.settings.token_master_secret.get_secret_value().encode()
    tenant_b_secret = signing_secret(master, stack.tenant_b.tenant_id, key_id)
    bad = {
        "other product": token_for(stack, signing, "bob", products=["APP_B"]),
        "expired": token_for(stack, signing, "bob", ttl_seconds=60, now=time.time() - 600),
        "tampered": f"{head}.{b64({**claims, 'sub': 'eve'})}.{sig}",
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': key_id})}.{b64(claims)}.",
        "signed with the API key": jwt.encode(claims, stack.key_a, algorithm="HS256",
                                              headers={"kid": key_id}),
        "other tenant": jwt.encode({**claims, "tid": stack.tenant_b.tenant_id},
                                   tenant_b_secret, algorithm="HS256", headers={"kid": key_id}),
        "garbage": "abc.def.ghi",
    }
    before = published_count(stack.settings)
    for reason, token in bad.items():
        answer = bearer(stack, token, {"code": stack.tenant_a.codes[-1]})
        assert answer.status_code == 401, (reason, answer.text)
        assert answer.json() == REFUSED, reason
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    basic = httpx.post(stack.url + "/api/redeem", json={"code": "X"}, timeout=10,
                       headers={"authorization": "Basic Ym9iOmJvYg==", "x-product-code": "APP_A"})
    assert basic.status_code == 401 and basic.json() == REFUSED
    assert published_count(stack.settings) == before
    assert secret  # the good token's key is still valid: the refusals were the tokens'


def test_post_tokens_mints_with_an_api_key_only(stack: Stack, signing) -> None:
    url = stack.url + "/api/tokens"
    body = {"userId": "carol", "productCodes": ["APP_A"], "ttlSeconds": 120}
    minted = httpx.post(url, json=body, headers={"x-api-key": stack.key_a}, timeout=10)
    assert minted.status_code == 201, minted.text
    answer = minted.json()
    assert answer["tokenType"] == "Bearer" and answer["keyId"] == signing[0]
    assert 100 <= answer["expiresAt"] - time.time() <= 125
    redeemed = bearer(stack, answer["token"], {"code": stack.fresh_code()})
    assert redeemed.status_code == 200, redeemed.text
    assert recorded_user(stack, redeemed.json()["requestId"]) == "carol"
    no_key = httpx.post(url, json=body, headers={"x-api-key": stack.key_b}, timeout=10)
    assert no_key.status_code == 409 and no_key.json()["error"] == "no_signing_key"
    too_long = httpx.post(url, json={**body, "ttlSeconds": 901},
                          headers={"x-api-key": stack.key_a}, timeout=10)
    assert too_long.status_code == 422
    assert [f["field"] for f in too_long.json()["fields"]] == ["ttlSeconds"]
    by_token = httpx.post(url, json=body, timeout=10,
                          headers={"authorization": f"Bearer {answer['token']}"})
    assert by_token.status_code == 401


def test_cors_preflight_and_per_tenant_origins(stack: Stack, signing) -> None:
    preflight = {"access-control-request-method": "POST",
                 "access-control-request-headers": "authorization, content-type, "
                                                   "idempotency-key, x-product-code"}
    ok = httpx.options(stack.url + "/api/redeem", headers={"origin": ORIGIN_A, **preflight},
                       timeout=10)
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == ORIGIN_A
    assert "authorization" in ok.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in ok.headers
    other = httpx.options(stack.url + "/api/redeem", timeout=10,
                          headers={"origin": "https://evil.example", **preflight})
    assert other.status_code == 403
    assert not [h for h in other.headers if h.startswith("access-control-")]
    api_key_header = httpx.options(stack.url + "/api/redeem", timeout=10, headers={
        "origin": ORIGIN_A, "access-control-request-method": "POST",
        "access-control-request-headers": "x-api-key"})
    assert api_key_header.status_code == 403  # API keys stay server side

    mine = bearer(stack, token_for(stack, signing, "dave"), {"code": stack.fresh_code()},
                  origin=ORIGIN_A)
    assert mine.status_code == 200, mine.text
    assert mine.headers["access-control-allow-origin"] == ORIGIN_A
    assert "Location" in mine.headers["access-control-expose-headers"]
    theirs = bearer(stack, token_for(stack, signing, "dave2"), {"code": stack.fresh_code()},
                    origin=ORIGIN_B)
    assert theirs.status_code == 200  # served, but B's page may not read A's answer
    assert "access-control-allow-origin" not in theirs.headers
    evil = bearer(stack, token_for(stack, signing, "dave3"), {"code": stack.fresh_code()},
                  origin="https://evil.example")
    assert "access-control-allow-origin" not in evil.headers


def raw_request(stack: Stack, head: bytes) -> bytes:
    """Send raw bytes (headers httpx refuses to send) and read the answer."""
    port = int(stack.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head)
        chunks = []
        while True:
            try:
                chunk = conn.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_bad_origins_and_huge_headers_are_clear_4xx_and_publish_nothing(stack: Stack) -> None:
    before = published_count(stack.settings)
    body = json.dumps({"code": stack.fresh_code(), "userId": "u1"})
    for origin in ("http://shop-a.example/path", "javascript:alert(1)", "http://a b"):
        answer = httpx.post(stack.url + "/api/redeem", content=body, timeout=10, headers={
            "x-api-key": stack.key_a, "x-product-code": "APP_A", "origin": origin,
            "content-type": "application/json"})
        assert answer.status_code == 400, (origin, answer.text)
        assert answer.json()["error"] == "invalid_origin"
    crlf = raw_request(stack, (
        f"POST /api/redeem HTTP/1.1\r\nhost: x\r\nx-api-key: {stack.key_a}\r\n"
        f"x-product-code: APP_A\r\norigin: http://shop-a.example\rinjected: 1\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n{body}"
    ).encode())
    assert crlf.startswith(b"HTTP/1.1 400"), crlf[:200]
    huge = httpx.post(stack.url + "/api/redeem", content=body, timeout=30, headers={
        "x-api-key": stack.key_a, "x-product-code": "APP_A", "x-pad": "p" * 1_048_576,
        "content-type": "application/json"})
    assert huge.status_code == 431 and huge.json()["error"] == "headers_too_large"
    long_auth = httpx.post(stack.url + "/api/redeem", content=body, timeout=30, headers={
        "authorization": "Bearer " + "a" * 12_000, "x-product-code": "APP_A",
        "content-type": "application/json"})
    assert long_auth.status_code == 431
    assert long_auth.json()["error"] == "authorization_too_large"
    assert published_count(stack.settings) == before


def test_same_key_at_two_processes_at_once_is_decided_once(stack: Stack, tmp_path: Path) -> None:
    other = GatewayProcess(stack.settings, tmp_path, REDEEMFLOW_GATEWAY_RESULT_TIMEOUT_SECONDS="5")
    other.start()
    try:
        other.wait_up(path="/readyz")
        code, key = stack.fresh_code(), f"twice-{uuid.uuid4().hex}"
        body = {"code": code, "userId": "erin"}

        def send(url: str) -> httpx.Response:
            return httpx.post(url + "/api/redeem", json=body, timeout=30, headers={
                "x-api-key": stack.key_a, "x-product-code": "APP_A", "Idempotency-Key": key})

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(send, [stack.url, other.url] * 3))
        assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
        assert len({a.content for a in answers}) == 1
        engine = create_engine(stack.settings.database_url)
        lookup = stack.settings.code_protector.lookup(stack.tenant_a.tenant_id, code)
        try:
            with engine.connect() as conn:
                count = conn.execute(text("SELECT COUNT(*) FROM redemptions WHERE tenant_id = :t"
                                          " AND code = :c"),
                                     {"t": stack.tenant_a.tenant_id, "c": lookup}).scalar_one()
        finally:
            engine.dispose()
        assert count == 1
        request_id = answers[0].json()["requestId"]
        for url in (stack.url, other.url):
            looked = httpx.get(f"{url}/api/redeem/{request_id}", timeout=10,
                               headers={"x-api-key": stack.key_a})
            assert looked.status_code == 200 and looked.content == answers[0].content
    finally:
        other.stop()


def children_of(pid: int) -> list[int]:
    """The serving processes uvicorn spawned (not multiprocessing's resource tracker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            argv = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in argv:
                found.append(int(child))
    return found


def test_workers_share_one_port_and_a_slow_worker_still_gets_202(
    stack: Stack, tmp_path: Path
) -> None:
    multi = GatewayProcess(stack.settings, tmp_path, workers=2,
                           REDEEMFLOW_GATEWAY_RESULT_TIMEOUT_SECONDS="2")
    multi.start()
    try:
        multi.wait_up(path="/readyz")
        assert multi.process is not None
        deadline = time.monotonic() + 30
        while len(children_of(multi.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(children_of(multi.process.pid)) == 2
        code, key = stack.fresh_code(), f"multi-{uuid.uuid4().hex}"

        def send(_: int) -> httpx.Response:  # a new connection each: any process may answer
            return httpx.post(multi.url + "/api/redeem", json={"code": code, "userId": "fay"},
                              timeout=30, headers={"x-api-key": stack.key_a,
                                                   "x-product-code": "APP_A",
                                                   "Idempotency-Key": key})

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(send, range(8)))
        assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
        assert len({a.content for a in answers}) == 1

        stack.worker.stop()
        try:
            pending = httpx.post(multi.url + "/api/redeem", timeout=30,
                                 json={"code": stack.fresh_code(), "userId": "gus"},
                                 headers={"x-api-key": stack.key_a, "x-product-code": "APP_A"})
            assert pending.status_code == 202, pending.text
            location = pending.headers["Location"]
            assert location == f"/api/redeem/{pending.json()['requestId']}"
            elsewhere = httpx.get(stack.url + location, headers={"x-api-key": stack.key_a},
                                  timeout=10)  # a process that did not publish it
            assert elsewhere.status_code == 202, elsewhere.text
        finally:
            stack.restart_worker()
        for url in (multi.url, stack.url):  # every process answers once it is decided
            deadline = time.monotonic() + 90
            while True:
                later = httpx.get(url + location, headers={"x-api-key": stack.key_a}, timeout=10)
                if later.status_code != 202 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert later.status_code == 200 and later.json()["outcome"] == "REDEEMED", later.text
    finally:
        assert multi.stop() in (0, -15), multi.log_text()[-2000:]


def test_openapi_declares_both_credentials(stack: Stack) -> None:
    spec = httpx.get(stack.url + "/openapi.json", timeout=10).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKeyAuth"] == {"type": "apiKey", "in": "header", "name": "x-api-key",
                                     "description": schemes["ApiKeyAuth"]["description"]}
    assert schemes["BearerAuth"]["scheme"] == "bearer"
    redeem = spec["paths"]["/api/redeem"]["post"]
    assert redeem["security"] == [{"ApiKeyAuth": []}, {"BearerAuth": []}]
    assert {p["name"] for p in redeem["parameters"]} == {
        "x-product-code", "x-device-id", "Idempotency-Key"}
    assert "code" in redeem["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert spec["paths"]["/api/tokens"]["post"]["security"] == [{"ApiKeyAuth": []}]


def test_a_token_user_sees_only_own_requests(stack: Stack, signing) -> None:
    key = f"shared-{uuid.uuid4().hex}"
    alice, bob = token_for(stack, signing, "alice2"), token_for(stack, signing, "bob2")
    first = bearer(stack, alice, {"code": stack.fresh_code()}, **{"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    request_id = first.json()["requestId"]
    get = lambda token: httpx.get(  # noqa: E731
        f"{stack.url}/api/redeem/{request_id}", timeout=10,
        headers={"authorization": f"Bearer {token}"})
    assert get(alice).status_code == 200 and get(alice).json() == first.json()
    assert get(bob).status_code == 404
    same_key = bearer(stack, bob, {"code": stack.fresh_code()}, **{"Idempotency-Key": key})
    assert same_key.status_code == 200, same_key.text
    assert same_key.json()["requestId"] != request_id  # bob's key names bob's request
    assert same_key.json()["redemptionId"] != first.json()["redemptionId"]


@pytest.mark.parametrize("credential", ["api key", "bearer token"])
def test_user_and_device_throttles_apply_to_both_credentials(
    stack: Stack, signing, credential: str
) -> None:
    """The worker's failed-attempt limits per user and per device hold for end users with a
    token exactly as for API-key callers: past the limit even a valid code is 429."""
    def redeem(user: str, code: str, device: str) -> httpx.Response:
        if credential == "bearer token":
            return bearer(stack, token_for(stack, signing, user), {"code": code},
                          **{"x-device-id": device})
        return httpx.post(stack.url + "/api/redeem", json={"code": code, "userId": user},
                          timeout=30, headers={"x-api-key": stack.key_a, "x-device-id": device,
                                               "x-product-code": "APP_A"})

    def guesses(user: str, device: str, count: int) -> list[int]:
        return [redeem(user, f"GUESS{n:04d}", device).status_code for n in range(count)]

    run = uuid.uuid4().hex[:8]
    per_user = stack.settings.user_failed_attempts_per_hour
    per_device = stack.settings.device_failed_attempts_per_hour
    assert per_user < per_device
    guesser = f"g{run}"
    assert guesses(guesser, f"d1{run}", per_user) == [404] * per_user
    limited = redeem(guesser, stack.fresh_code(), f"d2{run}")
    assert limited.status_code == 429, limited.text
    assert limited.json()["outcome"] == "RATE_LIMITED"
    assert limited.headers["Retry-After"] == str(RATE_LIMIT_RETRY_AFTER)

    device = f"d3{run}"  # many users, each below the user limit, share one device
    failed = [code for n in range(per_device) for code in guesses(f"u{n}{run}", device, 1)]
    assert failed == [404] * per_device
    on_device = redeem(f"late{run}", stack.fresh_code(), device)
    assert on_device.status_code == 429 and on_device.json()["outcome"] == "RATE_LIMITED"
    elsewhere = redeem(f"late{run}", stack.fresh_code(), f"d4{run}")
    assert elsewhere.status_code == 200, elsewhere.text  # the device was throttled, not the user
