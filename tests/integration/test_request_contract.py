"""Request ids are idempotency keys (Stripe-style) and half-valid requests get an answer:
a reused id is a conflict that changes nothing, a repeated request gets the first answer
byte for byte, and a message whose ids parse is answered INVALID_REQUEST once."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from sqlalchemy import text

from schemas.base import MessageDecodeError
from schemas.events import RedeemOutcome as O
from schemas.events import RedeemRequested, RewardGrant
from schemas.salvage import salvage_redeem_request
from tests.code_support import code_key, lookup
from tests.conftest import unique_id
from tests.integration.redeem_support import make_service, request, seed_campaign

pytestmark = pytest.mark.integration


def _code_status(container, tenant: str, code: str) -> tuple[int, int]:
    with container.engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, used_count FROM redeem_codes WHERE tenant_id=:t AND code=:c"),
            {"t": tenant, "c": lookup(container, tenant, code)},
        ).one()
    return int(row[0]), int(row[1])


async def test_a_reused_request_id_is_a_conflict_and_the_first_decision_stands(
    container,
) -> None:
    seeded = seed_campaign(container, count=3)
    service, publisher = make_service(container)
    shared = unique_id("order-")
    first = request(seeded, seeded.codes[0], user="alice", request_id=shared)
    [redeemed] = await service.process([first])
    assert redeemed.outcome is O.REDEEMED

    other_user = request(seeded, seeded.codes[1], user="mallory", request_id=shared)
    other_code = request(seeded, seeded.codes[1], user="alice", request_id=shared)
    other_product = request(
        seeded, seeded.codes[0], user="alice", request_id=shared, product_code="APP_B"
    )
    answers = await service.process([other_user, other_code, other_product])
    for answer, sent in zip(answers, [other_user, other_code, other_product], strict=True):
        assert answer.outcome is O.REQUEST_CONFLICT
        assert answer.user_id == sent.user_id
        assert answer.redemption_id is None and answer.grant_ids == []
        assert "already used" in answer.message
    assert _code_status(container, seeded.tenant_id, seeded.codes[1]) == (0, 0), "not claimed"
    grants = [RewardGrant.from_bytes(m.value) for m in publisher.on("reward.grants")]
    assert {g.user_id for g in grants} == {"alice"}

    [again] = await service.process([first])
    assert again.to_bytes() == redeemed.to_bytes(), "the first decision stands, unchanged"
    reuse, repeat = await service.process([other_user, first])
    assert reuse.outcome is O.REQUEST_CONFLICT
    assert repeat.to_bytes() == redeemed.to_bytes(), "a conflict first in the batch changes nothing"


async def test_a_reused_id_within_one_batch_is_a_conflict(container) -> None:
    seeded = seed_campaign(container, count=2)
    service, _ = make_service(container)
    shared = unique_id("order-")
    first = request(seeded, seeded.codes[0], user="alice", request_id=shared)
    reuse = request(seeded, seeded.codes[1], user="bob", request_id=shared)
    answers = await service.process([first, reuse, first])
    assert [a.outcome for a in answers] == [O.REDEEMED, O.REQUEST_CONFLICT, O.REDEEMED]
    assert answers[0].to_bytes() == answers[2].to_bytes()
    assert answers[1].user_id == "bob" and answers[1].redemption_id is None
    assert _code_status(container, seeded.tenant_id, seeded.codes[1]) == (0, 0)


async def test_a_repeated_request_gets_the_first_result_byte_for_byte(container) -> None:
    seeded = seed_campaign(container, count=1)
    service, _ = make_service(container)
    redeem = request(seeded, seeded.codes[0])
    unknown = request(seeded, seeded.codec.generate())
    used = request(seeded, seeded.codes[0])
    firsts = await service.process([redeem, unknown])
    [refused] = await service.process([used])
    await asyncio.sleep(0.01)  # a later batch has a later clock
    again = await service.process([used, unknown, redeem])
    assert [a.to_bytes() for a in again] == [
        refused.to_bytes(), firsts[1].to_bytes(), firsts[0].to_bytes()
    ]


def _half_valid(seeded, **fields: object) -> bytes:
    payload = request(seeded, seeded.codes[0], user="carol").model_dump(mode="json")
    payload.update(fields)
    return orjson.dumps(payload)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"channel": "fax"}, "channel"),
        ({"colour": "blue"}, "colour"),
        ({"requested_at": "2026-01-01T10:00:00"}, "requested_at"),
        ({"schema_version": 2}, "schema_version"),
        ({"code": "A" * 65}, "code"),
    ],
)
async def test_a_half_valid_request_is_answered_invalid_once(container, fields, named) -> None:
    seeded = seed_campaign(container, count=1)
    service, publisher = make_service(container)
    data = _half_valid(seeded, **fields)
    with pytest.raises(MessageDecodeError) as failure:
        RedeemRequested.from_bytes(data)
    rejected = salvage_redeem_request(data, failure.value)
    assert rejected is not None
    [answer] = await service.process([rejected])
    assert answer.outcome is O.INVALID_REQUEST
    assert named in answer.message
    assert answer.user_id == "carol" and answer.tenant_id == seeded.tenant_id
    assert _code_status(container, seeded.tenant_id, seeded.codes[0]) == (0, 0)
    await asyncio.sleep(0.01)
    [redelivered] = await service.process([rejected])
    assert redelivered.to_bytes() == answer.to_bytes()
    assert len(publisher.on("redeem.results")) == 2 and not publisher.on("reward.grants")


def test_messages_without_usable_ids_cannot_be_answered() -> None:
    for payload in [b"{not json", b"[1]", b'{"request_id": "r1", "tenant_id": "t"}',
                    b'{"request_id": "bad id", "tenant_id": "t", "user_id": "u"}']:
        with pytest.raises(MessageDecodeError) as failure:
            RedeemRequested.from_bytes(payload)
        assert salvage_redeem_request(payload, failure.value) is None


async def test_codes_failing_the_offline_check_count_toward_the_throttle(base_settings) -> None:
    from core.bootstrap import bootstrap

    strict = base_settings.model_copy(
        update={"user_failed_attempts_per_hour": 3, "device_failed_attempts_per_hour": 4}
    )
    with bootstrap(strict) as container:
        seeded = seed_campaign(container, count=2)
        service, _ = make_service(container)
        guesses = [request(seeded, f"GUESS{n:04d}", user="guesser") for n in range(5)]
        results = await service.process(guesses[:2])
        results += await service.process(guesses[2:])
        assert [r.outcome for r in results] == [O.NOT_FOUND] * 3 + [O.RATE_LIMITED] * 2
        [late] = await service.process([request(seeded, seeded.codes[0], user="guesser")])
        assert late.outcome is O.RATE_LIMITED, "a throttled guesser cannot redeem either"
        device = unique_id("dev")
        by_device = [
            request(seeded, f"NOPE{n:04d}", user=unique_id("u"), device_id=device)
            for n in range(5)
        ]
        answers = await service.process(by_device)
        assert [r.outcome for r in answers] == [O.NOT_FOUND] * 4 + [O.RATE_LIMITED]
        [honest] = await service.process([request(seeded, seeded.codes[1], user="honest")])
        assert honest.outcome is O.REDEEMED
        negative = container.keys.negative(seeded.tenant_id,
                                           lookup(container, seeded.tenant_id, "GUESS0000"))
        assert not container.redis.exists(negative), "malformed codes are never looked up"


def _tenant_event(tenant_id: str, status: str, version: int):
    from schemas.events import TenantUpdated

    return TenantUpdated(tenant_id=tenant_id, name="Tenant", type="CHANNEL", status=status,
                         code_quota=1000, version=version)


async def test_a_suspended_or_closed_tenant_cannot_redeem(base_settings) -> None:
    from core.bootstrap import bootstrap

    quick = base_settings.model_copy(update={"tenant_status_refresh_seconds": 0.2})
    with bootstrap(quick) as container:
        seeded = seed_campaign(container, count=4)
        tenant = seeded.tenant_id
        container.tenants.apply_update(_tenant_event(tenant, "ACTIVE", 1))
        service, publisher = make_service(container)
        [first] = await service.process([request(seeded, seeded.codes[0])])
        assert first.outcome is O.REDEEMED
        for version, status in [(2, "SUSPENDED"), (3, "CLOSED")]:
            container.tenants.apply_update(_tenant_event(tenant, status, version))
            await asyncio.sleep(0.3)
            refused = request(seeded, seeded.codes[version - 1])
            [answer] = await service.process([refused])
            assert answer.outcome is O.TENANT_INACTIVE, status
            assert "suspended or closed" in answer.message
            assert _code_status(container, tenant, seeded.codes[version - 1]) == (0, 0)
            assert not container.redis.exists(container.keys.request(tenant, refused.request_id))
        container.tenants.apply_update(_tenant_event(tenant, "ACTIVE", 4))
        await asyncio.sleep(0.3)
        [back] = await service.process([request(seeded, seeded.codes[3])])
        assert back.outcome is O.REDEEMED
        assert len(publisher.on("reward.grants")) == 2


CONDITIONAL = {
    "rewardRules": [
        {"type": "MEMBERSHIP_CARD", "id": "VIP", "condition": {"userTag": "vip"}},
        {"type": "COUPON", "id": "APP10", "condition": {"userTag": "new", "channel": "app"}},
    ]
}


def _redis_used(container, seeded, code: str) -> str:
    return container.redis.get(code_key(container, seeded.tenant_id, code)).split("|")[2]


@pytest.mark.parametrize("cache_knows_conditions", [True, False])
async def test_a_user_no_reward_applies_to_is_refused_and_the_code_stays_unused(
    container, cache_knows_conditions
) -> None:
    seeded = seed_campaign(container, count=2, rule=CONDITIONAL)
    if not cache_knows_conditions:  # a campaign hash cached before the rule: MySQL refuses
        container.redis.hdel(container.keys.campaign(seeded.tenant_id, seeded.campaign_id),
                             "elig")
    service, publisher = make_service(container)
    code = seeded.codes[0]
    refused = [
        request(seeded, code, user_tags=["regular"]),
        request(seeded, code, user_tags=["new"], channel="web"),  # one condition of two
    ]
    answers = [(await service.process([r]))[0] for r in refused]
    assert [a.outcome for a in answers] == [O.NOT_ELIGIBLE, O.NOT_ELIGIBLE]
    assert all(a.redemption_id is None and not a.grant_ids for a in answers)
    assert "not eligible" in answers[0].message
    assert _code_status(container, seeded.tenant_id, code) == (0, 0), "the code is not burnt"
    assert _redis_used(container, seeded, code) == "0"
    assert not publisher.on("reward.grants")
    vip, new_in_app = await service.process([
        request(seeded, code, user_tags=["vip"]),
        request(seeded, seeded.codes[1], user_tags=["new"], channel="app"),
    ])
    assert vip.outcome is new_in_app.outcome is O.REDEEMED
    assert len(vip.grant_ids) == len(new_in_app.grant_ids) == 1


async def test_not_eligible_is_not_a_failed_attempt(base_settings) -> None:
    from core.bootstrap import bootstrap

    strict = base_settings.model_copy(update={"user_failed_attempts_per_hour": 2})
    with bootstrap(strict) as container:
        seeded = seed_campaign(container, count=2, rule=CONDITIONAL)
        service, _ = make_service(container)
        tries = [request(seeded, seeded.codes[0], user="plain") for _ in range(3)]
        answers = await service.process(tries)
        assert [a.outcome for a in answers] == [O.NOT_ELIGIBLE] * 3
        [later] = await service.process(
            [request(seeded, seeded.codes[1], user="plain", user_tags=["vip"])]
        )
        assert later.outcome is O.REDEEMED


async def test_claim_lua_refuses_the_ineligible_before_claiming(container) -> None:
    from core.adapters.redis.claims import ClaimCache
    from core.redemption.model import Attempt

    seeded = seed_campaign(container, count=1, rule=CONDITIONAL, protected=False)
    cache = ClaimCache(container.async_redis(), container.keys, container.settings)
    code = seeded.codes[0]
    attempts = [
        Attempt(request(seeded, code, user_tags=tags, channel=channel), code=code)
        for tags, channel in [(["x"], "app"), (["new"], "web"), (["new", "x"], "app")]
    ]
    replies = await cache.claim(attempts, int(time.time() * 1000))
    assert [r.verdict for r in replies] == ["NOT_ELIGIBLE", "NOT_ELIGIBLE", "CLAIMED"]
    await cache.close()
