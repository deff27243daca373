"""Contract models: round trips, strict validation naming the field, JSON Schema export."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from core.contract import CONTRACT_MODELS, EXPORTED_MODELS, export_json_schemas
from schemas.base import MessageDecodeError
from schemas.campaign import CampaignRule, CreateCampaignRequest
from schemas.events import RedeemRequested, RedeemResult, TenantUpdated

VALID_REQUEST = {
    "request_id": "req-1",
    "tenant_id": "CH_123",
    "product_code": "APP_A",
    "code": "ABCD-EFGH-JKMN",
    "user_id": "u42",
    "device_id": "dev-9",
    "channel": "app",
    "user_tags": ["invited_user"],
    "requested_at": "2026-11-21T10:00:00Z",
}


def test_redeem_requested_round_trip() -> None:
    message = RedeemRequested.model_validate(VALID_REQUEST)
    again = RedeemRequested.from_bytes(message.to_bytes())
    assert again == message
    assert again.requested_at == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert message.kafka_key() == "CH_123:ABCD-EFGH-JKMN"
    assert orjson.loads(message.to_bytes())["schema_version"] == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tenant_id", "x" * 25),
        ("tenant_id", "bad tenant"),
        ("channel", "fax"),
        ("user_id", ""),
        ("code", "DROP TABLE;"),
        ("requested_at", "2026-11-21T10:00:00"),
        ("schema_version", 99),
        ("unexpected", 1),
    ],
)
def test_malformed_request_names_the_field(field: str, value: object) -> None:
    payload = {**VALID_REQUEST, field: value}
    with pytest.raises(MessageDecodeError) as info:
        RedeemRequested.from_bytes(orjson.dumps(payload))
    assert info.value.field == field
    assert field in str(info.value)


def test_missing_field_and_garbage_bytes() -> None:
    payload = {k: v for k, v in VALID_REQUEST.items() if k != "user_id"}
    with pytest.raises(MessageDecodeError) as info:
        RedeemRequested.from_bytes(orjson.dumps(payload))
    assert info.value.field == "user_id"
    with pytest.raises(MessageDecodeError, match="not valid JSON"):
        RedeemRequested.from_bytes(b"\x00garbage")
    with pytest.raises(MessageDecodeError, match="JSON object"):
        RedeemRequested.from_bytes(b"[1,2]")


def test_every_model_rejects_malformed_input_with_field() -> None:
    for model in CONTRACT_MODELS:
        with pytest.raises(MessageDecodeError) as info:
            model.from_bytes(b'{"schema_version": "one"}')
        assert info.value.field is not None, model


def test_result_outcome_enum_and_tenant_version() -> None:
    with pytest.raises(MessageDecodeError) as info:
        RedeemResult.from_bytes(
            orjson.dumps({"request_id": "r", "tenant_id": "t", "user_id": "u", "outcome": "MAYBE"})
        )
    assert info.value.field == "outcome"
    with pytest.raises(MessageDecodeError) as info:
        TenantUpdated.from_bytes(
            orjson.dumps(
                {"tenant_id": "t", "name": "n", "type": "PLATFORM", "status": "ACTIVE",
                 "code_quota": 5, "version": -1}
            )
        )
    assert info.value.field == "version"


def test_seed_rule_json_is_accepted() -> None:
    rule = CampaignRule.model_validate(
        {
            "ruleId": "invite_reward_2023",
            "codeType": "RANDOM_ALPHANUM",
            "length": 12,
            "validDays": 30,
            "useLimit": 1,
            "applicableProducts": ["APP_A", "MINI_B"],
            "rewardRules": [
                {"type": "COUPON", "id": "NEW_USER_10OFF", "condition": {"userTag": "invited_user"}}
            ],
        }
    )
    assert rule.code.length == 12
    assert rule.reward_rules[0].applies_to(frozenset({"invited_user"}), None)
    assert not rule.reward_rules[0].applies_to(frozenset(), None)
    created = datetime(2026, 1, 1, tzinfo=UTC)
    assert rule.window(created)[1] == datetime(2026, 1, 31, tzinfo=UTC)


def test_campaign_request_rejects_inconsistent_window() -> None:
    with pytest.raises(MessageDecodeError) as info:
        CreateCampaignRequest.from_bytes(
            orjson.dumps(
                {
                    "campaign_id": "c1", "tenant_id": "t1", "product_code": "APP_A",
                    "rule": {
                        "validFrom": "2026-02-01T00:00:00Z", "validUntil": "2026-01-01T00:00:00Z",
                        "rewardRules": [{"type": "COUPON", "id": "X"}],
                    },
                }
            )
        )
    assert info.value.field == "rule"


def test_json_schemas_are_exported(tmp_path) -> None:
    written = export_json_schemas(tmp_path)
    assert {p.name for p in written} == {f"{m.__name__}.schema.json" for m in EXPORTED_MODELS}
    schema = orjson.loads((tmp_path / "RedeemRequested.schema.json").read_bytes())
    assert "request_id" in schema["required"]
