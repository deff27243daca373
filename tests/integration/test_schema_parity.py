"""The exported JSON Schemas accept exactly what the models (the worker) accept.

Every message of the corpus (hand-written edge cases and hypothesis-generated ones) is judged
by pydantic (``from_bytes``, as the worker decodes), by ``jsonschema`` (Python, Draft 2020-12,
formats checked), by ``jsonschema_rs`` (Rust regex engine) and by ajv + ajv-formats (JS,
``tests/js``). All must agree; the only allowed difference is a cross-field rule the schema
declares it cannot express (``x-redeemflow-checks``), which only the worker enforces.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from core.contract import EXPORTED_MODELS, limits_markdown
from schemas.base import ContractModel, MessageDecodeError
from schemas.json_schema import CROSS_FIELD_CHECKS, contract_json_schema
from tests.unit.contract_corpus import (
    CROSS_FIELD_ERRORS,
    EDGE_CASES,
    RULE,
    VALID,
    message_for,
)

JS_DIR = Path(__file__).resolve().parents[1] / "js"
MODELS: dict[str, type[BaseModel]] = {m.__name__: m for m in EXPORTED_MODELS}
SCHEMAS: dict[str, dict[str, Any]] = {n: contract_json_schema(m) for n, m in MODELS.items()}
GENERATED_PER_SCHEMA = 150

Case = tuple[str, Any]


def pydantic_verdict(name: str, message: Any) -> tuple[bool, str]:
    """Whether the model accepts ``message`` the way the worker decodes it, and why not."""
    model = MODELS[name]
    try:
        if issubclass(model, ContractModel):
            model.from_bytes(orjson.dumps(message))
        else:
            model.model_validate(message)
    except (MessageDecodeError, ValidationError) as exc:
        return False, str(exc)
    return True, ""


_PY = {n: jsonschema.Draft202012Validator(
    s, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER) for n, s in SCHEMAS.items()}
_RS = {n: jsonschema_rs.Draft202012Validator(s, validate_formats=True) for n, s in SCHEMAS.items()}


def python_verdicts(name: str, message: Any) -> dict[str, bool]:
    """The verdicts of the Python and Rust JSON Schema validators."""
    return {"jsonschema": _PY[name].is_valid(message), "jsonschema_rs": _RS[name].is_valid(message)}


def ajv_verdicts(cases: list[Case]) -> list[bool]:
    """ajv's verdict on every case (one node process for the whole batch)."""
    if shutil.which("node") is None or not (JS_DIR / "node_modules" / "ajv").is_dir():
        pytest.fail("ajv missing: run scripts/setup.sh (npm ci in tests/js)")
    payload = json.dumps({"schemas": SCHEMAS, "cases": cases}).encode()
    done = subprocess.run(["node", str(JS_DIR / "validate.mjs")], input=payload,
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    verdicts: list[bool] = json.loads(done.stdout)
    return verdicts


def disagreements(cases: list[Case]) -> list[str]:
    """Every case on which the judges disagree (beyond the declared cross-field rules)."""
    problems = []
    for (name, message), ajv in zip(cases, ajv_verdicts(cases), strict=True):
        accepted, why = pydantic_verdict(name, message)
        schema_says = {**python_verdicts(name, message), "ajv": ajv}
        if len(set(schema_says.values())) > 1:
            problems.append(f"validators disagree {schema_says} on {name} {message!r}")
        elif accepted != schema_says["ajv"]:
            declared = not accepted and any(text in why for text in CROSS_FIELD_ERRORS)
            if not declared:
                problems.append(f"pydantic {accepted} vs schema {schema_says['ajv']} on {name} "
                                f"{message!r}: {why}")
    return problems


def test_every_schema_declares_the_2020_12_dialect_and_ecma_safe_patterns() -> None:
    for schema in SCHEMAS.values():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        text = json.dumps(schema)
        for escape in (r"\\w", r"\\d", r"\\s", "(?=", "(?!", "(?<", "(?P", r"\\A", r"\\Z"):
            assert escape not in text, escape


def test_the_example_rule_validates_everywhere() -> None:
    cases = [("CampaignRule", RULE), ("CreateCampaignRequest", VALID["CreateCampaignRequest"])]
    assert ajv_verdicts(cases) == [True, True]
    for name, message in cases:
        assert python_verdicts(name, message) == {"jsonschema": True, "jsonschema_rs": True}
        assert pydantic_verdict(name, message) == (True, "")


def test_cross_field_checks_are_declared_in_the_schemas() -> None:
    rule = SCHEMAS["CampaignRule"]
    assert rule["x-redeemflow-checks"] == list(CROSS_FIELD_CHECKS["CampaignRule"])
    assert rule["$defs"]["CodeGenerateRule"]["x-redeemflow-checks"] == list(
        CROSS_FIELD_CHECKS["CodeGenerateRule"])


def test_hand_written_edge_cases_get_the_same_verdict_everywhere() -> None:
    cases = [(name, message) for name, message, _ in EDGE_CASES]
    ajv = ajv_verdicts(cases)
    wrong = []
    for (name, message, expected), js in zip(EDGE_CASES, ajv, strict=True):
        verdicts = {"pydantic": pydantic_verdict(name, message)[0], "ajv": js,
                    **python_verdicts(name, message)}
        if set(verdicts.values()) != {expected}:
            wrong.append(f"{name} {message!r}: expected {expected}, got {verdicts}")
    assert not wrong, "\n".join(wrong)


def test_cross_field_rules_are_the_only_declared_difference() -> None:
    too_long = {"rewardRules": [{"type": "COUPON", "id": "X"}], "length": 32}  # + check char
    assert python_verdicts("CampaignRule", too_long) == {"jsonschema": True, "jsonschema_rs": True}
    accepted, why = pydantic_verdict("CampaignRule", too_long)
    assert not accepted and any(text in why for text in CROSS_FIELD_ERRORS)


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_generated_messages_get_the_same_verdict_everywhere(name: str) -> None:
    schema = SCHEMAS[name]
    cases: list[Case] = []

    @settings(max_examples=GENERATED_PER_SCHEMA, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(message_for(schema, schema.get("$defs", {})))
    def collect(message: Any) -> None:
        cases.append((name, message))

    collect()
    judged = [pydantic_verdict(n, m)[0] for n, m in cases]
    # the generator must exercise both sides of the contract
    assert sum(judged) >= 5 and len(judged) - sum(judged) >= 5, (name, sum(judged), len(judged))
    problems = disagreements(cases)
    assert not problems, "\n".join(problems[:10])


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(st.text(max_size=70))
def test_any_code_text_gets_the_same_verdict_from_pydantic_and_jsonschema(code: str) -> None:
    message = {**VALID["RedeemRequested"], "code": code}
    accepted, _ = pydantic_verdict("RedeemRequested", message)
    assert python_verdicts("RedeemRequested", message) == {
        "jsonschema": accepted, "jsonschema_rs": accepted}


def test_readme_states_schema_versions_and_every_limit() -> None:
    readme = (JS_DIR.parents[1] / "README.md").read_text()
    start = readme.index("<!-- contract-limits:start")
    body_start = readme.index("\n", start) + 1
    end = readme.index("<!-- contract-limits:end -->")
    assert readme[body_start:end] == limits_markdown(), "run: redeemflow schemas limits"


def test_schemas_export_json_lists_every_file_written(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    done = CliRunner().invoke(app, ["schemas", "export", str(tmp_path / "out"), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["dialect"] == "https://json-schema.org/draft/2020-12/schema"
    assert {f["schema"] for f in summary["files"]} == set(SCHEMAS)
    for entry in summary["files"]:
        written = json.loads(Path(entry["path"]).read_text())
        assert written == json.loads(json.dumps(SCHEMAS[entry["schema"]]))
        assert Path(entry["path"]).stat().st_size == entry["bytes"]
