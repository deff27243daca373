"""RedemptionService on the in-memory fakes of its ports: no MariaDB, Redis or broker.

Every RedeemOutcome is produced here through the service's whole pipeline (replay, tenant
status, format check, claim with a miss filled from the store, the commit's judgement,
grants and results handed to the publisher, grants recorded). The fakes are held to the
real adapters by the contract tests in tests/integration."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.codes import CodeCodec
from core.codes.status import CodeStatus, RedemptionStatus
from core.redemption.model import Attempt, CampaignInfo, CodeState
from core.redemption.ports import ClaimCache, RedemptionStore, StoreView
from core.redemption.service import RedemptionService
from core.settings import Settings
from schemas.campaign import CampaignRule
from schemas.events import Channel, RedeemOutcome, RedeemRequested, RedeemResult, RewardGrant
from schemas.salvage import RejectedRedeem
from tests.fakes import RecordingPublisher
from tests.fakes_redemption import InMemoryClaimCache, InMemoryRedemptionStore

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NAIVE_NOW = NOW.replace(tzinfo=None)
FAILED_ATTEMPTS_PER_HOUR = 3


@dataclass
class World:
    """A service over fakes, with one tenant and helpers to add campaigns and codes."""

    store: InMemoryRedemptionStore
    cache: InMemoryClaimCache
    publisher: RecordingPublisher
    service: RedemptionService
    settings: Settings
    tenant: str = "t1"
    seen: set[RedeemOutcome] = field(default_factory=set)
    """Every outcome this world's service answered."""
    _numbers: list[int] = field(default_factory=lambda: [0])

    def campaign(self, campaign_id: str = "c1", **changes: Any) -> CampaignInfo:
        rule = CampaignRule.model_validate({"rewardRules": [{"type": "COUPON", "id": "W10"}]})
        info = CampaignInfo(
            campaign_id, self.tenant, "ACTIVE", NAIVE_NOW - timedelta(days=1), None, [],
            1, 1, list(rule.reward_rules),
        )
        info = replace(info, **changes)
        self.store.add_campaign(info, rule.code)
        return info

    def codes(self, info: CampaignInfo, count: int = 1, **changes: object) -> list[str]:
        rule = self.store.rules[self.tenant][0]
        codec = CodeCodec(rule, self.settings.code_secret_for(self.tenant), self.tenant)
        made = codec.generate_many(count)
        for code in made:
            self._numbers[0] += 1
            state = CodeState(self._numbers[0], self.tenant, code, info.campaign_id,
                              int(CodeStatus.UNUSED), info.use_limit, 0, None)
            self.store.add_code(replace(state, **changes))  # type: ignore[arg-type]
        return made

    async def redeem(
        self, *items: tuple[str, str] | RedeemRequested | RejectedRedeem
    ) -> list[RedeemResult]:
        """Process one batch: (user, code) pairs become requests for product P1."""
        requests = [_request(self.tenant, *i) if isinstance(i, tuple) else i for i in items]
        results = await self.service.process(requests)
        self.seen.update(r.outcome for r in results)
        return results


_ids = iter(range(1, 1_000_000))


def _request(tenant: str, user: str, code: str, **changes: object) -> RedeemRequested:
    values: dict[str, object] = {
        "request_id": f"r{next(_ids)}", "tenant_id": tenant, "product_code": "P1",
        "code": code, "user_id": user, "device_id": None, "channel": Channel.APP,
        "user_tags": [],
    }
    return RedeemRequested(**{**values, **changes})  # type: ignore[arg-type]


def _world() -> World:
    settings = Settings(user_failed_attempts_per_hour=FAILED_ATTEMPTS_PER_HOUR)
    store, cache, publisher = InMemoryRedemptionStore(), InMemoryClaimCache(settings), \
        RecordingPublisher()
    typed_store: RedemptionStore = store  # the fakes implement the ports (mypy, pyright)
    typed_cache: ClaimCache = cache
    service = RedemptionService(settings, typed_store, typed_cache, publisher, clock=lambda: NOW)
    return World(store, cache, publisher, service, settings)


@pytest.fixture
def world() -> World:
    """A fresh service over fresh fakes."""
    return _world()


def _outcomes(results: list[RedeemResult]) -> list[RedeemOutcome]:
    return [r.outcome for r in results]


