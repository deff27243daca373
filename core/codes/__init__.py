"""Code generation, normalisation, check chars, signing and code-space accounting (pure)."""

from core.codes.alphabets import (
    CONFUSABLES,
    Alphabet,
    alphabet_for,
    confusables_for,
    default_alphabet,
    make_alphabet,
)
from core.codes.batches import iter_unique_batches
from core.codes.checkchar import CheckChar, is_weak_totally_antisymmetric, quasigroup
from core.codes.codec import CodeCodec
from core.codes.normalise import clean, normalise
from core.codes.signing import sign, signature_bits, verify
from core.codes.space import (
    assert_code_space,
    describe_odds,
    describe_rule,
    guess_odds,
    rule_code_space,
)

__all__ = [
    "CONFUSABLES",
    "Alphabet",
    "CheckChar",
    "CodeCodec",
    "alphabet_for",
    "assert_code_space",
    "clean",
    "confusables_for",
    "default_alphabet",
    "describe_odds",
    "describe_rule",
    "guess_odds",
    "is_weak_totally_antisymmetric",
    "iter_unique_batches",
    "make_alphabet",
    "normalise",
    "quasigroup",
    "rule_code_space",
    "sign",
    "signature_bits",
    "verify",
]
