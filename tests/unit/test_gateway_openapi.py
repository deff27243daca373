"""The gateway's OpenAPI document declares what the gateway does (no server needed: the
document is built from the app, which connects nowhere until its lifespan starts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.bootstrap import bootstrap
from core.settings import Settings
from producers.gateway import create_app
from producers.gateway.models import OUTCOME_STATUS
from producers.gateway.redeemer import IDEMPOTENCY_KEY_PATTERN

DOCS = Path(__file__).resolve().parents[2] / "docs" / "gateway.md"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with bootstrap(Settings()) as container:
        document: dict[str, Any] = create_app(container).openapi()
    return document


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_both_credentials_are_declared_security_schemes(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"ApiKeyAuth", "BearerAuth"}
    assert spec["paths"]["/api/tokens"]["post"]["security"] == [{"ApiKeyAuth": []}]
    for name, operation in operations(spec):
        params = {p["name"].lower() for p in operation.get("parameters", [])}
        assert "x-api-key" not in params and "authorization" not in params, name
        assert operation.get("operationId"), name


def test_every_status_has_a_schema(spec: dict[str, Any]) -> None:
    for name, operation in operations(spec):
        for status, response in operation["responses"].items():
            content = response.get("content")
            assert content, f"{name} {status} has no content"
            for media in content.values():
                assert media.get("schema"), f"{name} {status} has no schema"


def test_headers_the_gateway_sends_are_declared(spec: dict[str, Any]) -> None:
    post = spec["paths"]["/api/redeem"]["post"]["responses"]
    assert post["202"]["headers"]["Location"]["required"] is True
    assert post["429"]["headers"]["Retry-After"]["required"] is True
    assert post["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert "Retry-After" in post["503"]["headers"]
    tokens = spec["paths"]["/api/tokens"]["post"]["responses"]
    assert tokens["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert "Retry-After" in tokens["503"]["headers"]
    for status in {str(s) for s in OUTCOME_STATUS.values()} | {"202"}:
        assert "Idempotency-Key" in post[status]["headers"], status


def test_every_outcome_status_and_error_is_documented(spec: dict[str, Any]) -> None:
    post = spec["paths"]["/api/redeem"]["post"]["responses"]
    for outcome, status in OUTCOME_STATUS.items():
        assert outcome.value in post[str(status)]["description"], outcome
    error = {"$ref": "#/components/schemas/ErrorAnswer"}
    answer = {"$ref": "#/components/schemas/RedeemAnswer"}
    outcome_statuses = {str(s) for s in OUTCOME_STATUS.values()}
    for status in ("400", "401", "403", "413", "422", "431", "503", "default"):
        schema = post[status]["content"]["application/json"]["schema"]
        # a status that is both an outcome's and an error's (403 TENANT_INACTIVE) has both
        expected = {"anyOf": [answer, error]} if status in outcome_statuses else error
        assert schema == expected, status


def test_idempotency_key_pattern_is_the_documented_one(spec: dict[str, Any]) -> None:
    params = {p["name"]: p for p in spec["paths"]["/api/redeem"]["post"]["parameters"]}
    schema = params["Idempotency-Key"]["schema"]
    pattern = next(o["pattern"] for o in schema.get("anyOf", [schema]) if "pattern" in o)
    assert pattern == IDEMPOTENCY_KEY_PATTERN
    assert f"`{IDEMPOTENCY_KEY_PATTERN}`" in DOCS.read_text()


def test_403_describes_the_outcome_and_the_refusal(spec: dict[str, Any]) -> None:
    forbidden = spec["paths"]["/api/redeem"]["post"]["responses"]["403"]
    assert "TENANT_INACTIVE" in forbidden["description"]
    assert "tenant_inactive" in forbidden["description"]


def test_a_link_ties_post_to_get_by_request_id(spec: dict[str, Any]) -> None:
    get = spec["paths"]["/api/redeem/{requestId}"]["get"]
    assert get["operationId"] == "getRedeemResult"
    assert [p["name"] for p in get["parameters"] if p["in"] == "path"] == ["requestId"]
    post = spec["paths"]["/api/redeem"]["post"]["responses"]
    for status in ("200", "202"):
        link = post[status]["links"]["GetRedeemResult"]
        assert link == {"operationId": "getRedeemResult",
                        "parameters": {"requestId": "$response.body#/requestId"},
                        "description": link["description"]}
