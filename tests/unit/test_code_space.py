"""Code-space accounting and the refusal of batches that would make codes guessable."""

from __future__ import annotations

import pytest

from core.codes import CodeCodec, assert_code_space, describe_odds, guess_odds, rule_code_space
from core.errors import CodeSpaceTooSmall
from schemas.code_rule import CodeGenerateRule, CodeType

NUM8 = CodeGenerateRule(code_type=CodeType.RANDOM_NUM, length=8)


def test_code_space_and_bits() -> None:
    codec = CodeCodec(CodeGenerateRule(), b"k", "t")
    assert codec.code_space() == 31**12
    assert codec.entropy_bits() == pytest.approx(59.45, abs=0.01)
    assert codec.signature_bits() == 0
    signed = CodeCodec(CodeGenerateRule(signed=True), b"k", "t")
    assert signed.signature_bits() == pytest.approx(19.82, abs=0.01)
    assert rule_code_space(NUM8) == 10**8
    assert rule_code_space(CodeGenerateRule(code_type=CodeType.UUID)) == 2**122


def test_guess_odds() -> None:
    assert guess_odds(2_000_000, 10**8) == pytest.approx(0.02)
    assert describe_odds(2_000_000, 10**8) == "1 in 50"
    assert describe_odds(0, 10**8) == "none"
    assert guess_odds(10, 5) == 1.0


def test_refusal_states_the_odds() -> None:
    with pytest.raises(CodeSpaceTooSmall) as info:
        assert_code_space(NUM8, 2_000_000)
    assert str(info.value) == (
        "8-digit numeric rule has 100,000,000 codes; 2,000,000 requested would use 2.00% of "
        "the space (1 in 50 guesses hits a code); the limit is 1%"
    )


def test_existing_codes_count() -> None:
    assert_code_space(NUM8, 500_000, existing=400_000)
    with pytest.raises(CodeSpaceTooSmall, match="on top of 600,000 existing"):
        assert_code_space(NUM8, 500_000, existing=600_000)


def test_custom_fraction_and_default_rule() -> None:
    assert_code_space(NUM8, 2_000_000, max_fraction=0.05)
    assert_code_space(CodeGenerateRule(), 10_000_000)
    with pytest.raises(CodeSpaceTooSmall, match=r"12-char alphanumeric \(31 symbols\)"):
        assert_code_space(CodeGenerateRule(), 10**16)
