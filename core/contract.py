"""The contract's models by name, and their JSON Schemas for the teams around us."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from schemas.base import ACCEPTED_SCHEMA_VERSIONS, ContractModel
from schemas.campaign import (
    FLAT_CODE_KEYS,
    CampaignRule,
    CreateCampaignRequest,
    CreateCampaignResult,
)
from schemas.events import ALL_MODELS
from schemas.json_schema import contract_json_schema

CONTRACT_MODELS: tuple[type[ContractModel], ...] = (
    *ALL_MODELS,
    CreateCampaignRequest,
    CreateCampaignResult,
)
#: Every exported schema: the Kafka messages, and the campaign rule JSON on its own (what
#: ``redeemflow campaign create --rule FILE`` and ``examples/rule.json`` hold).
EXPORTED_MODELS: tuple[type[BaseModel], ...] = (*CONTRACT_MODELS, CampaignRule)


def export_json_schemas(directory: Path) -> list[Path]:
    """Write ``<Model>.schema.json`` for every exported model; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for model in EXPORTED_MODELS:
        path = directory / f"{model.__name__}.schema.json"
        schema = contract_json_schema(model)
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        written.append(path)
    return written


def _limits(schema: dict[str, Any]) -> str:
    """The length, size and range limits of one property schema, as short text."""
    parts = []
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("type") == "null":
            continue
        low, high = option.get("minLength"), option.get("maxLength")
        if high is not None:
            parts.append(f"{low or 0}-{high} chars")
        if option.get("maxItems") is not None:
            parts.append(f"{option.get('minItems', 0)}-{option['maxItems']} items")
            parts.append(_limits(option.get("items", {})))
        if option.get("minimum") is not None or option.get("maximum") is not None:
            low_n = option.get("minimum", "")
            high_n = option.get("maximum", "")
            parts.append(f"{low_n}..{high_n}" if high_n != "" else f"≥ {low_n}")
    return ", ".join(p for p in parts if p)


def _rows(name: str, schema: dict[str, Any]) -> Iterator[str]:
    props: dict[str, Any] = schema.get("properties", {})
    for field, prop in props.items():
        if field == "schema_version" or (name == "CampaignRule" and field in FLAT_CODE_KEYS):
            continue  # flat code fields: see CodeGenerateRule
        if "_" in field and to_camel(field) in props:
            continue  # the snake_case spelling of a rule field: same limits
        text = _limits(prop)
        if text:
            yield f"| {name} | `{field}` | {text} |"


def limits_markdown() -> str:
    """The README table of accepted ``schema_version`` values and every field limit.

    Generated from the exported schemas, so the README cannot drift (a unit test compares).
    Rule JSON fields are listed by their camelCase name; the snake_case one has the same limits.
    """
    versions = ", ".join(str(v) for v in ACCEPTED_SCHEMA_VERSIONS)
    lines = [
        f"Accepted `schema_version` values: {versions} (default {ACCEPTED_SCHEMA_VERSIONS[-1]}).",
        "", "| schema | field | limits |", "|---|---|---|",
    ]
    seen: set[str] = set()
    for model in EXPORTED_MODELS:
        schema = contract_json_schema(model)
        for name, sub in [(model.__name__, schema), *schema.get("$defs", {}).items()]:
            if name not in seen:
                seen.add(name)
                lines.extend(_rows(name, sub))
    return "\n".join(lines) + "\n"
