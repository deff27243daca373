"""core.codes: generation, normalisation, check chars (property-tested) and signatures."""

from __future__ import annotations

import re
import string
from functools import cache

import pytest

from core.codes import (
    CheckChar,
    CodeCodec,
    default_alphabet,
    is_weak_totally_antisymmetric,
    iter_unique_batches,
    make_alphabet,
    normalise,
    quasigroup,
)
from core.errors import CodeSpaceTooSmall
from schemas.code_rule import CodeGenerateRule, CodeType, check_char_supports

SECRET = b"tenant-secret-1"
RANDOM_TYPES = [CodeType.RANDOM_NUM, CodeType.RANDOM_ALPHA, CodeType.RANDOM_ALPHANUM]


def codec_for(rule: CodeGenerateRule) -> CodeCodec:
    """Codecs cached per rule (the rule holds a list, so it is not hashable itself)."""
    return _codec_for_json(rule.model_dump_json())


@cache
def _codec_for_json(rule_json: str) -> CodeCodec:
    return CodeCodec(CodeGenerateRule.model_validate_json(rule_json), SECRET, "t1")


def rule_of(**fields: object) -> CodeGenerateRule:
    return CodeGenerateRule.model_validate(fields)


# -- alphabets and tables ----------------------------------------------------------------


@pytest.mark.parametrize("size", [n for n in range(3, 41) if check_char_supports(n)])
def test_quasigroups_are_weak_totally_antisymmetric(size: int) -> None:
    assert is_weak_totally_antisymmetric(quasigroup(size))


def test_default_alphabets_and_confusables() -> None:
    for code_type in (CodeType.RANDOM_ALPHA, CodeType.RANDOM_ALPHANUM):
        alphabet = default_alphabet(code_type)
        assert not set("0O1IL") & set(alphabet.symbols)
        assert alphabet.confusables == {}
    assert default_alphabet(CodeType.RANDOM_NUM).confusables == {"O": "0", "I": "1", "L": "1"}
    assert make_alphabet("23456789").confusables == {}


# -- generation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "pattern"),
    [
        ({"codeType": "RANDOM_NUM", "length": 8}, r"[0-9]{9}"),
        ({"codeType": "ALPHA", "length": 10}, r"[A-HJKMNP-Z]{11}"),
        ({}, r"[2-9A-HJKMNP-Z]{13}"),
        ({"prefix": "VIP", "length": 6, "checkChar": False}, r"VIP[2-9A-HJKMNP-Z]{6}"),
        ({"signed": True, "signatureLength": 5}, r"[2-9A-HJKMNP-Z]{18}"),
        ({"codeType": "UUID"}, r"[0-9A-F]{12}4[0-9A-F]{3}[89AB][0-9A-F]{15}"),
    ],
)
def test_every_code_type_has_its_format(fields: dict[str, object], pattern: str) -> None:
    codec = CodeCodec(rule_of(**fields), SECRET, "t1")
    codes = [codec.generate(), *codec.generate_many(500)]
    for code in codes:
        assert re.fullmatch(pattern, code), code
        assert codec.parse(code) == code
    assert len(set(codes)) == len(codes)


def test_excluded_chars_never_appear() -> None:
    rule = rule_of(
        codeType="RANDOM_ALPHANUM",
        length=20,
        excludeChars=["A", "B", "7", "Z"],
        prefix="X",
        checkChar=True,
    )
    codes = CodeCodec(rule, SECRET, "t1").generate_many(5000)
    assert not set("".join(code[1:] for code in codes)) & set("AB7Z")


def test_symbols_are_roughly_uniform() -> None:
    codes = CodeCodec(rule_of(codeType="RANDOM_NUM", length=10, checkChar=False), SECRET, "t")
    stream = "".join(codes.generate_many(20_000))
    counts = [stream.count(d) for d in "0123456789"]
    assert max(counts) / min(counts) < 1.05


def test_generate_many_has_no_duplicates() -> None:
    codes = CodeCodec(CodeGenerateRule(), SECRET, "t1").generate_many(100_000)
    assert len(codes) == len(set(codes)) == 100_000


def test_bulk_and_single_paths_agree() -> None:
    for fields in (
        {},
        {"codeType": "RANDOM_NUM"},
        {"codeType": "RANDOM_NUM", "excludeChars": "9"},
        {"signed": True},
        {"excludeChars": "S"},
    ):
        codec = CodeCodec(rule_of(**fields), SECRET, "t1")
        for code in codec.generate_many(2000):
            assert codec.encode(code[: codec.rule.length]) == code


# -- check char properties ---------------------------------------------------------------


