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


def test_a_dead_lettered_redeem_request_keeps_no_code() -> None:
    from core.masking import mask_redeem_request

    value = b'{"request_id": "r1", "code": "ABCD-2345-EFGH", "channel": "fax"}'
    key, body, error = mask_redeem_request(b"T1:ABCD-2345-EFGH", value,
                                           "channel 'fax' invalid (code ABCD-2345-EFGH)")
    assert b"2345" not in key + body and "2345" not in error
    assert key == b"T1:AB**********GH" and b'"code": "AB**********GH"' in body
    broken = mask_redeem_request(b"", b'{"code":"ZZZZ9999YYYY", "x": ', "not JSON")[1]
    assert b"9999" not in broken