async def test_redeemed_publishes_grants_and_records_them(world: World) -> None:
    [code] = world.codes(world.campaign())
    [result] = await world.redeem(("alice", code))
    assert result.outcome is RedeemOutcome.REDEEMED
    assert result.redemption_id and result.grant_ids
    grants = [RewardGrant.from_bytes(m.value) for m in world.publisher.on("reward.grants")]
    assert [g.grant_id for g in grants] == result.grant_ids
    assert len(world.publisher.on("redeem.results")) == 1
    stored = world.store.redemptions[result.redemption_id]
    assert stored.status is RedemptionStatus.GRANTED
    assert world.store.codes[(world.tenant, code)].status == CodeStatus.GRANTED
    assert world.store.usage[(world.tenant, "c1", "alice")] == 1


async def test_a_redelivered_request_is_answered_as_the_first_time(world: World) -> None:
    [code] = world.codes(world.campaign())
    request = _request(world.tenant, "alice", code)
    [first] = await world.redeem(request)
    [again] = await world.redeem(request)
    assert again == first
    assert world.store.codes[(world.tenant, code)].used_count == 1


_CAMPAIGN_CASES = [
    ({"status": "PAUSED"}, RedeemOutcome.CAMPAIGN_INACTIVE),
    ({"valid_until": NAIVE_NOW - timedelta(seconds=1)}, RedeemOutcome.EXPIRED),
    ({"valid_from": NAIVE_NOW + timedelta(hours=1)}, RedeemOutcome.NOT_YET_VALID),
    ({"products": ["P2"]}, RedeemOutcome.PRODUCT_NOT_APPLICABLE),
]


@pytest.mark.parametrize(("campaign", "expected"), _CAMPAIGN_CASES)
async def test_campaign_refusals(
    world: World, campaign: dict[str, object], expected: RedeemOutcome
) -> None:
    [code] = world.codes(world.campaign("c1", **campaign))
    assert _outcomes(await world.redeem(("alice", code))) == [expected]
    assert world.store.codes[(world.tenant, code)].used_count == 0


async def test_not_found_unknown_malformed_voided_or_bound_to_another(world: World) -> None:
    info = world.campaign()
    [unknown] = world.codes(world.campaign("c2"))
    del world.store.codes[(world.tenant, unknown)]  # well formed, never stored
    [voided] = world.codes(info, status=int(CodeStatus.VOIDED))
    [bound] = world.codes(info, bound_user="bob")
    results = await world.redeem(  # users of their own: failures count per user
        ("alice", unknown), ("carol", "NOT-A-CODE"), ("dave", voided), ("erin", bound)
    )
    assert _outcomes(results) == [RedeemOutcome.NOT_FOUND] * 4
    assert _outcomes(await world.redeem(("bob", bound))) == [RedeemOutcome.REDEEMED]


async def test_already_used_and_user_limit_in_one_batch(world: World) -> None:
    info = world.campaign(per_user_limit=1)
    first, second = world.codes(info, 2)
    results = await world.redeem(("alice", first), ("bob", first), ("alice", second))
    assert _outcomes(results) == [
        RedeemOutcome.REDEEMED, RedeemOutcome.ALREADY_USED, RedeemOutcome.USER_LIMIT_REACHED,
    ]


async def test_not_eligible_without_the_rewarded_tag(world: World) -> None:
    rule = CampaignRule.model_validate(
        {"rewardRules": [{"type": "COUPON", "id": "V", "condition": {"userTag": "vip"}}]}
    )
    [code] = world.codes(world.campaign(reward_rules=list(rule.reward_rules)))
    vip = _request(world.tenant, "bob", code, user_tags=["vip"])
    results = await world.redeem(("alice", code), vip)
    assert _outcomes(results) == [RedeemOutcome.NOT_ELIGIBLE, RedeemOutcome.REDEEMED]


async def test_rate_limited_after_too_many_failed_attempts(world: World) -> None:
    world.campaign()
    guesses = [("mallory", f"GUESS{n}") for n in range(FAILED_ATTEMPTS_PER_HOUR + 1)]
    results = await world.redeem(*guesses)
    assert _outcomes(results) == [RedeemOutcome.NOT_FOUND] * FAILED_ATTEMPTS_PER_HOUR + [
        RedeemOutcome.RATE_LIMITED
    ]


