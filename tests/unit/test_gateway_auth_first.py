"""Authentication first, then the body: on the redeem fast path (``edge``) and on the FastAPI
route behind it (served when the fast path is not installed), with a stub authenticator in
place of the gateway state (no server, nothing connects)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.datastructures import Headers

from core.bootstrap import bootstrap
from core.settings import Settings
from producers.gateway import create_app
from producers.gateway.app import edge
from producers.gateway.auth import Principal, Unauthorized

GOOD_KEY = "rfk_good"
BAD_BODIES = [b'{"code": "AB\xff12", "userId": "u1"}', b'{"code": "AB12", ', b"\xff\xfe\x00", b""]
ERROR_KEYS = {"error", "message", "fields"}


class StubAuth:
    """Accepts only GOOD_KEY (what Authenticator.principal answers, without a database)."""

    async def principal(self, headers: Headers) -> Principal:
        if headers.get("x-api-key") != GOOD_KEY:
            raise Unauthorized("invalid API key")
        return Principal("t-unit")


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(gateway_max_body_bytes=1024)


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[FastAPI]:
    with bootstrap(settings) as container:
        app = create_app(container)
        app.state.gateway = SimpleNamespace(auth=StubAuth())
        yield app


@pytest.fixture(params=["fast-path", "fastapi-route"])
def served(request: pytest.FixtureRequest, api: FastAPI, settings: Settings) -> Any:
    return edge(api, settings) if request.param == "fast-path" else api


async def post(app: Any, body: bytes, key: str | None) -> httpx.Response:
    headers = {"x-product-code": "APP_A", "content-type": "application/json"}
    if key is not None:
        headers["x-api-key"] = key
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.post("/api/redeem", content=body, headers=headers)


def assert_error(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == ERROR_KEYS and body["error"] == code, body
    return body


@pytest.mark.parametrize("body", BAD_BODIES)
async def test_without_credentials_any_body_is_401(served: Any, body: bytes) -> None:
    for key in (None, "rfk_wrong"):
        answer = await post(served, body, key)
        assert_error(answer, 401, "unauthorized")
        assert answer.headers["www-authenticate"] == "ApiKey"


@pytest.mark.parametrize("body", BAD_BODIES)
async def test_with_credentials_a_body_not_utf8_json_is_422(served: Any, body: bytes) -> None:
    error = assert_error(await post(served, body, GOOD_KEY), 422, "validation_error")
    assert error["fields"][0]["field"] == "body", error
    assert error["fields"][0]["location"] == "body", error


async def test_an_oversized_body_is_401_without_credentials_413_with(api: FastAPI,
                                                                     settings: Settings) -> None:
    served = edge(api, settings)
    big = b'{"code": "AB12", "userId": "u1", "pad": "' + b"x" * 4096 + b'"}'
    assert_error(await post(served, big, None), 401, "unauthorized")
    too_large = await post(served, big, GOOD_KEY)
    assert_error(too_large, 413, "payload_too_large")
    assert too_large.headers["connection"] == "close"
