"""Shared building blocks of the contract models: strict base model, field types, orjson."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

SCHEMA_VERSION = 1

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]
TenantId = Annotated[
    str, StringConstraints(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
]
ProductCode = Annotated[
    str, StringConstraints(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
]
CampaignId = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
]
UserId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@:-]*$")
]
#: A code as typed by a person: normalised later, so spaces and dashes are allowed here.
RawCode = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\w\s-]+$")
]
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.:-]+$")
]


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]


class MessageDecodeError(ValueError):
    """Bytes that are not a valid contract message; ``field`` names the first bad field.

    ``core`` translates it into ``core.errors.InvalidMessage`` (schemas never import core).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def naive_utc(value: datetime) -> datetime:
    """An aware datetime as naive UTC (how DATETIME columns store time); naive passes through."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


class ContractModel(BaseModel):
    """A message of the Kafka contract: strict, frozen, versioned, orjson-encoded."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)
    schema_name: ClassVar[str] = "ContractModel"

    schema_version: int = Field(default=SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION)

    def to_bytes(self) -> bytes:
        """Serialise to compact JSON bytes (the wire format)."""
        return self.__pydantic_serializer__.to_json(self)  # as orjson of model_dump(json)

    @classmethod
    def from_bytes(cls, data: bytes | str) -> Self:
        """Parse wire bytes; raises ``InvalidMessage`` naming the first bad field."""
        try:
            payload: Any = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise MessageDecodeError(f"{cls.__name__}: not valid JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise MessageDecodeError(f"{cls.__name__}: expected a JSON object")
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            message = describe_validation_error(cls.__name__, exc)
            raise MessageDecodeError(message, field=_first_field(exc)) from exc


def _first_field(exc: ValidationError) -> str | None:
    errors = exc.errors()
    if not errors:
        return None
    return ".".join(str(p) for p in errors[0]["loc"]) or None


def describe_validation_error(model: str, exc: ValidationError) -> str:
    """A one-line, field-naming summary of a pydantic validation error."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return f"{model}: invalid field(s): " + "; ".join(parts)
