"""Shared building blocks of the contract models: strict base model, field types, orjson."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)

SCHEMA_VERSION = 1
#: Every ``schema_version`` a reader of this release accepts (README, exported schemas).
ACCEPTED_SCHEMA_VERSIONS: tuple[int, ...] = tuple(range(1, SCHEMA_VERSION + 1))

# Patterns are written for every regex engine a schema reader may use (pydantic's Rust regex,
# ECMA-262 in ajv, Python ``re`` in jsonschema): ASCII character classes only (no ``\w``,
# ``\d`` or ``\s``, which are Unicode-aware in Rust and Python), no lookarounds.

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
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_ -]+$")
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


#: RFC 3339 ``date-time`` with a mandatory offset, as a pattern every engine reads the same way.
#: Years 1000-8999 (so converting any offset to UTC stays in range); up to 6 fraction digits.
#: Calendar validity (Feb 30) is left to the ``date-time`` format both sides also check.
RFC3339_PATTERN = (
    r"^[1-8][0-9]{3}-(0[1-9]|1[0-2])-"
    r"(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
_RFC3339 = re.compile(RFC3339_PATTERN)


def _wire_datetime(value: Any) -> Any:
    """Accept a ``datetime`` (Python callers) or an RFC 3339 string with an offset, only.

    Pydantic alone would also take unix timestamps and other ISO spellings; the JSON Schema
    says ``string, date-time``, so the worker accepts exactly that.
    """
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("expected an RFC 3339 timestamp with an offset, e.g. 2025-01-31T12:00:00Z")
    return value


UtcDatetime = Annotated[
    datetime,
    BeforeValidator(_wire_datetime),
    AfterValidator(_require_utc),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}),
]


def json_number(value: Any) -> Any:
    """Numbers only: refuse the strings and booleans pydantic's lax mode would coerce."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a JSON number")
    return value


#: An integer as JSON has it (``1`` or ``1.0``; never ``"1"`` or ``true``).
JsonInt = Annotated[int, BeforeValidator(json_number)]
#: A number as JSON has it (never a string or a boolean).
JsonFloat = Annotated[float, BeforeValidator(json_number)]
#: ``true`` or ``false`` only (never ``1``, ``"true"`` or ``"yes"``).
JsonBool = Annotated[bool, Strict()]


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

    schema_version: JsonInt = Field(
        default=SCHEMA_VERSION, ge=min(ACCEPTED_SCHEMA_VERSIONS), le=max(ACCEPTED_SCHEMA_VERSIONS)
    )

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
