"""The code generation rule of a campaign (seed 000 ``CodeGenerateRule``) and the code alphabets.

A code is ``prefix + body + [signature] + [check char]`` and must fit the VARCHAR(32) column.
The default alphabets are part of the code format contract, so they live here (``schemas``
never imports ``core``); ``core.codes`` builds its lookup tables from them.

Default alphabets (look-alikes removed so a code read aloud or off paper is unambiguous):

* ``RANDOM_NUM``: ``0123456789`` — digits have no confusable among themselves.
* ``RANDOM_ALPHA``: A-Z minus I, L, O (23 letters, a prime). U/V are kept: they are distinct
  in print and removing them would make the size even.
* ``RANDOM_ALPHANUM``: 2-9 plus A-Z minus I, L, O (31 symbols, a prime; Crockford-like
  without 0/O and 1/I/L).
* ``UUID``: 32 upper-case hex digits of a random (version 4) UUID; no prefix, signature or
  check char fits next to it in 32 characters.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from schemas.base import JsonBool, JsonInt

#: Width of the code column (``VARCHAR(32)``): prefix + body + signature + check char.
MAX_CODE_LENGTH = 32
#: Characters of a UUID body (hex, no dashes).
UUID_BODY_LENGTH = 32

DIGITS = "0123456789"
ALPHA_DEFAULT = "ABCDEFGHJKMNPQRSTUVWXYZ"
ALPHANUM_DEFAULT = "23456789" + ALPHA_DEFAULT
HEX_DIGITS = "0123456789ABCDEF"


class CodeType(StrEnum):
    """What a code's random body is drawn from."""

    RANDOM_NUM = "RANDOM_NUM"
    RANDOM_ALPHA = "RANDOM_ALPHA"
    RANDOM_ALPHANUM = "RANDOM_ALPHANUM"
    UUID = "UUID"


#: Short spellings accepted on input (the seed's Go code says ``ALPHANUM``). Spellings are
#: exact (upper case): the JSON Schema lists every accepted one.
CODE_TYPE_ALIASES: dict[str, CodeType] = {
    "ALPHA": CodeType.RANDOM_ALPHA,
    "ALPHANUM": CodeType.RANDOM_ALPHANUM,
}
#: Input spellings of ``codeType``: the enum's values, then the aliases.
CODE_TYPE_SPELLINGS: tuple[str, ...] = (*(t.value for t in CodeType), *CODE_TYPE_ALIASES)
#: Characters ``excludeChars`` may name (either case; stored upper-case).
_EXCLUDABLE_PATTERN = r"^[A-Za-z0-9]*$"
#: ``excludeChars`` items accepted on input (each item may name several characters).
MAX_EXCLUDE_ITEMS = 64

CodeTypeInput = Annotated[
    CodeType,
    WithJsonSchema({"type": "string", "enum": list(CODE_TYPE_SPELLINGS),
                    "description": "ALPHA and ALPHANUM are short for RANDOM_ALPHA and "
                                   "RANDOM_ALPHANUM."}),
]
ExcludeChars = Annotated[
    list[str],
    WithJsonSchema({
        "description": "Characters left out of the alphabet (letters and digits, either case): "
                       "a string, or a list of strings each naming one or more characters.",
        "anyOf": [
            {"type": "string", "pattern": _EXCLUDABLE_PATTERN},
            {"type": "array", "maxItems": MAX_EXCLUDE_ITEMS,
             "items": {"type": "string", "pattern": _EXCLUDABLE_PATTERN}},
        ],
    }),
]

DEFAULT_ALPHABETS: dict[CodeType, str] = {
    CodeType.RANDOM_NUM: DIGITS,
    CodeType.RANDOM_ALPHA: ALPHA_DEFAULT,
    CodeType.RANDOM_ALPHANUM: ALPHANUM_DEFAULT,
    CodeType.UUID: HEX_DIGITS,
}