#: Every alphabet size a rule can have and a check char supports, per random code type
#: (``excludeChars`` shrink the default alphabet down to 3 symbols).
CHECKED_SIZES = [
    (code_type, size)
    for code_type in RANDOM_TYPES
    for size in range(3, default_alphabet(code_type).size + 1)
    if check_char_supports(size)
]


@pytest.mark.parametrize(("code_type", "size"), CHECKED_SIZES)
def test_check_chars_catch_every_substitution_and_adjacent_transposition(
    code_type: CodeType, size: int
) -> None:
    """Proven for every payload, not sampled: over every state x every pair of symbols.

    ``CheckChar`` reads a payload one symbol at a time; the state before a position can be any
    state (a one-symbol payload reaches each: ``via[s]``). Hence, for every payload and every
    position: a substitution leaves two different states after that position (rows are
    permutations), a transposition of two different adjacent symbols too (the anti-symmetry),
    and every later symbol keeps two different states different (columns are permutations),
    so the altered payload ends in a state other than the one valid state. The check depends on
    the alphabet's size and order only, so one alphabet per size stands for all of that size.
    """
    symbols = default_alphabet(code_type).symbols[:size]
    checker = CheckChar(make_alphabet(symbols))
    states = range(size)
    via = {checker.state(x): x for x in symbols}
    assert sorted(via) == list(states)
    after = {(s, x): checker.state(via[s] + x) for s in states for x in symbols}
    for s in states:
        assert len({after[s, x] for x in symbols}) == size, ("substitution", s)
        closed = via[s] + checker.compute(via[s])
        assert checker.is_valid(closed) and checker.state(closed) == 0
        assert [checker.is_valid(via[s] + x) for x in symbols].count(True) == 1
    for x in symbols:
        assert len({after[s, x] for s in states}) == size, ("later symbol", x)
    for s in states:
        for i, x in enumerate(symbols):
            for y in symbols[i + 1 :]:
                assert after[after[s, x], y] != after[after[s, y], x], ("transposition", s, x, y)


#: Prefixes of the grid: plain, with look-alikes (O/0, I/L/1), short.
PREFIXES = ["VIP", "O0IL1", "Z9X"]


def _grid_rules() -> list[CodeGenerateRule]:
    """Two rules per checked alphabet size (``CHECKED_SIZES``): signed with a prefix, and
    plain; symbols excluded from the end or from the start of the default alphabet, and
    body, signature and prefix varied from rule to rule."""
    grid = []
    for n, (code_type, size) in enumerate(CHECKED_SIZES):
        symbols = default_alphabet(code_type).symbols
        excluded = list(symbols[size:] if n % 2 else symbols[: len(symbols) - size])
        prefix, sig_len = PREFIXES[n % len(PREFIXES)], 2 + n % 7
        length = min(4 + n * 5 % 17, 32 - len(prefix) - 1 - sig_len)
        grid.append(rule_of(codeType=code_type, length=length, prefix=prefix,
                            excludeChars=excluded, signed=True, signatureLength=sig_len))
        grid.append(rule_of(codeType=code_type, length=length, excludeChars=excluded))
    return grid


def test_parse_rejects_every_substitution_and_adjacent_transposition() -> None:
    """Every position after the prefix (body, signature, check char) x every other symbol,
    and every adjacent pair (the prefix boundary included), for a code of every grid rule:
    ``parse`` checks the whole payload the property above covers."""
    for rule in _grid_rules():
        codec = codec_for(rule)
        code = codec.generate()
        assert codec.parse(code) == code
        for i in range(len(rule.prefix), len(code)):
            for symbol in codec.alphabet.symbols:
                if symbol != code[i]:
                    assert codec.parse(code[:i] + symbol + code[i + 1 :]) is None, (code, i)
        canonical = codec.alphabet.translation()
        for i in range(len(code) - 1):
            a, b = code[i], code[i + 1]
            if canonical.get(ord(a), a) != canonical.get(ord(b), b):
                assert codec.parse(code[:i] + b + a + code[i + 2 :]) is None, (code, i)


def test_a_wrong_prefix_is_rejected() -> None:
    """Every prefix position x every letter and digit a person may type there, for every
    grid rule with a prefix (compared literally, after the confusable map)."""
    for rule in _grid_rules():
        codec = codec_for(rule)
        code = codec.generate()
        canonical = codec.alphabet.translation()
        for i, expected in enumerate(rule.prefix):
            for char in string.digits + string.ascii_uppercase:
                if canonical.get(ord(char), char) != canonical.get(ord(expected), expected):
                    assert codec.parse(code[:i] + char + code[i + 1 :]) is None, (code, i, char)


# -- normalisation -----------------------------------------------------------------------


