"""One contract for the ClaimCache port (core.redemption.ports), run against the fake of
the unit tier (``tests.fakes_redemption.InMemoryClaimCache``) and the real adapter
(``core.adapters.redis.claims.ClaimCache``: claim.lua on the real Redis, under the session's
key prefix, deleted at its end; a tenant of its own per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.adapters.redis.claims import ClaimCache as RedisClaimCache
from core.adapters.redis.client import async_client
from core.adapters.redis.keys import RedisKeys
from core.codes.status import CodeStatus
from core.redemption.model import Attempt, CampaignInfo, CodeState
from core.redemption.ports import ClaimCache, StoreView
from core.redemption.verdict import CacheCorrection
from core.settings import Settings
from schemas.events import Channel, RedeemRequested
from schemas.rewards import RewardRule, RewardType
from tests.conftest import REDIS_URL, unique_id
from tests.fakes_redemption import InMemoryClaimCache

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
FAILED_ATTEMPTS_PER_HOUR = 2


@pytest.fixture(params=["fake", "redis"])
async def cache(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[ClaimCache]:
    settings = Settings(redis_url=REDIS_URL, redis_key_prefix=redis_prefix,
                        user_failed_attempts_per_hour=FAILED_ATTEMPTS_PER_HOUR)
    subject: ClaimCache
    if request.param == "fake":
        subject = InMemoryClaimCache(settings)
    else:
        subject = RedisClaimCache(async_client(settings), RedisKeys(redis_prefix), settings)
    await subject.start()
    yield subject
    await subject.close()


class World:
    """A tenant with one campaign and its codes, as the store would hand them to a fill."""

    def __init__(self, status: str = "ACTIVE", per_user_limit: int = 1) -> None:
        self.tenant = unique_id("tc")
        self.campaign = CampaignInfo(
            "c1", self.tenant, status, (NOW - timedelta(days=1)).replace(tzinfo=None), None,
            [], 1, per_user_limit, [RewardRule(type=RewardType.COUPON, id="R")],
        )

    def state(self, code: str, **changes: object) -> CodeState:
        state = CodeState(1, self.tenant, code, "c1", int(CodeStatus.UNUSED), 1, 0, None)
        return replace(state, **changes)  # type: ignore[arg-type]

    def attempt(self, code: str, user: str = "alice", request_id: str | None = None) -> Attempt:
        request = RedeemRequested(
            request_id=request_id or unique_id("rq"), tenant_id=self.tenant,
            product_code="P1", code=code, user_id=user, channel=Channel.APP,
        )
        return Attempt(request, code=code)

    async def fill(self, cache: ClaimCache, states: list[CodeState], wanted: list[Attempt],
                   usage: dict[tuple[str, str], int] | None = None) -> None:
        view = StoreView(self.tenant, {s.code: s for s in states}, {"c1": self.campaign},
                         usage or {})
        await cache.fill(view, wanted)


async def _verdicts(cache: ClaimCache, attempts: list[Attempt]) -> list[str]:
    return [r.verdict for r in await cache.claim(attempts, NOW_MS)]


class TestClaimCacheContract:
    """What the service relies on from any claim cache."""

    async def test_a_miss_is_filled_then_claimed_once(self, cache: ClaimCache) -> None:
        w = World()
        first = w.attempt("CODE1")
        assert await _verdicts(cache, [first]) == ["MISS"]
        await w.fill(cache, [w.state("CODE1")], [first])
        [reply] = await cache.claim([first], NOW_MS)
        assert (reply.verdict, reply.campaign_id, reply.used, reply.use_limit) == (
            "CLAIMED", "c1", 1, 1
        )
        assert await _verdicts(cache, [first, w.attempt("CODE1", "bob")]) == [
            "DUP", "ALREADY_USED"
        ]

    async def test_codes_the_store_lacks_are_not_found(self, cache: ClaimCache) -> None:
        w = World()
        ghost = w.attempt("GHOST")
        await w.fill(cache, [], [ghost])
        assert await _verdicts(cache, [ghost]) == ["NOT_FOUND"]

    async def test_usage_loaded_by_the_fill_limits_the_user(self, cache: ClaimCache) -> None:
        w = World(per_user_limit=2)
        codes = [w.attempt("CODE1"), w.attempt("CODE2")]
        await w.fill(cache, [w.state("CODE1"), w.state("CODE2")], codes, {("c1", "alice"): 1})
        assert await _verdicts(cache, codes) == ["CLAIMED", "USER_LIMIT_REACHED"]

    async def test_campaign_and_code_refusals(self, cache: ClaimCache) -> None:
        w = World(status="PAUSED")
        paused, voided = w.attempt("CODE1"), w.attempt("CODE2", "bob")
        await w.fill(cache, [w.state("CODE1"), w.state("CODE2", status=3)], [paused, voided])
        assert await _verdicts(cache, [paused, voided]) == ["CAMPAIGN_INACTIVE", "NOT_FOUND"]

    async def test_failed_attempts_are_rate_limited(self, cache: ClaimCache) -> None:
        w = World()
        guesses = [w.attempt(f"GUESS{n}", "mallory") for n in range(FAILED_ATTEMPTS_PER_HOUR + 1)]
        await w.fill(cache, [], guesses)
        assert await _verdicts(cache, guesses) == ["NOT_FOUND"] * FAILED_ATTEMPTS_PER_HOUR + [
            "RATE_LIMITED"
        ]

    async def test_a_correction_writes_the_store_view_back(self, cache: ClaimCache) -> None:
        w = World(per_user_limit=5)
        claimed = w.attempt("CODE1")
        await w.fill(cache, [w.state("CODE1", use_limit=2)], [claimed], {("c1", "alice"): 3})
        assert await _verdicts(cache, [claimed]) == ["CLAIMED"]
        used_up = w.state("CODE1", use_limit=2, used_count=2, status=int(CodeStatus.CLAIMED))
        await cache.repair([CacheCorrection(w.tenant, "CODE1", claimed.request_id, "alice",
                                            "c1", used_up, 5)])
        # the request is forgotten (no DUP), the code is MySQL's (used up), the count 5
        assert await _verdicts(cache, [claimed]) == ["ALREADY_USED"]
        other = w.attempt("CODE2")
        await w.fill(cache, [w.state("CODE2")], [other])
        assert await _verdicts(cache, [other]) == ["USER_LIMIT_REACHED"]

    async def test_a_correction_without_a_state_forgets_the_code(self, cache: ClaimCache) -> None:
        w = World(per_user_limit=1)
        claimed = w.attempt("CODE1")
        await w.fill(cache, [w.state("CODE1")], [claimed])
        assert await _verdicts(cache, [claimed]) == ["CLAIMED"]
        await cache.repair([CacheCorrection(w.tenant, "CODE1", claimed.request_id, "alice",
                                            "c1", None, None)])
        # the entry is gone (a miss again) and the user's use was given back
        assert await _verdicts(cache, [claimed]) == ["MISS"]
        other = w.attempt("CODE2")
        await w.fill(cache, [w.state("CODE2")], [other])
        assert await _verdicts(cache, [other]) == ["CLAIMED"]