def check_char_supports(size: int) -> bool:
    """Whether ``core.codes.checkchar`` has a check scheme for an alphabet of ``size`` symbols.

    The scheme needs a totally anti-symmetric quasigroup of that order; ours are built for odd
    orders, multiples of 4, and 10 times an odd number (orders 2, 6, 14, 18, 22, 26, 34... are
    not covered). Kept in sync with ``checkchar.quasigroup`` by a unit test.
    """
    if size < 3:
        return False
    if size % 4 != 2:
        return True
    return (size // 2) % 5 == 0


def _key(data: dict[str, Any], name: str) -> str | None:
    """The key under which ``name`` was given (snake_case or camelCase), if any."""
    for key in (name, to_camel(name)):
        if key in data:
            return key
    return None


class CodeGenerateRule(BaseModel):
    """How a campaign's codes look: type, body length, prefix, exclusions, check char, signing.

    Defaults give the seed's example: a 12-character alphanumeric body plus one check char.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, alias_generator=to_camel
    )

    code_type: CodeTypeInput = CodeType.RANDOM_ALPHANUM
    length: JsonInt = Field(default=12, ge=4, le=32)
    prefix: str = Field(default="", max_length=8, pattern=r"^[A-Za-z0-9]*$")
    exclude_chars: ExcludeChars = Field(default_factory=list)
    check_char: JsonBool = True
    signed: JsonBool = False
    signature_length: JsonInt = Field(default=4, ge=2, le=8)

    @model_validator(mode="before")
    @classmethod
    def _uuid_defaults(cls, data: Any) -> Any:
        """A UUID has no room for a check char by default (its length is fixed after)."""
        if not isinstance(data, dict):
            return data
        type_key = _key(data, "code_type")
        if type_key is None or _resolve_type(data[type_key]) != CodeType.UUID:
            return data
        data = dict(data)
        if _key(data, "check_char") is None:
            data["check_char"] = False
        return data

    @field_validator("code_type", mode="before")
    @classmethod
    def _code_type_alias(cls, value: Any) -> Any:
        return _resolve_type(value)

    @field_validator("prefix")
    @classmethod
    def _prefix_upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("exclude_chars", mode="before")
    @classmethod
    def _split_exclusions(cls, value: Any) -> Any:
        """Accept ``["0", "O"]``, ``["0O"]`` or ``"0O"``; keep unique upper-case characters."""
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            return value
        if len(value) > MAX_EXCLUDE_ITEMS:
            raise ValueError(f"excludeChars takes at most {MAX_EXCLUDE_ITEMS} items")
        chars: list[str] = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError("excludeChars items must be strings")
            for char in item.upper():
                if not (char.isascii() and char.isalnum()):
                    raise ValueError(f"excludeChars may hold letters and digits only, not {char!r}")
                if char not in chars:
                    chars.append(char)
        return chars

    @model_validator(mode="after")
    def _consistent(self) -> CodeGenerateRule:
        if self.code_type == CodeType.UUID:
            _check_uuid(self)
            # a UUID body is always 32 chars: a given (valid) length is ignored
            object.__setattr__(self, "length", UUID_BODY_LENGTH)
        else:
            _check_alphabet(self)
        if self.total_length > MAX_CODE_LENGTH:
            raise ValueError(
                f"code would be {self.total_length} chars (prefix {len(self.prefix)} + body "
                f"{self.length} + signature {self.signature_chars} + check {int(self.check_char)})"
                f"; the code column holds at most {MAX_CODE_LENGTH}"
            )
        return self

    @property
    def alphabet(self) -> str:
        """The body alphabet: the type's default alphabet minus ``exclude_chars``, in order."""
        excluded = set(self.exclude_chars)
        return "".join(c for c in DEFAULT_ALPHABETS[self.code_type] if c not in excluded)

    @property
    def signature_chars(self) -> int:
        """Characters of signature in each code (0 when unsigned)."""
        return self.signature_length if self.signed else 0

    @property
    def total_length(self) -> int:
        """Length of every code of this rule."""
        return len(self.prefix) + self.length + self.signature_chars + int(self.check_char)


def _resolve_type(value: Any) -> Any:
    """Map a code type's short aliases (``ALPHANUM``) to the enum; exact spellings only."""
    if isinstance(value, str) and not isinstance(value, CodeType):
        return CODE_TYPE_ALIASES.get(value, value)
    return value


def _check_uuid(rule: CodeGenerateRule) -> None:
    """UUID codes take the whole column: nothing may be added to them."""
    if rule.prefix or rule.signed or rule.check_char or rule.exclude_chars:
        raise ValueError(
            "UUID codes are 32 hex chars already: prefix, excludeChars, signed and checkChar "
            "are not available for them"
        )


def _check_alphabet(rule: CodeGenerateRule) -> None:
    """The alphabet left after exclusions must be usable (and checkable, with a check char)."""
    size = len(rule.alphabet)
    if size < 2:
        raise ValueError(
            f"excludeChars leave {size} character(s) of the {rule.code_type} alphabet; "
            "at least 2 are needed"
        )
    if rule.check_char and not check_char_supports(size):
        raise ValueError(
            f"excludeChars leave {size} characters ({rule.alphabet}); a check char needs an "
            "alphabet of 3+ characters whose size is not 2 mod 4 (10, 30 are fine; 6, 14, 18, "
            "22, 26 are not): exclude one character more or fewer, or set checkChar false"
        )
