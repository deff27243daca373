"""One contract for the RedemptionStore port (core.redemption.ports), run against the fake
of the unit tier (``tests.fakes_redemption.InMemoryRedemptionStore``) and the real adapter
(``core.adapters.mysql.redemption_store.RedemptionStore`` on MariaDB), so the fake cannot
promise what the adapter does not do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from core.adapters.mysql.redemption_store import RedemptionStore as MySqlRedemptionStore
from core.codes.status import CodeStatus, RedemptionStatus
from core.errors import ConcurrentUpdate
from core.redemption.grants import build_grants
from core.redemption.ids import redemption_id
from core.redemption.model import Attempt, CampaignInfo, CodeState
from core.redemption.ports import CommitBatch, RedemptionStore
from core.redemption.verdict import CommitPlan, LockedRows, decide_commit
from schemas.campaign import CampaignRule
from schemas.events import Channel, RedeemOutcome, RedeemRequested
from tests.conftest import unique_id
from tests.fakes_redemption import InMemoryRedemptionStore
from tests.integration.redeem_support import seed_campaign

pytestmark = pytest.mark.integration

RULE = {"rewardRules": [{"type": "COUPON", "id": "WELCOME10"}], "perUserLimit": 2}


@dataclass
class Seeded:
    tenant_id: str
    campaign_id: str
    codes: list[str]


@dataclass
class Subject:
    """One implementation of the port and a way to put a campaign with codes into it."""

    store: RedemptionStore
    seed: Callable[[int], Seeded]


def _fake_seed(store: InMemoryRedemptionStore, count: int) -> Seeded:
    tenant, campaign = unique_id("tn"), unique_id("cp")
    rule = CampaignRule.model_validate(RULE)
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=5)
    store.add_campaign(
        CampaignInfo(campaign, tenant, "ACTIVE", start, None, [], 1, 2, list(rule.reward_rules)),
        rule.code,
    )
    codes = [unique_id("CODE").upper() for _ in range(count)]
    for n, code in enumerate(codes):
        store.add_code(CodeState(n + 1, tenant, code, campaign, 0, 1, 0, None))
    return Seeded(tenant, campaign, codes)


@pytest.fixture(params=["fake", "mysql"])
def subject(request: pytest.FixtureRequest) -> Subject:
    if request.param == "fake":
        fake = InMemoryRedemptionStore()
        return Subject(fake, partial(_fake_seed, fake))
    container = request.getfixturevalue("container")
    real: RedemptionStore = MySqlRedemptionStore(container.hot_engine)

    def seed(count: int) -> Seeded:
        made = seed_campaign(container, count=count, rule=RULE, in_redis=False, protected=False)
        return Seeded(made.tenant_id, made.campaign_id, made.codes)

    return Subject(real, seed)


async def _run(func, *args):  # type: ignore[no-untyped-def]
    return await asyncio.get_running_loop().run_in_executor(None, partial(func, *args))


def _claim(store: RedemptionStore, seeded: Seeded, code: str, user: str,
           request_id: str | None = None) -> Attempt:
    """An attempt as the claim stage hands it to the commit (Redis claimed it)."""
    request = RedeemRequested(
        request_id=request_id or unique_id("rq"), tenant_id=seeded.tenant_id,
        product_code="APP_A", code=code, user_id=user, channel=Channel.APP,
    )
    attempt = Attempt(request, code=code)
    attempt.campaign_id = seeded.campaign_id
    attempt.redemption_id = redemption_id(seeded.tenant_id, attempt.request_id)
    campaign = store.campaigns([seeded.campaign_id])[seeded.campaign_id]
    attempt.grants = build_grants(attempt, campaign, datetime.now(UTC))
    return attempt


async def _commit(store: RedemptionStore, seeded: Seeded, claims: list[Attempt]):  # type: ignore[no-untyped-def]
    campaigns = store.campaigns([seeded.campaign_id])
    now = datetime.now(UTC)

    def decide(by_tenant: dict[str, list[Attempt]], locked: dict[str, LockedRows]) -> CommitPlan:
        return decide_commit(by_tenant, locked, campaigns, now)

    store.open()
    commit = await store.begin_commit(
        CommitBatch(claims, [], now.replace(tzinfo=None), decide), _run
    )
    try:
        return await commit.finish()
    finally:
        await commit.close()


class TestRedemptionStoreContract:
    """What the service relies on from any redemption store."""

    def test_reads_codes_campaigns_rules_and_tenants(self, subject: Subject) -> None:
        seeded = subject.seed(2)
        store = subject.store
        found = store.lookup_codes(seeded.tenant_id, [*seeded.codes, "NOSUCHCODE"])
        assert sorted(found) == sorted(seeded.codes)
        state = found[seeded.codes[0]]
        assert (state.campaign_id, state.status, state.used_count, state.use_limit,
                state.bound_user) == (seeded.campaign_id, CodeStatus.UNUSED, 0, 1, None)
        campaigns = store.campaigns([seeded.campaign_id, "cp-none"])
        assert list(campaigns) == [seeded.campaign_id]
        info = campaigns[seeded.campaign_id]
        assert (info.status, info.per_user_limit, info.tenant_id) == ("ACTIVE", 2, seeded.tenant_id)
        assert store.tenant_code_rules(seeded.tenant_id) == [CampaignRule.model_validate(RULE).code]
        assert store.tenant_statuses([unique_id("tn")]) == {}
        assert store.user_usage(seeded.tenant_id, [seeded.campaign_id], ["nobody"]) == {}
        assert store.known_outcomes(seeded.tenant_id, ["rq-none"]) == {}

    async def test_an_accepted_claim_is_stored_then_granted(self, subject: Subject) -> None:
        seeded, store = subject.seed(1), subject.store
        [code] = seeded.codes
        attempt = _claim(store, seeded, code, "alice")
        assert await _commit(store, seeded, [attempt]) == []
        assert attempt.outcome is RedeemOutcome.REDEEMED and attempt.grants_pending
        state = store.lookup_codes(seeded.tenant_id, [code])[code]
        assert (state.status, state.used_count) == (CodeStatus.CLAIMED, 1)
        assert store.user_usage(seeded.tenant_id, [seeded.campaign_id], ["alice"]) == {
            (seeded.campaign_id, "alice"): 1
        }
        known = store.known_outcomes(seeded.tenant_id, [attempt.request_id])[attempt.request_id]
        assert (known.outcome, known.status, known.code, known.redemption_id) == (
            "REDEEMED", RedemptionStatus.PENDING, code, attempt.redemption_id
        )
        assert known.grants == attempt.grants
        await store.record_grants([attempt], datetime.now(UTC).replace(tzinfo=None), _run)
        known = store.known_outcomes(seeded.tenant_id, [attempt.request_id])[attempt.request_id]
        assert known.status == RedemptionStatus.GRANTED
        assert store.lookup_codes(seeded.tenant_id, [code])[code].status == CodeStatus.GRANTED

    async def test_a_refused_claim_comes_back_as_a_cache_correction(
        self, subject: Subject
    ) -> None:
        seeded, store = subject.seed(1), subject.store
        [code] = seeded.codes
        await _commit(store, seeded, [_claim(store, seeded, code, "alice")])
        late = _claim(store, seeded, code, "bob")
        [fix] = await _commit(store, seeded, [late])
        assert late.outcome is RedeemOutcome.ALREADY_USED and not late.grants
        assert (fix.tenant_id, fix.code, fix.request_id, fix.user_id, fix.campaign_id) == (
            seeded.tenant_id, code, late.request_id, "bob", seeded.campaign_id
        )
        assert fix.state is not None and fix.state.used_count == 1
        assert fix.user_used == 0
        known = store.known_outcomes(seeded.tenant_id, [late.request_id])[late.request_id]
        assert (known.outcome, known.redemption_id) == ("ALREADY_USED", None)

    async def test_a_request_recorded_meanwhile_fails_the_commit(self, subject: Subject) -> None:
        seeded, store = subject.seed(2), subject.store
        first = _claim(store, seeded, seeded.codes[0], "alice", request_id="rq-twice")
        await _commit(store, seeded, [first])
        again = _claim(store, seeded, seeded.codes[1], "carol", request_id="rq-twice")
        with pytest.raises(ConcurrentUpdate):
            await _commit(store, seeded, [again])
        state = store.lookup_codes(seeded.tenant_id, [seeded.codes[1]])[seeded.codes[1]]
        assert state.used_count == 0  # nothing of the failed commit was written
