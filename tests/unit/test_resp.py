"""The hand-built RESP commands are byte for byte what hiredis packs for the same arguments."""

from __future__ import annotations

import hiredis
import pytest

from core.adapters.redis import resp

CASES = {
    "same length": [b"AB2C", b"XY9Z", b"QQQQ"],
    "mixed lengths": [b"A", b"BC", b"DEF", b"GH"],
    "one member": [b"ONLY"],
}


@pytest.mark.parametrize("members", CASES.values(), ids=CASES.keys())
def test_mset_prefixed_matches_hiredis(members: list[bytes]) -> None:
    prefix, value = b"rf:{t1}:c:", b"camp|1|0|0|"
    args: list[bytes] = [b"MSET"]
    for member in members:
        args += [prefix + member, value]
    assert resp.mset_prefixed(prefix, members, value) == hiredis.pack_command(tuple(args))


@pytest.mark.parametrize("members", CASES.values(), ids=CASES.keys())
def test_sadd_matches_hiredis(members: list[bytes]) -> None:
    key = b"rf:{t1}:pool:camp"
    expected = hiredis.pack_command((b"SADD", key, *members))
    assert resp.sadd(key, members) == expected
