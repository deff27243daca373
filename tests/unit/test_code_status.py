"""The stored code and redemption statuses: their numbers are the storage format."""

from __future__ import annotations

import pytest

from core.adapters.redis.keys import code_value
from core.codes.status import CODE_STATUS_NAMES, CodeStatus, RedemptionStatus, cached_status


def test_numbers_are_the_stored_format() -> None:
    assert [int(s) for s in CodeStatus] == [0, 1, 2, 3]
    assert [int(s) for s in RedemptionStatus] == [1, 2]
    assert CODE_STATUS_NAMES == {0: "unused", 1: "claimed", 2: "granted", 3: "voided"}


def test_sql_and_redis_render_the_number() -> None:
    assert f"status = {CodeStatus.VOIDED:d}" == "status = 3"
    assert code_value("c1", 2, 1, CodeStatus.CLAIMED, "u") == "c1|2|1|1|u"


@pytest.mark.parametrize(
    ("status", "used", "limit", "cached"),
    [
        (CodeStatus.VOIDED, 0, 1, CodeStatus.VOIDED),
        (CodeStatus.UNUSED, 0, 1, CodeStatus.UNUSED),
        (CodeStatus.UNUSED, 1, 3, CodeStatus.UNUSED),
        (CodeStatus.CLAIMED, 1, 1, CodeStatus.CLAIMED),
        (CodeStatus.GRANTED, 3, 3, CodeStatus.CLAIMED),
    ],
)
def test_cached_status(status: CodeStatus, used: int, limit: int, cached: CodeStatus) -> None:
    assert cached_status(status, used, limit) is cached
