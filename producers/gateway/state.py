"""What the gateway's routes share for the life of the app (built in the lifespan)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from core.adapters.mysql.apikey_store import ApiKeyStore, OutcomeReader
from core.adapters.mysql.token_key_store import SigningKeyTable
from core.adapters.redis.pending_marks import PendingMarks
from core.apikeys import ApiKeyResolver
from core.bootstrap import Container
from core.redemption.tenant_status import TenantStatuses
from core.tokens import TokenVerifier
from core.topics import Topic
from producers.gateway.auth import Authenticator, Unauthorized
from producers.gateway.redeemer import Redeemer
from producers.gateway.results import ResultListener

__all__ = ["GatewayState", "Unauthorized", "gateway_state"]


@dataclass
class GatewayState:
    """Adapters and helpers of one gateway process."""

    container: Container
    executor: ThreadPoolExecutor
    auth: Authenticator
    signing_keys: SigningKeyTable
    token_master: bytes
    listener: ResultListener
    redeemer: Redeemer
    redis: Any

    @classmethod
    def build(cls, container: Container) -> GatewayState:
        """Wire everything (clients connect lazily, on first use)."""
        settings = container.settings
        executor = ThreadPoolExecutor(8, thread_name_prefix="gateway-db")
        listener = ResultListener(settings)
        redis = container.async_redis()
        redeemer = Redeemer(
            container.producer,
            listener,
            OutcomeReader(container.engine),
            executor,
            PendingMarks(redis, container.keys),
            topic=settings.topic(Topic.REDEEM_REQUESTS),
            timeout=settings.gateway_result_timeout_seconds,
        )
        keys = ApiKeyResolver(ApiKeyStore(container.engine), settings.api_key_cache_seconds)
        signing_keys = SigningKeyTable(container.engine)
        master = settings.token_master_secret.get_secret_value().encode()
        tokens = TokenVerifier(signing_keys, master, settings.api_key_cache_seconds)
        tenants = TenantStatuses(  # the workers' cache: one refresh period everywhere
            lambda ids: container.tenants.statuses(ids),
            settings.tenant_status_refresh_seconds,
        )
        auth = Authenticator(keys, tokens, executor, tenants)
        return cls(container, executor, auth, signing_keys, master, listener, redeemer, redis)

    async def close(self) -> None:
        """Stop the listener, close the Redis client, release the executor."""
        await self.listener.stop()
        await self.redis.aclose()
        self.executor.shutdown(wait=False, cancel_futures=True)


async def gateway_state(request: Request) -> GatewayState:
    """FastAPI dependency: the state the lifespan stored on the app (``async``, so FastAPI
    does not hop to a thread pool for it on every request)."""
    state: GatewayState = request.app.state.gateway
    return state