def to_full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def typed_variants(code: str) -> list[str]:
    """How people type or paste a code: lower case, grouped with spaces or dashes,
    full-width, mixed."""
    return [
        code.lower(),
        "  " + " ".join(code[i : i + 4] for i in range(0, len(code), 4)) + "\t\n",
        "-".join(code[i : i + 3] for i in range(0, len(code), 3)) + "_",
        to_full_width(code.lower()),
        "\u3000" + to_full_width(code[:3]) + "\u2013" + code[3:].lower(),
    ]


def test_typed_variants_parse_to_the_canonical_code() -> None:
    for rule in _grid_rules():
        codec = codec_for(rule)
        code = codec.generate()
        for typed in typed_variants(code):
            assert codec.parse(typed) == code, (typed, code)


def test_numeric_confusables_are_mapped() -> None:
    codec = CodeCodec(rule_of(codeType="RANDOM_NUM", length=8, prefix="VIP"), SECRET, "t")
    code = codec.encode("10100101")
    assert codec.parse(code.replace("1", "l").replace("0", "O").lower()) == code
    assert normalise("ab-o l i", default_alphabet(CodeType.RANDOM_NUM)) == "AB011"


def test_look_alikes_are_invalid_for_the_default_alphabet() -> None:
    codec = CodeCodec(CodeGenerateRule(), SECRET, "t")
    code = codec.generate()
    for bad in "0O1IL":
        assert codec.parse(bad + code[1:]) is None
    assert normalise("o0-il1", default_alphabet(CodeType.RANDOM_ALPHANUM)) == "O0IL1"


@pytest.mark.parametrize("raw", ["", " ", "x" * 500, "ABC", "😀" * 13])
def test_garbage_is_rejected(raw: str) -> None:
    assert CodeCodec(CodeGenerateRule(), SECRET, "t").parse(raw) is None


def test_uuid_version_is_checked() -> None:
    codec = CodeCodec(rule_of(codeType="UUID"), SECRET, "t")
    code = codec.generate()
    assert codec.parse(code.lower()) == code
    assert codec.parse(code[:12] + "5" + code[13:]) is None


# -- signatures --------------------------------------------------------------------------

SIGNED = rule_of(signed=True, signatureLength=4, prefix="RF")


def test_forged_codes_are_rejected() -> None:
    codec = CodeCodec(SIGNED, SECRET, "t1")
    forger = CodeCodec(SIGNED.model_copy(update={"signed": False, "length": 16}), b"x", "t1")
    forged = forger.generate_many(20_000)
    accepted = [code for code in forged if codec.parse(code) is not None]
    # 4 signature chars of 31 symbols: about 1 forgery in 923,521 passes.
    assert len(accepted) <= 1


def test_other_tenants_or_secrets_reject_a_valid_code() -> None:
    codec = CodeCodec(SIGNED, SECRET, "t1")
    codes = codec.generate_many(200)
    assert all(codec.parse(code) == code for code in codes)
    other_tenant = CodeCodec(SIGNED, SECRET, "t2")
    other_secret = CodeCodec(SIGNED, b"another-secret", "t1")
    assert sum(other_tenant.parse(code) is not None for code in codes) <= 1
    assert sum(other_secret.parse(code) is not None for code in codes) <= 1


# -- unique batches ----------------------------------------------------------------------


def test_unique_batches_are_full_and_unique() -> None:
    codec = CodeCodec(rule_of(codeType="RANDOM_NUM", length=4), SECRET, "t")
    batches = list(iter_unique_batches(codec, 2500, 1000))
    assert [len(b) for b in batches] == [1000, 1000, 500]
    flat = [code for batch in batches for code in batch]
    assert len(set(flat)) == 2500


def test_unique_batches_skip_taken_codes() -> None:
    codec = CodeCodec(rule_of(codeType="RANDOM_NUM", length=4, checkChar=False), SECRET, "t")
    taken = {f"{i:04d}" for i in range(0, 10_000, 2)}
    batches = list(iter_unique_batches(codec, 3000, 700, lambda c: [x for x in c if x in taken]))
    flat = [code for batch in batches for code in batch]
    assert len(flat) == len(set(flat)) == 3000 and not set(flat) & taken


def test_unique_batches_refuse_an_exhausted_space() -> None:
    codec = CodeCodec(rule_of(codeType="RANDOM_NUM", length=4), SECRET, "t")
    with pytest.raises(CodeSpaceTooSmall):
        list(iter_unique_batches(codec, 10_001, 1000))
    with pytest.raises(CodeSpaceTooSmall, match="exhausted"):
        list(iter_unique_batches(codec, 10, 10, lambda codes: codes))
