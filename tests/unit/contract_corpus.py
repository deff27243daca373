"""A corpus of contract messages for the schema parity test: hand-written edge cases with the
verdict they must get, and hypothesis strategies that generate messages from the schemas."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from schemas.campaign import CampaignOutcome
from schemas.events import RedeemOutcome, TenantStatus, TenantType

ROOT = Path(__file__).resolve().parents[2]
RULE = json.loads((ROOT / "examples" / "rule.json").read_text())
WHEN = "2025-01-31T12:00:00Z"

#: One valid message per exported schema.
VALID: dict[str, dict[str, Any]] = {
    "RedeemRequested": {"request_id": "r-1", "tenant_id": "T1", "product_code": "APP_A",
                        "code": "AB12-CD34", "user_id": "u42", "requested_at": WHEN},
    "RedeemResult": {"request_id": "r-1", "tenant_id": "T1", "user_id": "u42",
                     "outcome": next(iter(RedeemOutcome)).value, "processed_at": WHEN},
    "RewardGrant": {"grant_id": "g1", "redemption_id": "d1", "request_id": "r-1",
                    "tenant_id": "T1", "product_code": "APP_A", "campaign_id": "c1",
                    "user_id": "u42", "reward": {"type": "COUPON", "id": "X", "quantity": 1}},
    "TenantUpdated": {"tenant_id": "T1", "name": "Acme", "type": next(iter(TenantType)).value,
                      "status": next(iter(TenantStatus)).value, "code_quota": 1000,
                      "version": 1},
    "CompensationJob": {"job_id": "j1"},
    "CompensationReport": {"job_id": "j1", "dry_run": False, "examined": 0,
                           "marked_granted": 0, "regranted": 0, "released_in_cache": 0,
                           "duration_seconds": 0.5},
    "CreateCampaignRequest": {"campaign_id": "c1", "tenant_id": "T1", "product_code": "APP_A",
                              "rule": RULE, "code_count": 10},
    "CreateCampaignResult": {"campaign_id": "c1", "tenant_id": "T1",
                             "outcome": next(iter(CampaignOutcome)).value},
    "CampaignRule": RULE,
}


def _with(schema: str, **changes: Any) -> dict[str, Any]:
    message = dict(VALID[schema])
    for key, value in changes.items():
        if value is _DROP:
            message.pop(key, None)
        else:
            message[key] = value
    return message


_DROP = object()
_REWARDS = [{"type": "COUPON", "id": "X"}]


def _rule(**fields: Any) -> dict[str, Any]:
    return {"rewardRules": _REWARDS, **fields}


def _requested(**changes: Any) -> tuple[str, dict[str, Any]]:
    return "RedeemRequested", _with("RedeemRequested", **changes)


#: ``(schema, message, accepted)``: the verdict every validator and pydantic must give.
EDGE_CASES: list[tuple[str, Any, bool]] = [
    *[(name, message, True) for name, message in VALID.items()],
    # codes: ASCII letters, digits, space, dash, underscore only (no Unicode \w or \s)
    (*_requested(code="ab 12-cd_34"), True),
    (*_requested(code="A" * 64), True),
    (*_requested(code="A" * 65), False),
    (*_requested(code=""), False),
    (*_requested(code="AB12\n"), False),
    (*_requested(code="AB\t12"), False),
    (*_requested(code="AB١٢"), False),  # Arabic-Indic digits: \d in Python/Rust
    (*_requested(code="ÀB12"), False),  # a Unicode letter: \w in Python/Rust
    (*_requested(code="AB12\u00a0"), False),  # no-break space: \s in Python/Rust
    (*_requested(tenant_id="T1\n"), False),
    (*_requested(user_id="u@example.com"), True),
    # timestamps: RFC 3339 with an offset, nothing else
    (*_requested(requested_at="2025-01-31T12:00:00"), False),  # naive
    (*_requested(requested_at="2025-01-31T12:00:00+08:00"), True),
    (*_requested(requested_at="2025-01-31T12:00:00.123456-03:30"), True),
    (*_requested(requested_at="2025-01-31T12:00:00.1234567Z"), False),
    (*_requested(requested_at="2025-01-31 12:00:00Z"), False),
    (*_requested(requested_at="2025-01-31t12:00:00z"), False),
    (*_requested(requested_at="2025-02-30T00:00:00Z"), False),
    (*_requested(requested_at="2025-02-29T00:00:00Z"), False),
    (*_requested(requested_at="2024-02-29T00:00:00Z"), True),
    (*_requested(requested_at="2025-01-31T24:00:00Z"), False),
    (*_requested(requested_at="2025-01-31T23:59:60Z"), False),
    (*_requested(requested_at="2025-01-31"), False),
    (*_requested(requested_at=1738324800), False),
    (*_requested(requested_at="0001-01-01T00:00:00+01:00"), False),
    (*_requested(requested_at="2025-01-31T12:00:00Z\n"), False),
    # numbers and booleans are JSON numbers and booleans, never strings
    (*_requested(schema_version=1), True),
    (*_requested(schema_version=1.0), True),
    (*_requested(schema_version=2), False),
    (*_requested(schema_version=0), False),
    (*_requested(schema_version="1"), False),
    (*_requested(schema_version=True), False),
    (*_requested(channel="app"), True),
    (*_requested(channel="WEB"), False),
    (*_requested(device_id=None), True),
    (*_requested(user_tags=["invited_user"] * 32), True),
    (*_requested(user_tags=["invited_user"] * 33), False),
    (*_requested(surprise=1), False),
    (*_requested(request_id=_DROP), False),
    ("CompensationJob", {"job_id": "j1", "dry_run": "true"}, False),
    ("CompensationJob", {"job_id": "j1", "dry_run": 1}, False),
    ("CompensationJob", {"job_id": "j1", "older_than_seconds": "60"}, False),
    ("CompensationJob", {"job_id": "j1", "older_than_seconds": 60.5}, False),
    ("CompensationReport", _with("CompensationReport", duration_seconds="0.5"), False),
    ("CompensationReport", _with("CompensationReport", duration_seconds=3), True),
    ("TenantUpdated", _with("TenantUpdated", code_quota=10**12 + 1), False),
    ("RedeemResult", _with("RedeemResult", outcome="PENDING"), False),
    *[("RedeemResult", _with("RedeemResult", outcome=o.value), True) for o in RedeemOutcome],
    # rule JSON: camelCase or snake_case per field, never both; flat or nested code fields
    ("CampaignRule", {"reward_rules": _REWARDS, "valid_days": 30, "use_limit": 2,
                      "per_user_limit": 1, "applicable_products": ["APP_A"]}, True),
    ("CampaignRule", _rule(validDays=30, valid_days=30), False),
    ("CampaignRule", {"rewardRules": _REWARDS, "reward_rules": _REWARDS}, False),
    ("CampaignRule", {}, False),
    ("CampaignRule", _rule(code={"code_type": "RANDOM_NUM", "check_char": False}), True),
    ("CampaignRule", _rule(code={"codeType": "RANDOM_NUM", "code_type": "RANDOM_NUM"}), False),
    ("CampaignRule", _rule(codeType="RANDOM_NUM", code={"length": 8}), False),
    ("CampaignRule", _rule(code_type="RANDOM_NUM", length=8), True),
    ("CampaignRule", _rule(codeType="RANDOM_NUM", code_type="RANDOM_NUM"), False),
    ("CampaignRule", _rule(codeType="ALPHANUM"), True),
    ("CampaignRule", _rule(codeType="ALPHA"), True),
    ("CampaignRule", _rule(codeType="alphanum"), False),
    ("CampaignRule", _rule(codeType=" UUID"), False),
    ("CampaignRule", _rule(codeType="UUID"), True),
    ("CampaignRule", _rule(codeType="UUID", length=6), True),
    ("CampaignRule", _rule(codeType="UUID", prefix="AB"), False),
    ("CampaignRule", _rule(code={"codeType": "UUID", "checkChar": True}), False),
    ("CampaignRule", _rule(code={"codeType": "UUID", "signed": True}), False),
    ("CampaignRule", _rule(code={"codeType": "UUID", "excludeChars": ""}), True),
    ("CampaignRule", _rule(code={"codeType": "UUID", "excludeChars": ["A"]}), False),
    ("CampaignRule", _rule(prefix="ab"), True),
    ("CampaignRule", _rule(prefix=" AB"), False),
    ("CampaignRule", _rule(prefix="ABCDEFGHI"), False),
    ("CampaignRule", _rule(excludeChars="0o"), True),
    ("CampaignRule", _rule(excludeChars=["0", "O1"]), True),
    ("CampaignRule", _rule(excludeChars=["é"]), False),
    ("CampaignRule", _rule(excludeChars=["-"]), False),
    ("CampaignRule", _rule(excludeChars=["A"] * 65), False),
    ("CampaignRule", _rule(checkChar=1), False),
    ("CampaignRule", _rule(length="12"), False),
    ("CampaignRule", _rule(validUntil="2026-01-01T00:00:00Z", validDays=30), False),
    ("CampaignRule", _rule(validUntil="2026-01-01T00:00:00Z", validDays=None), True),
    ("CampaignRule", _rule(valid_until="2026-01-01T00:00:00Z", validDays=30), False),
    ("CampaignRule", _rule(validFrom="2026-01-01T00:00:00"), False),
    ("CampaignRule", _rule(rewardRules=[{"type": "COUPON", "id": "X",
                                         "condition": {"user_tag": "vip"}}]), True),
    ("CampaignRule", _rule(rewardRules=[{"type": "COUPON", "id": "X",
                                         "condition": {"channel": "tv"}}]), False),
]

#: Pydantic error texts of the cross-field rules listed under ``x-redeemflow-checks``: the only
#: messages a schema may accept and the worker refuse.
CROSS_FIELD_ERRORS = ("the code column holds at most", "excludeChars leave",
                      "validFrom must be before validUntil")


# --- generated messages ---------------------------------------------------------------------

_offsets = st.one_of(
    st.none(), st.just(UTC),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m))),
)
_datetimes = st.builds(
    lambda moment, tz: moment.replace(tzinfo=tz).isoformat(),
    st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(8999, 12, 30)),
    _offsets,
)
_timestamp_text = st.one_of(
    _datetimes,
    _datetimes.map(lambda s: s.replace("+00:00", "Z")),
    _datetimes.map(lambda s: s.replace("T", " ")),
    _datetimes.map(lambda s: s + "\n"),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})\Z"),
)
_junk = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False, width=64), st.text(max_size=20),
    st.lists(st.integers(0, 9), max_size=3), st.dictionaries(st.text(max_size=5), st.none(),
                                                             max_size=2),
)
_NEAR_ASCII = string.ascii_letters + string.digits + " _-.:@\n\tÀ١"


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return defs[ref.rsplit("/", 1)[1]] if ref else schema


def _string(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if schema.get("format") == "date-time":
        return _timestamp_text
    low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
    near = st.text(alphabet=_NEAR_ASCII, min_size=max(0, low - 1), max_size=high + 1)
    if "pattern" not in schema:
        return _mostly(st.text(min_size=low, max_size=high), near)
    matching = st.from_regex(schema["pattern"], fullmatch=True)
    return _mostly(matching.filter(lambda s: low <= len(s) <= high), near)


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten, ``bad`` otherwise."""
    return st.one_of(*([good] * 9), bad)


