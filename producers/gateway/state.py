"""What the gateway's routes share for the life of the app (built in the lifespan)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from core.adapters.mysql.apikey_store import ApiKeyStore, OutcomeReader
from core.apikeys import ApiKeyResolver
from core.bootstrap import Container
from core.redemption.tenant_status import TenantStatuses
from core.tenants import tenant_statuses
from core.topics import Topic
from producers.gateway.redeemer import Redeemer
from producers.gateway.results import ResultListener


class Unauthorized(Exception):
    """The request carries no valid API key (answered 401, nothing published)."""


class TenantInactive(Exception):
    """The key's tenant is SUSPENDED or CLOSED (answered 403 ``tenant_inactive``)."""


@dataclass
class GatewayState:
    """Adapters and helpers of one gateway process."""

    container: Container
    executor: ThreadPoolExecutor
    resolver: ApiKeyResolver
    tenants: TenantStatuses
    listener: ResultListener
    redeemer: Redeemer
    redis: Any

    @classmethod
    def build(cls, container: Container) -> GatewayState:
        """Wire everything (clients connect lazily, on first use)."""
        settings = container.settings
        executor = ThreadPoolExecutor(8, thread_name_prefix="gateway-db")
        listener = ResultListener(settings)
        redeemer = Redeemer(
            container.producer,
            listener,
            OutcomeReader(container.engine),
            executor,
            topic=settings.topic(Topic.REDEEM_REQUESTS),
            timeout=settings.gateway_result_timeout_seconds,
        )
        resolver = ApiKeyResolver(ApiKeyStore(container.engine), settings.api_key_cache_seconds)
        tenants = TenantStatuses(  # the workers' cache: one refresh period everywhere
            lambda ids: tenant_statuses(container.engine, ids),
            settings.tenant_status_refresh_seconds,
        )
        return cls(
            container, executor, resolver, tenants, listener, redeemer, container.async_redis()
        )

    async def close(self) -> None:
        """Stop the listener, close the Redis client, release the executor."""
        await self.listener.stop()
        await self.redis.aclose()
        self.executor.shutdown(wait=False, cancel_futures=True)


def gateway_state(request: Request) -> GatewayState:
    """FastAPI dependency: the state the lifespan stored on the app."""
    state: GatewayState = request.app.state.gateway
    return state
