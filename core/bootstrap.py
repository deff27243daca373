"""The one place that builds and wires redeemflow's objects from a ``Settings``.

Entry points (CLI, worker, gateway, tests) call ``bootstrap(settings)`` and take what they
need from the container; every connection is made lazily, on first use, never at import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from core.adapters.mysql.engine import build_bulk_engine, build_engine, build_hot_engine
from core.adapters.redis.client import AsyncRedisClient, SyncRedisClient, async_client, sync_client
from core.adapters.redis.keys import RedisKeys
from core.settings import Settings

if TYPE_CHECKING:
    from core.adapters.kafka.producer import EventProducer
    from core.backoffice.wiring import BackOffice
    from core.campaigns import Campaigns
    from core.compensation.service import Compensator
    from core.export.service import Exporter
    from core.generation import Generation
    from core.ports import EventPublisher
    from core.service_ports import AllocationPool, CodeCache, CodePorts, EventSink, Storage
    from core.tenants import TenantRegistry


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
    def bulk_engine(self) -> Engine:
        """An engine for bulk work (exports), on the C driver when it is installed."""
        engine = build_bulk_engine(self.settings)
        self._closers.append(engine)
        return engine

    @cached_property
    def keys(self) -> RedisKeys:
        """The Redis key layout of this deployment."""
        return RedisKeys(self.settings.redis_key_prefix)

    @cached_property
    def redis(self) -> SyncRedisClient:
        """A blocking Redis client (``RedisCluster`` for a cluster URL), for CLI and bulk
        work run outside the event loop."""
        client = sync_client(self.settings)
        self._closers.append(client)
        return client

    def async_redis(self) -> AsyncRedisClient:
        """A new asyncio Redis client (or cluster client) bound to the calling event loop."""
        return async_client(self.settings)

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

    # -- Service builders (docs/internals.md, "Service ports"): the domain services outside
    # redemption, each on the ports of core.service_ports, built from this container's
    # adapters on first use. Entry points take services from here; core never sees the
    # container.

    @cached_property
    def storage(self) -> Storage:
        """Units of work on the source-of-truth database (the ``Storage`` port)."""
        from core.adapters.mysql.storage import MySQLStorage

        return MySQLStorage(self.engine)

    @cached_property
    def bulk_storage(self) -> Storage:
        """Units of work on the bulk engine (exports)."""
        from core.adapters.mysql.storage import MySQLStorage

        return MySQLStorage(self.bulk_engine)

    @cached_property
    def code_cache(self) -> CodeCache:
        """The redemption cache as generation writes it (the ``CodeCache`` port)."""
        from core.adapters.redis.code_loader import CodeLoader

        return CodeLoader(self.redis, self.keys)

    @cached_property
    def code_pool(self) -> AllocationPool:
        """The allocation pool and cached code entries (the ``AllocationPool`` port)."""
        from core.adapters.redis.pool import CodePool

        return CodePool(self.redis, self.keys)

    @cached_property
    def code_ports(self) -> CodePorts:
        """Storage and pool together: what allocation and voiding take."""
        from core.service_ports import CodePorts

        return CodePorts(self.storage, self.code_pool, self.settings.code_protector)

    @cached_property
    def event_sink(self) -> EventSink:
        """Blocking single-event sends on the producer (the ``EventSink`` port)."""
        from core.adapters.kafka.sink import ProducerSink

        return ProducerSink(self.producer)

    @cached_property
    def generation(self) -> Generation:
        """Code generation: batches, resume, rollback, statistics."""
        from core.adapters.mysql.code_key_store import verify_code_keys
        from core.generation import Generation

        return Generation(self.storage, self.code_cache, self.settings.code_secret_for,
                          self.settings.code_protector, partial(verify_code_keys, self.engine))

    @cached_property
    def campaigns(self) -> Campaigns:
        """Campaign creation, reads and status changes."""
        from core.campaigns import Campaigns

        return Campaigns(self.storage, self.code_cache, self.generation)

    @cached_property
    def tenants(self) -> TenantRegistry:
        """The tenant registry and ``tenant.updated`` publishing."""
        from core.tenants import TenantRegistry
        from core.topics import Topic

        return TenantRegistry(self.storage, self.event_sink,
                              self.settings.topic(Topic.TENANT_UPDATED))

    @cached_property
    def exporter(self) -> Exporter:
        """The ports of code exports."""
        from core.export.service import Exporter

        return Exporter(self.storage, self.bulk_storage, self.code_pool,
                        self.settings.export_writer_thread, self.settings.code_protector)

    def compensator(self, publisher: EventPublisher | None = None) -> Compensator:
        """A Compensator over MySQL, Redis and (by default) the Kafka producer."""
        from core.adapters.kafka.publisher import KafkaPublisher
        from core.adapters.mysql.compensation_store import CompensationStore
        from core.adapters.mysql.redemption_store import RedemptionStore
        from core.compensation.claims import ClaimRecords
        from core.compensation.service import Compensator

        return Compensator(
            self.settings,
            CompensationStore(self.engine),
            RedemptionStore(self.engine),
            ClaimRecords(self.redis, self.keys),
            publisher or KafkaPublisher(self.producer),
        )

    # -- end of service builders

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



def bootstrap(settings: Settings | None = None) -> Container:
    """Build the container for ``settings`` (read from the environment when omitted)."""
    from core.settings import load_settings

    return Container(settings or load_settings())