def _number(schema: dict[str, Any], integral: bool) -> st.SearchStrategy[Any]:
    low = schema.get("minimum", -(2**40))
    high = schema.get("maximum", 2**40)
    inside = st.integers(low, high)
    near = st.integers(low - 2, high + 2)
    if integral:
        return _mostly(st.one_of(inside, inside.map(float)),
                       st.one_of(near, near.map(str), st.floats(low, high)))
    return _mostly(st.one_of(inside, st.floats(low, high)), st.one_of(near, near.map(str)))


def value_for(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """A strategy of mostly plausible, sometimes wrong, values for one property schema."""
    schema = _resolve(schema, defs)
    if "anyOf" in schema:
        return st.one_of(*[value_for(o, defs, depth) for o in schema["anyOf"]])
    if "enum" in schema:
        return _mostly(st.sampled_from(schema["enum"]),
                       st.sampled_from(schema["enum"]).map(str.lower))
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return _mostly(st.booleans(), st.sampled_from([0, 1, "true"]))
    if kind == "array":
        items = value_for(schema.get("items", {}), defs, depth + 1)
        return st.lists(items, min_size=0, max_size=min(schema.get("maxItems", 4), 4) + 1)
    if kind == "object" and depth < 3:
        return message_for(schema, defs, depth + 1)
    if kind == "null":
        return st.none()
    return _junk


def _is_snake_twin(name: str, props: dict[str, Any]) -> bool:
    return "_" in name and any(
        k != name and k.lower() == name.replace("_", "").lower() for k in props)


def message_for(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """A strategy of messages for an object schema: mostly valid, often slightly wrong.

    Half are built field by field; half are a known valid message with one or two fields
    replaced (so rules with many fields are valid often enough to test acceptance too).
    """
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    values = {name: value_for(prop, defs, depth) for name, prop in props.items()}

    @st.composite
    def built(draw: Any) -> dict[str, Any]:
        message: dict[str, Any] = {}
        for name, values_of in values.items():
            # required fields are nearly always there; optional ones now and then
            present = draw(st.integers(0, 19)) < (19 if name in required else 4)
            if _is_snake_twin(name, props):
                present = present and draw(st.integers(0, 3)) == 0
            if present:
                wrong = draw(st.integers(0, 39)) == 0
                message[name] = draw(_junk if wrong else values_of)
        if draw(st.integers(0, 29)) == 0:
            message[draw(st.sampled_from(["extra", "Code", "schemaVersion"]))] = 1
        return message

    base = VALID.get(schema.get("title", ""))
    if base is None or not values:
        return built()

    @st.composite
    def mutated(draw: Any) -> dict[str, Any]:
        message = dict(base)
        for name in draw(st.lists(st.sampled_from(sorted(values)), min_size=1, max_size=2)):
            message[name] = draw(values[name])
        return message

    return st.one_of(built(), mutated())
