"""What the gateway's routes share for the life of the app (built in the lifespan)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from core.adapters.mysql.token_key_store import SigningKeyTable
from core.bootstrap import Container, build_gateway_services, readiness_probes
from core.health import Probe
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
    probes: dict[str, Probe]

    @classmethod
    def build(cls, container: Container) -> GatewayState:
        """Wire everything (clients connect lazily, on first use)."""
        settings = container.settings
        executor = ThreadPoolExecutor(8, thread_name_prefix="gateway-db")
        listener = ResultListener(settings)
        redis = container.async_redis()
        built = build_gateway_services(container, redis)
        redeemer = Redeemer(
            container.producer,
            listener,
            built.outcomes,
            executor,
            built.pending_marks,
            topic=settings.topic(Topic.REDEEM_REQUESTS),
            timeout=settings.gateway_result_timeout_seconds,
        )
        auth = Authenticator(built.api_keys, built.tokens, executor, built.tenants)
        return cls(container, executor, auth, built.signing_keys, built.token_master, listener,
                   redeemer, redis, readiness_probes(container, redis))

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
