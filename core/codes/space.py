"""Code-space accounting: how guessable a campaign's codes are, and refusing unsafe batches.

If ``issued`` codes exist among ``space`` possible bodies, one uniformly random well-formed
guess hits an issued code with probability ``issued / space`` (the check char does not help
a guesser: it is computable). Keeping that at or below ``max_fraction`` (1% by default)
bounds brute force together with rate limits. A signature multiplies the guess space by
N^signature_length, but only while the secret stays secret, so the limit ignores it.
"""

from __future__ import annotations

from core.codes.alphabets import alphabet_for
from core.errors import CodeSpaceTooSmall
from schemas.code_rule import CodeGenerateRule, CodeType

_TYPE_WORDS = {
    CodeType.RANDOM_NUM: "digit numeric",
    CodeType.RANDOM_ALPHA: "char alphabetic",
    CodeType.RANDOM_ALPHANUM: "char alphanumeric",
    CodeType.UUID: "char UUID",
}


def rule_code_space(rule: CodeGenerateRule) -> int:
    """Number of distinct bodies of ``rule`` (2^122 for UUIDs)."""
    if rule.code_type == CodeType.UUID:
        return 1 << 122
    return int(alphabet_for(rule).size ** rule.length)


def guess_odds(issued: int, space: int) -> float:
    """Probability that one random well-formed guess hits one of ``issued`` codes."""
    if space <= 0:
        raise ValueError("space must be positive")
    return min(max(issued, 0) / space, 1.0)


def describe_odds(issued: int, space: int) -> str:
    """The odds as a person reads them: ``"1 in 50"`` (``"none"`` when nothing is issued)."""
    odds = guess_odds(issued, space)
    if odds <= 0:
        return "none"
    return f"1 in {round(1 / odds):,}"


def describe_rule(rule: CodeGenerateRule) -> str:
    """E.g. ``"8-digit numeric"`` or ``"12-char alphanumeric (31 symbols)"``."""
    words = f"{rule.length}-{_TYPE_WORDS[rule.code_type]}"
    if rule.code_type in (CodeType.RANDOM_ALPHA, CodeType.RANDOM_ALPHANUM):
        words += f" ({alphabet_for(rule).size} symbols)"
    return words


def assert_code_space(
    rule: CodeGenerateRule, requested: int, existing: int = 0, max_fraction: float = 0.01
) -> None:
    """Raise CodeSpaceTooSmall if ``existing + requested`` codes exceed ``max_fraction``."""
    space = rule_code_space(rule)
    total = existing + requested
    fraction = guess_odds(total, space)
    if fraction <= max_fraction:
        return
    have = f" on top of {existing:,} existing" if existing else ""
    raise CodeSpaceTooSmall(
        f"{describe_rule(rule)} rule has {space:,} codes; {requested:,} requested{have} would "
        f"use {fraction:.2%} of the space ({describe_odds(total, space)} guesses hits a code); "
        f"the limit is {max_fraction * 100:g}%"
    )
