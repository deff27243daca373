"""The redemption path's Redis side: atomic check-and-claim, cache fills and repairs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from core.adapters.redis.client import REDIS_ERRORS, AsyncRedisClient, is_cluster
from core.adapters.redis.keys import RedisKeys, campaign_fields, code_value
from core.adapters.redis.layout import check_slot_layout
from core.adapters.redis.scripts import ScriptRunner
from core.codes.status import cached_status
from core.errors import CacheUnavailable
from core.redemption.model import Attempt, CampaignInfo, ClaimReply, CodeState
from core.redemption.ports import StoreView
from core.redemption.verdict import CacheCorrection
from core.settings import Settings
from schemas.events import RedeemRequested

REQUEST_TTL_MS = 24 * 3600 * 1000
CLAIMS_PER_CALL = 200
"""Requests per claim.lua call: few enough that one call blocks Redis for a few ms only."""


class ClaimCache:
    """Async Redis operations of the redemption path, one pipeline per batch step."""

    def __init__(self, client: AsyncRedisClient, keys: RedisKeys, settings: Settings) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings
        self._scripts = ScriptRunner(client)
        if is_cluster(client):  # refuse at start-up, not on every batch (ConfigurationError)
            check_slot_layout(self.sample_calls())

    async def start(self) -> None:
        """Register the scripts (once per process)."""
        try:
            await self._scripts.register()
        except REDIS_ERRORS as exc:
            raise CacheUnavailable(f"redis: {exc}") from exc

    def sample_calls(self) -> dict[str, list[list[str]]]:
        """The KEYS of sample calls of each script, built as the real calls are (for the
        start-up slot check): requests with and without a device, a fill and a repair."""
        tenant, code = "layout-check", "LAYOUTCHECK"
        attempts = [
            Attempt(RedeemRequested(request_id=f"r{i}", tenant_id=tenant, product_code="P",
                                    code=code, user_id="u", device_id=device), code)
            for i, device in enumerate((None, "d1"))
        ]
        k = self._keys
        state = CodeState(0, tenant, code, "camp", 0, 1, 0, None)
        info = CampaignInfo("camp", tenant, "ACTIVE", datetime(2000, 1, 1), None, [], 1, 1, [])
        return {
            "claim.lua": [self.claim_call(tenant, attempts, 0)[0]],
            "load_code.lua": [_fill_call(k, state, info, "u", 0)[0]],
            "release.lua": [_release_keys(k, tenant, code, "camp", "r0")],
        }

    async def claim(self, attempts: Sequence[Attempt], now_ms: int) -> list[ClaimReply]:
        """Run claim.lua over the attempts: one call per tenant and chunk, all pipelined;
        each tenant's attempts are claimed in the given order. Replies in input order."""
        by_tenant: dict[str, list[int]] = defaultdict(list)
        for index, attempt in enumerate(attempts):
            by_tenant[attempt.request.tenant_id].append(index)
        calls: list[tuple[list[str], list[object]]] = []
        slots: list[list[int]] = []
        for tenant, indexes in by_tenant.items():
            for start in range(0, len(indexes), CLAIMS_PER_CALL):
                chunk = indexes[start : start + CLAIMS_PER_CALL]
                calls.append(self.claim_call(tenant, [attempts[i] for i in chunk], now_ms))
                slots.append(chunk)
        try:
            replies = await self._scripts.run_many("claim", calls)
        except REDIS_ERRORS as exc:
            raise CacheUnavailable(f"redis claim: {exc}") from exc
        ordered: list[ClaimReply | None] = [None] * len(attempts)
        for chunk, reply in zip(slots, replies, strict=True):
            for index, r in zip(chunk, reply, strict=True):
                ordered[index] = ClaimReply(r[0], r[1], int(r[2]), int(r[3]))
        return [r for r in ordered if r is not None]

    def claim_call(
        self, tenant: str, attempts: Sequence[Attempt], now_ms: int
    ) -> tuple[list[str], list[object]]:
        """claim.lua's KEYS and ARGV for one tenant's attempts (every key under its tag)."""
        k, s = self._keys, self._settings
        keys: list[str] = []
        args: list[object] = [
            now_ms,
            REQUEST_TTL_MS,
            s.user_failed_attempts_per_hour,
            s.device_failed_attempts_per_hour,
            k.tenant(tenant),
        ]
        for attempt in attempts:
            request, code = attempt.request, attempt.code or ""
            limits = s.rate_limit_for(request.product_code)
            product_key = k.product_attempts(tenant, request.product_code)
            keys += [
                k.code(tenant, code),
                k.negative(tenant, code),
                k.ready(tenant),
                k.request(tenant, request.request_id),
                product_key + ":h",
                product_key + ":d",
                k.user_failures(tenant, request.user_id),
                k.device_failures(tenant, request.device_id or ""),  # "rl:d:": no device
            ]
            args += [
                request.product_code,
                request.user_id,
                limits.hour,
                limits.day,
                code,
                "," + ",".join(request.user_tags) + ",",
                request.channel.value,
            ]
        return keys, args

    async def fill(self, view: StoreView, wanted: Sequence[Attempt]) -> None:
        """Load MySQL's view of missed codes; codes MySQL lacks get a negative entry."""
        k, tenant_id = self._keys, view.tenant_id
        calls = []
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for attempt in wanted:
                    code = attempt.code or ""
                    state = view.states.get(code)
                    if state is None:
                        pipe.set(
                            k.negative(tenant_id, code),
                            "1",
                            ex=self._settings.negative_cache_seconds,
                        )
                        continue
                    campaign = view.campaigns.get(state.campaign_id)
                    if campaign is None:
                        continue
                    user = attempt.request.user_id
                    used = view.usage.get((campaign.campaign_id, user), 0)
                    calls.append(_fill_call(k, state, campaign, user, used))
                await pipe.execute()
            if calls:
                await self._scripts.run_many("load_code", calls)
        except REDIS_ERRORS as exc:
            raise CacheUnavailable(f"redis fill: {exc}") from exc

    async def repair(self, corrections: Sequence[CacheCorrection]) -> None:
        """Write MySQL's view back for claims MySQL refused: the code's entry (or none), the
        user's count (or one use given back), and the request's record forgotten."""
        calls = []
        for fix in corrections:
            value = "" if fix.state is None else _state_value(fix.state)
            calls.append(
                (
                    _release_keys(
                        self._keys, fix.tenant_id, fix.code, fix.campaign_id, fix.request_id
                    ),
                    [value, fix.user_id, "1", _count(fix.user_used)],
                )
            )
        if not calls:
            return
        try:
            await self._scripts.run_many("release", calls)
        except REDIS_ERRORS as exc:
            raise CacheUnavailable(f"redis repair: {exc}") from exc

    async def close(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()


def _release_keys(
    k: RedisKeys, tenant: str, code: str, campaign: str, request_id: str
) -> list[str]:
    """release.lua's KEYS: the code entry, the per-user hash, the request record."""
    return [k.code(tenant, code), k.per_user(tenant, campaign), k.request(tenant, request_id)]


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def _state_value(state: CodeState) -> str:
    status = cached_status(state.status, state.used_count, state.use_limit)
    return code_value(
        state.campaign_id, state.use_limit, state.used_count, status, state.bound_user or ""
    )


def _fill_call(
    k: RedisKeys, state: CodeState, campaign: CampaignInfo, user: str, used: int
) -> tuple[list[str], list[object]]:
    fields = campaign_fields(
        campaign.status,
        campaign.valid_from,
        campaign.valid_until,
        campaign.products,
        campaign.per_user_limit,
        campaign.reward_rules,
    )
    tenant = state.tenant_id
    return (
        [
            k.code(tenant, state.code),
            k.campaign(tenant, state.campaign_id),
            k.per_user(tenant, state.campaign_id),
        ],
        [
            _state_value(state),
            fields["status"],
            fields["from"],
            fields["until"],
            fields["products"],
            fields["pul"],
            user,
            used,
            fields["elig"],
        ],
    )
