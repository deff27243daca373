"""claim.lua and the domain's verdict decide alike: hypothesis generates code states,
campaigns, per-user usage and a run of requests; the states are loaded into the real Redis
through the claim cache's own fill (as a worker loads a missed code), the run is claimed by
claim.lua through the real ClaimCache, and the same run is judged by
:func:`core.redemption.verdict.decide_commit` (the MySQL commit's judgement) on the same
facts. Every request must get the same outcome from both (CLAIMED is REDEEMED).

Rate limiting is claim.lua's alone (the commit never judges it): it is configured away
(limits no run can reach), not filtered out of the examples. Each example uses a tenant of
its own under the session's key prefix, which the session deletes at its end."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.adapters.redis.claims import ClaimCache
from core.adapters.redis.client import async_client
from core.adapters.redis.keys import RedisKeys
from core.codes.status import CodeStatus
from core.redemption.model import Attempt, CampaignInfo, CodeState
from core.redemption.ports import StoreView
from core.redemption.verdict import LockedRows, decide_commit
from core.settings import RateLimitTier, Settings
from schemas.campaign import CampaignStatus
from schemas.events import Channel, RedeemOutcome, RedeemRequested
from schemas.rewards import RewardCondition, RewardRule, RewardType
from tests.conftest import REDIS_URL, unique_id

pytestmark = pytest.mark.integration

T = TypeVar("T")
NOW = datetime(2026, 6, 1, 12, 0, 0, 500_000, tzinfo=UTC)
UNLIMITED = 10**12
USERS = ("u1", "u2", "u3")
PRODUCTS = ("P1", "P2", "P3")
TAGS = ("vip", "new")
CAMPAIGNS = ("cA", "cB")

#: Moments around NOW, down to the millisecond either side (window edges).
_EDGES = [timedelta(days=-3), timedelta(milliseconds=-1), timedelta(0),
          timedelta(milliseconds=1), timedelta(days=2)]


def _mostly(usual: T, every: list[T]) -> st.SearchStrategy[T]:
    """``usual`` about half the time, else any of ``every``: most requests get past the
    early checks, so the later ones are reached often."""
    return st.one_of(st.just(usual), st.sampled_from(every))


@st.composite
def campaigns(draw: st.DrawFn, campaign_id: str) -> CampaignInfo:
    start = NOW + draw(_mostly(_EDGES[0], _EDGES))
    end = draw(st.one_of(st.none(), st.sampled_from(_EDGES).map(lambda d: NOW + d)))
    conditions = st.one_of(
        st.none(),
        st.builds(
            RewardCondition,
            user_tag=st.one_of(st.none(), st.sampled_from(TAGS)),
            channel=st.one_of(st.none(), st.sampled_from([c.value for c in Channel])),
        ),
    )
    rules = draw(st.lists(conditions, min_size=1, max_size=3))
    return CampaignInfo(
        campaign_id=campaign_id,
        tenant_id="",
        status=draw(_mostly("ACTIVE", [str(c) for c in CampaignStatus])),
        valid_from=start.replace(tzinfo=None),
        valid_until=end.replace(tzinfo=None) if end else None,
        products=draw(st.lists(st.sampled_from(PRODUCTS), max_size=2, unique=True)),
        use_limit=1,
        per_user_limit=draw(st.integers(1, 3)),
        reward_rules=[
            RewardRule(type=RewardType.COUPON, id=f"R{n}", condition=c)
            for n, c in enumerate(rules)
        ],
    )


@st.composite
def code_states(draw: st.DrawFn, code: str) -> CodeState:
    """A code as MySQL can hold it: never redeemed (maybe voided), partly used, used up
    (claimed or granted), maybe bound to a user."""
    limit = draw(st.integers(1, 3))
    kind = draw(_mostly("unused", ["unused", "partly", "used_up", "voided"]))
    used, status = {
        "unused": (0, CodeStatus.UNUSED),
        "partly": (min(1, limit - 1), CodeStatus.UNUSED),
        "used_up": (limit, draw(st.sampled_from([CodeStatus.CLAIMED, CodeStatus.GRANTED]))),
        "voided": (0, CodeStatus.VOIDED),
    }[kind]
    bound = draw(_mostly(None, [None, *USERS]))
    return CodeState(0, "", code, draw(st.sampled_from(CAMPAIGNS)), int(status), limit, used,
                     bound)


@dataclass
class Case:
    campaigns: dict[str, CampaignInfo]
    states: dict[str, CodeState]
    usage: dict[tuple[str, str], int]
    requests: list[tuple[str, str, str, list[str], Channel]]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    infos = {c: draw(campaigns(c)) for c in CAMPAIGNS}
    codes = [f"CODE{n}" for n in range(draw(st.integers(1, 3)))]
    states = {c: draw(code_states(c)) for c in codes}
    usage = {
        (c, u): n
        for c in CAMPAIGNS
        for u in USERS
        if (n := draw(st.integers(0, 3))) > 0
    }
    request = st.tuples(
        st.sampled_from(USERS),
        st.sampled_from([*codes, "UNKNOWN"]),
        st.sampled_from(PRODUCTS),
        st.lists(st.sampled_from(TAGS), max_size=2, unique=True),
        st.sampled_from(list(Channel)),
    )
    return Case(infos, states, usage, draw(st.lists(request, min_size=1, max_size=8)))


def _tenant_copy(case: Case, tenant: str) -> Case:
    infos = {c: _with_tenant(i, tenant) for c, i in case.campaigns.items()}
    states = {
        code: CodeState(n, tenant, s.code, s.campaign_id, s.status, s.use_limit, s.used_count,
                        s.bound_user)
        for n, (code, s) in enumerate(case.states.items())
    }
    return Case(infos, states, case.usage, case.requests)


def _with_tenant(info: CampaignInfo, tenant: str) -> CampaignInfo:
    return CampaignInfo(info.campaign_id, tenant, info.status, info.valid_from,
                        info.valid_until, info.products, info.use_limit, info.per_user_limit,
                        info.reward_rules)


def _attempts(case: Case, tenant: str) -> list[Attempt]:
    attempts = []
    for user, code, product, tags, channel in case.requests:
        request = RedeemRequested(
            request_id=unique_id("r"), tenant_id=tenant, product_code=product, code=code,
            user_id=user, device_id=None, channel=channel, user_tags=tags,
        )
        attempts.append(Attempt(request, code=code))
    return attempts


@pytest.fixture(scope="module")
def unlimited(redis_prefix: str) -> Settings:
    """Settings whose rate limits no example reaches."""
    return Settings(
        redis_url=REDIS_URL,
        redis_key_prefix=redis_prefix,
        user_failed_attempts_per_hour=UNLIMITED,
        device_failed_attempts_per_hour=UNLIMITED,
        default_rate_limit=RateLimitTier(hour=UNLIMITED, day=UNLIMITED),
    )


async def _lua_outcomes(settings_: Settings, case: Case, tenant: str) -> list[str]:
    cache = ClaimCache(async_client(settings_), RedisKeys(settings_.redis_key_prefix), settings_)
    try:
        await cache.start()
        attempts = _attempts(case, tenant)
        await cache.fill(StoreView(tenant, case.states, case.campaigns, case.usage), attempts)
        replies = await cache.claim(attempts, int(NOW.timestamp() * 1000))
    finally:
        await cache.close()
    return ["REDEEMED" if r.verdict == "CLAIMED" else r.verdict for r in replies]


def _domain_outcomes(case: Case, tenant: str) -> list[str]:
    attempts = _attempts(case, tenant)
    locked = LockedRows(
        dict(case.states),
        dict(case.usage),
        {c: info.status for c, info in case.campaigns.items()},
    )
    decide_commit({tenant: attempts}, {tenant: locked}, case.campaigns, NOW)
    return [(a.outcome or RedeemOutcome.INVALID_REQUEST).value for a in attempts]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_claim_lua_and_the_domain_verdict_agree(unlimited: Settings, case: Case) -> None:
    tenant = unique_id("tp")
    case = _tenant_copy(case, tenant)
    lua = asyncio.run(_lua_outcomes(unlimited, case, tenant))
    assert lua == _domain_outcomes(case, tenant)
