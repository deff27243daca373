"""The redemption path's Redis side: atomic check-and-claim, cache fills and repairs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.adapters.redis.keys import RedisKeys, campaign_fields, code_value
from core.adapters.redis.scripts import ScriptRunner
from core.errors import CacheUnavailable
from core.redemption.model import Attempt, CampaignInfo, CodeState
from core.settings import Settings

REQUEST_TTL_MS = 24 * 3600 * 1000
CLAIMS_PER_CALL = 200
"""Requests per claim.lua call: few enough that one call blocks Redis for a few ms only."""


@dataclass(frozen=True)
class ClaimReply:
    """claim.lua's answer for one attempt."""

    verdict: str
    campaign_id: str
    used: int
    use_limit: int


class ClaimCache:
    """Async Redis operations of the redemption path, one pipeline per batch step."""

    def __init__(self, client: aioredis.Redis, keys: RedisKeys, settings: Settings) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings
        self._scripts = ScriptRunner(client)

    async def start(self) -> None:
        """Register the scripts (once per process)."""
        try:
            await self._scripts.register()
        except RedisError as exc:
            raise CacheUnavailable(f"redis: {exc}") from exc

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
                calls.append(self._claim_call(tenant, [attempts[i] for i in chunk], now_ms))
                slots.append(chunk)
        try:
            replies = await self._scripts.run_many("claim", calls)
        except RedisError as exc:
            raise CacheUnavailable(f"redis claim: {exc}") from exc
        ordered: list[ClaimReply | None] = [None] * len(attempts)
        for chunk, reply in zip(slots, replies, strict=True):
            for index, r in zip(chunk, reply, strict=True):
                ordered[index] = ClaimReply(r[0], r[1], int(r[2]), int(r[3]))
        return [r for r in ordered if r is not None]

    def _claim_call(
        self, tenant: str, attempts: Sequence[Attempt], now_ms: int
    ) -> tuple[list[str], list[object]]:
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
                k.device_failures(tenant, request.device_id) if request.device_id else "",
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

    async def fill(
        self,
        tenant_id: str,
        states: dict[str, CodeState],
        campaigns: dict[str, CampaignInfo],
        usage: dict[tuple[str, str], int],
        wanted: Sequence[Attempt],
    ) -> None:
        """Load MySQL's view of missed codes; codes MySQL lacks get a negative entry."""
        k = self._keys
        calls = []
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for attempt in wanted:
                    code = attempt.code or ""
                    state = states.get(code)
                    if state is None:
                        pipe.set(
                            k.negative(tenant_id, code),
                            "1",
                            ex=self._settings.negative_cache_seconds,
                        )
                        continue
                    campaign = campaigns.get(state.campaign_id)
                    if campaign is None:
                        continue
                    user = attempt.request.user_id
                    calls.append(
                        _fill_call(
                            k, state, campaign, user, usage.get((campaign.campaign_id, user), 0)
                        )
                    )
                await pipe.execute()
            if calls:
                await self._scripts.run_many("load_code", calls)
        except RedisError as exc:
            raise CacheUnavailable(f"redis fill: {exc}") from exc

    async def repair(self, attempts: Sequence[Attempt]) -> None:
        """Write MySQL's truth back for claims MySQL refused and return the user's count."""
        calls = []
        for attempt in attempts:
            state = attempt.cache_repair
            if state is None and not attempt.cache_forget:
                continue
            tenant, code = attempt.tenant_id, attempt.code or ""
            value = "" if state is None else _state_value(state)
            campaign = state.campaign_id if state else (attempt.campaign_id or "")
            calls.append(
                (
                    [
                        self._keys.code(tenant, code),
                        self._keys.per_user(tenant, campaign),
                        self._keys.request(tenant, attempt.request_id),
                    ],
                    [value, attempt.request.user_id, "1", _count(attempt.cache_user_used)],
                )
            )
        if not calls:
            return
        try:
            await self._scripts.run_many("release", calls)
        except RedisError as exc:
            raise CacheUnavailable(f"redis repair: {exc}") from exc

    async def close(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def _state_value(state: CodeState) -> str:
    status = (
        state.status if state.status == 3 else (1 if state.used_count >= state.use_limit else 0)
    )
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
