"""The contract's models by name, and their JSON Schemas for the teams around us."""

from __future__ import annotations

from pathlib import Path

import orjson

from schemas.base import ContractModel
from schemas.campaign import CreateCampaignRequest, CreateCampaignResult
from schemas.events import ALL_MODELS

CONTRACT_MODELS: tuple[type[ContractModel], ...] = (
    *ALL_MODELS,
    CreateCampaignRequest,
    CreateCampaignResult,
)


def export_json_schemas(directory: Path) -> list[Path]:
    """Write ``<Model>.schema.json`` for every contract message; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for model in CONTRACT_MODELS:
        path = directory / f"{model.__name__}.schema.json"
        schema = model.model_json_schema(mode="validation")
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        written.append(path)
    return written
