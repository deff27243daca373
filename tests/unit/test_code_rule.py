"""CodeGenerateRule: aliases, defaults, exclusions and the limits it rejects clearly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.codes import quasigroup
from core.errors import InvalidRule
from schemas.code_rule import (
    DEFAULT_ALPHABETS,
    CodeGenerateRule,
    CodeType,
    check_char_supports,
)


def test_defaults_are_the_seed_example() -> None:
    rule = CodeGenerateRule.model_validate({})
    assert rule.code_type is CodeType.RANDOM_ALPHANUM
    assert (rule.length, rule.prefix, rule.check_char, rule.signed) == (12, "", True, False)
    assert rule.total_length == 13


def test_camel_and_snake_case_and_aliases() -> None:
    camel = CodeGenerateRule.model_validate(
        {"codeType": "ALPHANUM", "length": 8, "prefix": "vip", "excludeChars": ["s", "5"]}
    )
    snake = CodeGenerateRule(
        code_type="RANDOM_ALPHANUM", length=8, prefix="VIP", exclude_chars=["S5"]
    )  # type: ignore[arg-type]
    assert camel == snake
    assert camel.exclude_chars == ["S", "5"]
    assert CodeGenerateRule.model_validate({"codeType": "ALPHA"}).code_type is CodeType.RANDOM_ALPHA
    dumped = camel.model_dump(by_alias=True)
    assert dumped["codeType"] == "RANDOM_ALPHANUM" and dumped["excludeChars"] == ["S", "5"]


@pytest.mark.parametrize("code_type", list(CodeType))
def test_every_type_is_accepted(code_type: CodeType) -> None:
    rule = CodeGenerateRule.model_validate({"codeType": code_type.value, "length": 8})
    assert rule.code_type is code_type


def test_uuid_fixes_length_and_drops_check_char() -> None:
    rule = CodeGenerateRule.model_validate({"codeType": "UUID", "length": 6})
    assert (rule.length, rule.check_char, rule.total_length) == (32, False, 32)
    for extra in ({"prefix": "A"}, {"signed": True}, {"checkChar": True}):
        with pytest.raises(ValidationError, match="UUID codes are 32 hex chars"):
            CodeGenerateRule.model_validate({"codeType": "UUID", **extra})


def test_default_alphabets_have_no_look_alikes() -> None:
    for code_type in (CodeType.RANDOM_ALPHA, CodeType.RANDOM_ALPHANUM):
        assert not set("0O1IL") & set(DEFAULT_ALPHABETS[code_type])
    assert len(DEFAULT_ALPHABETS[CodeType.RANDOM_ALPHANUM]) == 31
    assert len(DEFAULT_ALPHABETS[CodeType.RANDOM_ALPHA]) == 23


def test_exclusions_shrink_the_alphabet() -> None:
    rule = CodeGenerateRule(code_type=CodeType.RANDOM_NUM, exclude_chars=["7"])
    assert rule.alphabet == "012345689"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"length": 3}, "greater than or equal to 4"),
        ({"length": 33}, "less than or equal to 32"),
        ({"prefix": "ABCDEFGHI"}, "at most 8"),
        ({"prefix": "A-B"}, "pattern"),
        ({"excludeChars": ["#"]}, "letters and digits only"),
        ({"codeType": "RANDOM_NUM", "excludeChars": "012345678"}, "at least 2 are needed"),
        ({"codeType": "RANDOM_ALPHA", "excludeChars": "A"}, "check char needs an alphabet"),
        ({"length": 28, "prefix": "ABCD"}, "code would be 33 chars"),
        ({"length": 24, "signed": True, "signatureLength": 8}, "at most 32"),
        ({"signatureLength": 9}, "less than or equal to 8"),
        ({"codeType": "BASE64"}, "Input should be"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_invalid_rules_are_rejected_clearly(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CodeGenerateRule.model_validate(data)


def test_unsupported_check_size_is_fine_without_check_char() -> None:
    rule = CodeGenerateRule.model_validate(
        {"codeType": "RANDOM_ALPHA", "excludeChars": "A", "checkChar": False}
    )
    assert len(rule.alphabet) == 22


def test_rule_is_frozen() -> None:
    rule = CodeGenerateRule()
    with pytest.raises(ValidationError):
        rule.length = 9


@pytest.mark.parametrize("size", range(1, 40))
def test_schema_predicate_matches_the_check_scheme(size: int) -> None:
    if check_char_supports(size):
        quasigroup(size)
    else:
        with pytest.raises(InvalidRule):
            quasigroup(size)
