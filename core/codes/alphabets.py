"""Alphabets of code bodies: symbol <-> index tables and the per-alphabet confusable map.

The default symbol sets are defined by the code format contract in ``schemas.code_rule``
(numeric ``0-9``; alpha ``A-Z`` minus I, L, O; alphanumeric ``2-9`` + ``A-Z`` minus I, L, O;
hex for UUIDs); a rule's ``exclude_chars`` remove more.

Confusable normalisation (applied after upper-casing): ``O`` -> ``0`` and ``I``/``L`` -> ``1``,
but only where the target is in the alphabet and the source is not. So numeric codes accept
a typed O/I/L; the default alpha and alphanumeric alphabets contain none of 0/O/1/I/L, and
mapping one unavailable look-alike onto another would only guess, so there those characters
stay as typed and the format check rejects them before any lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from schemas.code_rule import DEFAULT_ALPHABETS, CodeGenerateRule, CodeType

#: Look-alike -> intended character, used only where it is unambiguous (see module doc).
CONFUSABLES: dict[str, str] = {"O": "0", "I": "1", "L": "1"}


@dataclass(frozen=True)
class Alphabet:
    """An ordered set of symbols; a symbol's index is its value for check chars and signing."""

    symbols: str
    confusables: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if len(set(self.symbols)) != len(self.symbols) or len(self.symbols) < 2:
            raise ValueError(f"an alphabet needs 2+ distinct symbols, got {self.symbols!r}")

    @property
    def size(self) -> int:
        """Number of symbols."""
        return len(self.symbols)

    @property
    def index(self) -> dict[str, int]:
        """Symbol -> index."""
        return _index_of(self.symbols)

    def __contains__(self, text: object) -> bool:
        """Whether every character of ``text`` is a symbol."""
        return isinstance(text, str) and all(c in self.index for c in text)

    def translation(self) -> dict[int, str]:
        """A ``str.translate`` table applying this alphabet's confusable map."""
        return {ord(src): dst for src, dst in self.confusables.items()}


@lru_cache(maxsize=256)
def _index_of(symbols: str) -> dict[str, int]:
    return {c: i for i, c in enumerate(symbols)}


def confusables_for(symbols: str) -> dict[str, str]:
    """The confusable map that is safe for ``symbols``: target present, source absent."""
    return {src: dst for src, dst in CONFUSABLES.items() if dst in symbols and src not in symbols}


@lru_cache(maxsize=256)
def make_alphabet(symbols: str) -> Alphabet:
    """An alphabet over ``symbols`` with its safe confusable map (cached per symbol string)."""
    return Alphabet(symbols, confusables_for(symbols))


def default_alphabet(code_type: CodeType) -> Alphabet:
    """The default alphabet of a code type, before any exclusion."""
    return make_alphabet(DEFAULT_ALPHABETS[code_type])


def alphabet_for(rule: CodeGenerateRule) -> Alphabet:
    """The body alphabet of a rule: its type's default alphabet minus ``exclude_chars``."""
    return make_alphabet(rule.alphabet)
