"""Redis rebuilt from MySQL after a loss: entries, counters, ready marker; redemption after."""

from __future__ import annotations

import pytest

from schemas.events import RedeemOutcome as O
from tests.code_support import code_key
from tests.integration.redeem_support import flush_tenant, make_service, request, seed_campaign

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


def _mistyped(code: str) -> str:
    """The code with its last (check) character changed: never the same code."""
    return code[:-1] + ("Z" if code[-1] != "Z" else "Y")


async def test_rebuild_after_flush_restores_truth(container) -> None:
    rule = {"useLimit": 2, "perUserLimit": 1, "rewardRules": [{"type": "COUPON", "id": "R"}]}
    seeded = seed_campaign(container, count=4, rule=rule)
    service, _ = make_service(container)
    first = await service.process([request(seeded, seeded.codes[0], user="alice"),
                                   request(seeded, seeded.codes[1], user="bob"),
                                   request(seeded, seeded.codes[1], user="carol")])
    assert [r.outcome for r in first] == [O.REDEEMED] * 3
    flush_tenant(container, seeded.tenant_id)

    progress: list[int] = []
    report = container.cache_rebuild.rebuild(seeded.tenant_id, progress.append)
    assert (report.tenants, report.campaigns, report.codes) == ([seeded.tenant_id], 1, 4)
    assert report.user_counters == 3 and sum(progress) == 4
    assert report.ready_set == [seeded.tenant_id]
    client, keys = container.redis, container.keys
    assert client.get(keys.ready(seeded.tenant_id)) == "1"
    entry = client.get(code_key(container, seeded.tenant_id, seeded.codes[1]))
    assert entry.split("|")[2:4] == ["2", "1"]
    assert client.hget(keys.per_user(seeded.tenant_id, seeded.campaign_id), "alice") == "1"
    assert container.cache_rebuild.mismatches(seeded.tenant_id) == []

    again = await service.process([
        request(seeded, seeded.codes[1], user="dave"),     # exhausted: refused by Redis
        request(seeded, seeded.codes[2], user="alice"),    # per-user limit from the counters
        request(seeded, seeded.codes[3], user="erin"),     # still redeemable
        request(seeded, _mistyped(seeded.codes[3]), user="erin"),
    ])
    assert [r.outcome for r in again][:3] == [O.ALREADY_USED, O.USER_LIMIT_REACHED, O.REDEEMED]
    assert again[3].outcome is O.NOT_FOUND
    assert container.cache_rebuild.mismatches(seeded.tenant_id) == []


async def test_rebuild_overwrites_stale_entries(container) -> None:
    seeded = seed_campaign(container, count=2)
    service, _ = make_service(container)
    await service.process([request(seeded, seeded.codes[0])])
    client = container.redis
    client.set(code_key(container, seeded.tenant_id, seeded.codes[0]),
               f"{seeded.campaign_id}|1|0|0|")
    assert container.cache_rebuild.mismatches(seeded.tenant_id) != []
    container.cache_rebuild.rebuild(seeded.tenant_id)
    assert container.cache_rebuild.mismatches(seeded.tenant_id) == []
    [late] = await service.process([request(seeded, seeded.codes[0])])
    assert late.outcome is O.ALREADY_USED


async def test_rebuild_drops_a_counter_mysql_has_no_usage_for(container) -> None:
    # a claim counted in Redis whose repair never landed (a master failed with it)
    seeded = seed_campaign(container, count=2)
    service, _ = make_service(container)
    await service.process([request(seeded, seeded.codes[0], user="kept")])
    per_user = container.keys.per_user(seeded.tenant_id, seeded.campaign_id)
    container.redis.hset(per_user, "ghost", 1)
    assert container.cache_rebuild.mismatches(seeded.tenant_id) == [
        f"user ghost in {seeded.campaign_id}: redis '1'"
    ]
    report = container.cache_rebuild.rebuild(seeded.tenant_id)
    assert report.stale_counters_dropped == 1
    assert container.cache_rebuild.mismatches(seeded.tenant_id) == []
    assert container.redis.hgetall(per_user) == {"kept": "1"}
