"""JSON Schemas (Draft 2020-12) of the contract that accept what the models accept.

Pydantic's own schema is the starting point; this module adds what it leaves out:

* Rule JSON (campaign rules, code rules, reward rules) is camelCase first and accepts the
  snake_case spelling of every field too; both spellings are declared, and giving both for one
  field is an error (``dependentSchemas``), as it is for the models.
* The seed's flat layout of a rule (``codeType``, ``length`` ... at the rule's top level),
  which excludes ``code``; UUID code rules (fixed length, no prefix/check char/signature);
  ``validUntil`` excluding ``validDays``.
* A guard against one engine difference: Python's ``re`` lets ``$`` match before a final
  newline, so every ``pattern`` also comes with ``not: {pattern: "\\n"}``.

What JSON Schema cannot say (sums and comparisons of fields) is listed under
``x-redeemflow-checks``; the worker checks it and answers the field in its error.
"""

from __future__ import annotations

import copy
import types
import typing
from typing import Any

from pydantic import BaseModel

from schemas.campaign import FLAT_CODE_KEYS, CampaignRule
from schemas.code_rule import MAX_CODE_LENGTH, CodeGenerateRule, CodeType

DIALECT = "https://json-schema.org/draft/2020-12/schema"
Schema = dict[str, Any]

#: Rules of the models that JSON Schema cannot express, by the schema ($defs name) they are in.
CROSS_FIELD_CHECKS: dict[str, tuple[str, ...]] = {
    "CodeGenerateRule": (
        f"len(prefix) + length + (signatureLength if signed) + (1 if checkChar) <= "
        f"{MAX_CODE_LENGTH} (the code column)",
        "the alphabet left after excludeChars has 2+ characters, and with checkChar its size "
        "is not 2 mod 4 unless a multiple of 10 (e.g. 6, 14, 18, 22, 26 are refused)",
    ),
    "CampaignRule": ("validFrom is before validUntil",),
}
_NEWLINE_GUARD: Schema = {"pattern": "\n"}


def contract_json_schema(model: type[BaseModel]) -> Schema:
    """The exported JSON Schema of ``model`` (a contract message or a rule)."""
    schema = copy.deepcopy(model.model_json_schema(mode="validation"))
    defs: dict[str, Schema] = schema.setdefault("$defs", {})
    for cls in reversed(_nested_models(model)):  # inner models first
        target = schema if cls is model else defs.get(cls.__name__)
        if target is None:
            continue
        if cls.model_config.get("alias_generator") is not None:
            _declare_both_spellings(cls, target)
        if cls is CodeGenerateRule:
            target.setdefault("allOf", []).append(_uuid_rule())
        if cls is CampaignRule:
            _declare_rule_extras(target, defs.get("CodeGenerateRule") or _code_rule_schema())
        checks = CROSS_FIELD_CHECKS.get(cls.__name__)
        if checks:
            target["x-redeemflow-checks"] = list(checks)
    if not defs:
        del schema["$defs"]
    _guard_patterns(schema)
    return {"$schema": DIALECT, **schema}


def _code_rule_schema() -> Schema:
    """The CodeGenerateRule schema with both spellings (when it is not among the $defs)."""
    schema = contract_json_schema(CodeGenerateRule)
    schema.pop("$schema", None)
    return schema


def _nested_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """``model`` and every model reachable through its fields' annotations."""
    found: list[type[BaseModel]] = []

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in found:
                return
            found.append(annotation)
            for field in annotation.model_fields.values():
                visit(field.annotation)
            return
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            visit(typing.get_args(annotation)[0])
            return
        if origin is not None or isinstance(annotation, types.UnionType):
            for arg in typing.get_args(annotation):
                visit(arg)

    visit(model)
    return found


def _declare_both_spellings(cls: type[BaseModel], schema: Schema) -> None:
    """Add the snake_case name of every camelCase property; at most one spelling per field."""
    props: Schema = schema.get("properties", {})
    required: list[str] = schema.get("required", [])
    dependent: Schema = schema.setdefault("dependentSchemas", {})
    for name, field in cls.model_fields.items():
        alias = field.alias
        if not alias or alias == name or alias not in props:
            continue
        props[name] = copy.deepcopy(props[alias])
        dependent[alias] = {"not": {"required": [name]}}
        if alias in required:
            required.remove(alias)
            schema.setdefault("allOf", []).append(
                {"anyOf": [{"required": [alias]}, {"required": [name]}]}
            )
    if not required:
        schema.pop("required", None)
    if not dependent:
        schema.pop("dependentSchemas")


def _uuid_rule() -> Schema:
    """UUID codes are 32 hex chars (a given length is ignored): no prefix, exclusions,
    signature or check char (a subschema applied to an object holding the code fields)."""
    is_uuid = {"anyOf": [
        {"required": [key], "properties": {key: {"const": CodeType.UUID.value}}}
        for key in ("codeType", "code_type")
    ]}
    empty_exclusions = {"anyOf": [
        {"type": "string", "maxLength": 0},
        {"type": "array", "items": {"type": "string", "maxLength": 0}},
    ]}
    then = {"properties": {
        "prefix": {"maxLength": 0},
        "signed": {"const": False},
        "checkChar": {"const": False}, "check_char": {"const": False},
        "excludeChars": empty_exclusions, "exclude_chars": empty_exclusions,
    }}
    return {"if": is_uuid, "then": then}


def _declare_rule_extras(rule: Schema, code_rule: Schema) -> None:
    """The flat code layout (excluding ``code``) and the validity window's exclusivity."""
    props: Schema = rule["properties"]
    dependent: Schema = rule.setdefault("dependentSchemas", {})
    pairs: Schema = code_rule.get("dependentSchemas", {})
    for key in sorted(FLAT_CODE_KEYS):
        props[key] = copy.deepcopy(code_rule["properties"][key])
        no_code = {"not": {"required": ["code"]}}
        pair = pairs.get(key)
        dependent[key] = {"allOf": [copy.deepcopy(pair), no_code]} if pair else no_code
    rule.setdefault("allOf", []).append(_uuid_rule())

    def given(*keys: str) -> Schema:
        return {"anyOf": [
            {"required": [k], "properties": {k: {"not": {"type": "null"}}}} for k in keys
        ]}

    rule["allOf"].append({"not": {"allOf": [given("validUntil", "valid_until"),
                                            given("validDays", "valid_days")]}})


def _guard_patterns(node: Any) -> None:
    """Add ``not: {pattern: "\\n"}`` next to every ``pattern`` (see the module docstring)."""
    if isinstance(node, dict):
        children = list(node.values())
        if isinstance(node.get("pattern"), str):
            if "not" in node:
                node.setdefault("allOf", []).append({"not": dict(_NEWLINE_GUARD)})
            else:
                node["not"] = dict(_NEWLINE_GUARD)
        for value in children:
            _guard_patterns(value)
    elif isinstance(node, list):
        for item in node:
            _guard_patterns(item)
