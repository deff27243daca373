"""The grants a redemption row keeps: compact, rebuilt field for field, old rows still read."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from core.adapters.mysql.stored_grants import RedemptionFacts, pack, stored_grant_ids, unpack
from schemas.events import RewardGrant
from schemas.rewards import Reward, RewardType

NOW = datetime(2026, 12, 1, 22, 15, 3, 123456, tzinfo=UTC)
FACTS = RedemptionFacts("rd_1", "req-1", "t_a", "APP_A", "cp_1", "u-7", NOW.replace(tzinfo=None))


def _grant(index: int, **changes: object) -> RewardGrant:
    fields: dict[str, object] = {
        "grant_id": f"gr_{index}",
        "redemption_id": "rd_1",
        "request_id": "req-1",
        "tenant_id": "t_a",
        "product_code": "APP_A",
        "campaign_id": "cp_1",
        "user_id": "u-7",
        "reward": Reward(type=RewardType.COUPON, id=f"cpn-{index}", quantity=index + 1),
        "granted_at": NOW,
        **changes,
    }
    return RewardGrant(**fields)  # type: ignore[arg-type]


def test_grants_round_trip_to_the_same_messages() -> None:
    grants = [_grant(0), _grant(1)]
    stored = pack(grants, FACTS)
    rebuilt = unpack(stored, FACTS)
    assert rebuilt == grants
    assert [g.to_bytes() for g in rebuilt] == [g.to_bytes() for g in grants]
    assert unpack(orjson.loads(stored), FACTS) == grants  # a driver that parses JSON


def test_the_row_keeps_only_what_is_the_grants_own() -> None:
    stored = pack([_grant(0)], FACTS)
    assert orjson.loads(stored) == [["gr_0", "COUPON", "cpn-0", 1]]
    assert len(stored) < len(_grant(0).to_bytes()) / 4


@pytest.mark.parametrize(
    "changes",
    [{"campaign_id": "cp_other"}, {"granted_at": datetime(2026, 1, 1, tzinfo=UTC)}],
)
def test_a_grant_differing_from_its_row_is_kept_whole(changes: dict[str, object]) -> None:
    odd = _grant(1, **changes)
    stored = pack([_grant(0), odd], FACTS)
    assert isinstance(orjson.loads(stored)[1], dict)
    assert unpack(stored, FACTS) == [_grant(0), odd]


def test_rows_written_before_the_compact_form_still_read() -> None:
    legacy = b"[" + b",".join(g.to_bytes() for g in [_grant(0), _grant(1)]) + b"]"
    assert unpack(legacy.decode(), FACTS) == [_grant(0), _grant(1)]
    assert stored_grant_ids(legacy) == ["gr_0", "gr_1"]
    assert stored_grant_ids(pack([_grant(0), _grant(1)], FACTS)) == ["gr_0", "gr_1"]
    assert unpack(None, FACTS) == [] and stored_grant_ids("[]") == []


@pytest.mark.parametrize("raw", ['{"grant_id": "gr_0"}', '[["gr_0", "COUPON"]]', "[7]"])
def test_an_unreadable_column_is_a_clear_error(raw: str) -> None:
    with pytest.raises(ValueError, match="grant"):
        unpack(raw, FACTS)