async def test_invalid_request_conflict_and_inactive_tenant(world: World) -> None:
    [code, other] = world.codes(world.campaign(), 2)
    rejected = RejectedRedeem("r-bad", world.tenant, "alice", "P1", code, "bad channel", "channel")
    first = _request(world.tenant, "alice", code, request_id="r-same")
    reuse = _request(world.tenant, "alice", other, request_id="r-same")
    results = await world.redeem(rejected, first, reuse)
    assert _outcomes(results) == [
        RedeemOutcome.INVALID_REQUEST, RedeemOutcome.REDEEMED, RedeemOutcome.REQUEST_CONFLICT,
    ]
    world.store.tenants["t2"] = "SUSPENDED"
    suspended = _request("t2", "alice", other)
    assert _outcomes(await world.redeem(suspended)) == [RedeemOutcome.TENANT_INACTIVE]


async def test_a_claim_the_store_refuses_is_corrected_in_the_cache(world: World) -> None:
    """The cache still holds a code as unused that the store has seen used up meanwhile:
    the cache claims it, the commit refuses it, and the cache is told the store's view."""
    [code, warm] = world.codes(world.campaign(use_limit=1, per_user_limit=5), 2)
    await world.redeem(("alice", warm))
    request = _request(world.tenant, "alice", code)
    view = StoreView(world.tenant, world.store.lookup_codes(world.tenant, [code]),
                     world.store.campaigns(["c1"]), {})
    await world.cache.fill(view, [Attempt(request, code=code)])  # loaded while unused
    key = (world.tenant, code)
    world.store.codes[key] = replace(world.store.codes[key], used_count=1,
                                     status=int(CodeStatus.GRANTED))
    [result] = await world.redeem(request)
    assert result.outcome is RedeemOutcome.ALREADY_USED
    entry = world.cache.entries[key]
    assert (entry.used, entry.status) == (1, CodeStatus.CLAIMED)
    assert world.cache.per_user[(world.tenant, "c1", "alice")] == 1  # the store's count
    assert (world.tenant, request.request_id) not in world.cache.requests


#: A test above that produces each outcome through the whole service.
PRODUCED_BY = {
    RedeemOutcome.REDEEMED: test_redeemed_publishes_grants_and_records_them,
    RedeemOutcome.NOT_FOUND: test_not_found_unknown_malformed_voided_or_bound_to_another,
    RedeemOutcome.EXPIRED: test_campaign_refusals,
    RedeemOutcome.NOT_YET_VALID: test_campaign_refusals,
    RedeemOutcome.CAMPAIGN_INACTIVE: test_campaign_refusals,
    RedeemOutcome.PRODUCT_NOT_APPLICABLE: test_campaign_refusals,
    RedeemOutcome.ALREADY_USED: test_already_used_and_user_limit_in_one_batch,
    RedeemOutcome.USER_LIMIT_REACHED: test_already_used_and_user_limit_in_one_batch,
    RedeemOutcome.RATE_LIMITED: test_rate_limited_after_too_many_failed_attempts,
    RedeemOutcome.INVALID_REQUEST: test_invalid_request_conflict_and_inactive_tenant,
    RedeemOutcome.REQUEST_CONFLICT: test_invalid_request_conflict_and_inactive_tenant,
    RedeemOutcome.TENANT_INACTIVE: test_invalid_request_conflict_and_inactive_tenant,
    RedeemOutcome.NOT_ELIGIBLE: test_not_eligible_without_the_rewarded_tag,
}


@pytest.mark.parametrize("outcome", list(RedeemOutcome))
async def test_every_outcome_is_produced(outcome: RedeemOutcome) -> None:
    """Each outcome has a test above, and running it (again, on a world of its own)
    produces that outcome: the table cannot name a test that does not."""
    test = PRODUCED_BY[outcome]
    seen: set[RedeemOutcome] = set()
    cases = [{"campaign": c, "expected": e} for c, e in _CAMPAIGN_CASES]
    for kwargs in cases if test is test_campaign_refusals else [{}]:
        built = _world()
        built.seen = seen
        await test(built, **kwargs)  # type: ignore[operator]
    assert outcome in seen
