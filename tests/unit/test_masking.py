"""Masking shows only the ends of a code, never enough of a short one to guess it."""

from __future__ import annotations

import pytest

from core.masking import mask_code


@pytest.mark.parametrize(
    ("code", "masked"),
    [
        ("ABCDEFGHWXYZ", "AB********YZ"),
        ("AB12CD34", "AB****34"),
        ("ABC123X", "A*****X"),
        ("ABCDE", "A***E"),
        ("ABCD", "****"),
        ("", ""),
    ],
)
def test_mask_code(code: str, masked: str) -> None:
    assert mask_code(code) == masked


def test_mask_keeps_length_and_hides_the_middle() -> None:
    code = "VIP7K3M9Q2XR8T"
    masked = mask_code(code)
    assert len(masked) == len(code)
    assert masked[2:-2] == "*" * (len(code) - 4)
    assert code[2:-2] not in masked
