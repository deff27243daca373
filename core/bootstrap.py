"""The one place that builds and wires redeemflow's objects from a ``Settings``.

Entry points (CLI, worker, gateway, tests) call ``bootstrap(settings)`` and take what they
need from the container; every connection is made lazily, on first use, never at import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio as aioredis
from sqlalchemy.engine import Engine

from core.adapters.mysql.engine import build_engine, build_hot_engine
from core.adapters.redis.keys import RedisKeys
from core.settings import Settings

if TYPE_CHECKING:
    from core.adapters.kafka.producer import EventProducer
    from core.backoffice.wiring import BackOffice


@dataclass
class Container:
    """Lazily built adapters sharing one settings object; ``close()`` releases them."""

    settings: Settings
    _closers: list[object] = field(default_factory=list, repr=False)

    @cached_property
    def engine(self) -> Engine:
        """The SQLAlchemy engine of the source-of-truth database."""
        engine = build_engine(self.settings)
        self._closers.append(engine)
        return engine

    @cached_property
    def hot_engine(self) -> Engine:
        """A second engine for the redemption hot path (multi-statement round trips)."""
        engine = build_hot_engine(self.settings)
        self._closers.append(engine)
        return engine

    @cached_property
    def keys(self) -> RedisKeys:
        """The Redis key layout of this deployment."""
        return RedisKeys(self.settings.redis_key_prefix)

    @cached_property
    def redis(self) -> redis.Redis:
        """A blocking Redis client, for CLI and bulk work run outside the event loop."""
        client = redis.Redis.from_url(self.settings.redis_url, **redis_options(self.settings))
        self._closers.append(client)
        return client

    def async_redis(self) -> aioredis.Redis:
        """A new asyncio Redis client bound to the calling event loop."""
        return aioredis.Redis.from_url(self.settings.redis_url, **redis_options(self.settings))

    @cached_property
    def producer(self) -> EventProducer:
        """The idempotent Kafka producer (flushed and closed by ``close()``)."""
        from core.adapters.kafka.producer import EventProducer

        producer = EventProducer(
            self.settings,
            linger_ms=self.settings.producer_linger_ms,
            message_timeout_ms=self.settings.producer_delivery_timeout_ms,
        )
        self._closers.append(producer)
        return producer

    @cached_property
    def backoffice(self) -> BackOffice:
        """The back office's services (operators, sessions, audit log, generation jobs)."""
        from core.backoffice.wiring import build_backoffice

        office = build_backoffice(self)
        self._closers.append(office)
        return office

    def close(self) -> None:
        """Flush and release everything built so far, newest first."""
        while self._closers:
            resource = self._closers.pop()
            if isinstance(resource, Engine):
                resource.dispose()
            else:
                closer = getattr(resource, "close", None)
                if callable(closer):
                    closer()

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def redis_options(settings: Settings) -> dict[str, Any]:
    """The options every Redis client is built with (blocking and asyncio alike): decoded
    replies, a health check, and connect/read timeouts so a hung Redis fails a call with a
    TimeoutError (a retryable CacheUnavailable at the adapters) instead of hanging it."""
    return {
        "decode_responses": True,
        "health_check_interval": 30,
        "socket_connect_timeout": settings.redis_connect_timeout_seconds,
        "socket_timeout": settings.redis_socket_timeout_seconds,
    }


def bootstrap(settings: Settings | None = None) -> Container:
    """Build the container for ``settings`` (read from the environment when omitted)."""
    from core.settings import load_settings

    return Container(settings or load_settings())
