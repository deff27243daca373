"""The one place that builds and wires redeemflow's objects from a ``Settings``.

Entry points (CLI, worker, gateway, tests) call ``bootstrap(settings)`` and take what they
need from the container; every connection is made lazily, on first use, never at import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from core.adapters.mysql.engine import build_bulk_engine, build_engine, build_hot_engine
from core.adapters.redis.client import AsyncRedisClient, SyncRedisClient, async_client, sync_client
from core.adapters.redis.keys import RedisKeys
from core.settings import Settings

if TYPE_CHECKING:
    from core.adapters.kafka.producer import EventProducer
    from core.adapters.kafka.publisher import KafkaPublisher
    from core.adapters.kafka.reader import KafkaTopicReader
    from core.adapters.mysql.apikey_store import ApiKeyStore, OutcomeReader
    from core.adapters.mysql.redemption_store import RedemptionStore
    from core.adapters.mysql.token_key_store import SigningKeyTable
    from core.adapters.redis.claims import ClaimCache
    from core.adapters.redis.pending_marks import PendingMarks
    from core.apikeys import ApiKeyResolver
    from core.backoffice.wiring import BackOffice
    from core.cache_rebuild import CacheRebuild
    from core.campaigns import Campaigns
    from core.compensation.service import Compensator
    from core.export.service import Exporter
    from core.generation import Generation
    from core.health import Probe
    from core.ports import EventPublisher
    from core.redemption.service import RedemptionService
    from core.redemption.tenant_status import TenantStatuses
    from core.service_ports import AllocationPool, CodeCache, CodePorts, EventSink, Storage
    from core.tenants import TenantRegistry
    from core.tokens import TokenVerifier


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
        """An engine for bulk work (exports, generation's loads), on the C driver when it
        is installed."""
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

    # -- the broker's ports (plumbing): one of each per container -------------------------

    @cached_property
    def publisher(self) -> KafkaPublisher:
        """The ``EventPublisher`` port on the container's producer (agents, services)."""
        from core.adapters.kafka.publisher import KafkaPublisher

        return KafkaPublisher(self.producer)

    @cached_property
    def topic_reader(self) -> KafkaTopicReader:
        """The ``TopicReader`` port (dead letters, compensation reports, results)."""
        return topic_reader(self.settings)

    @cached_property
    def api_key_store(self) -> ApiKeyStore:
        """The gateway's API keys (hashes only) in MySQL: the CLI and the gateway."""
        from core.adapters.mysql.apikey_store import ApiKeyStore

        return ApiKeyStore(self.engine)

    @cached_property
    def signing_keys(self) -> SigningKeyTable:
        """The tenants' token signing key ids in MySQL: the CLI and the gateway."""
        from core.adapters.mysql.token_key_store import SigningKeyTable

        return SigningKeyTable(self.engine)

    @cached_property
    def backoffice(self) -> BackOffice:
        """The back office's services (operators, sessions, audit log, generation jobs)."""
        office = self.build_backoffice()
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
        """Units of work on the bulk engine (exports, generation)."""
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

        return Generation(self.bulk_storage, self.code_cache, self.settings.code_secret_for,
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
        from core.adapters.mysql.compensation_store import CompensationStore
        from core.adapters.mysql.redemption_store import RedemptionStore
        from core.adapters.redis.claim_records import ClaimRecords
        from core.compensation.service import Compensator

        return Compensator(
            self.settings,
            CompensationStore(self.engine),
            RedemptionStore(self.engine),
            ClaimRecords(self.redis, self.keys),
            publisher or self.publisher,
        )

    def build_backoffice(self) -> BackOffice:
        """The back office over MySQL: operators, sessions, audit, generation jobs, and the
        services its pages call."""
        from core.adapters.mysql.audit_store import MySQLAuditStore
        from core.adapters.mysql.backoffice_views import MySQLBackOfficeViews
        from core.adapters.mysql.operator_store import MySQLOperatorStore
        from core.adapters.mysql.session_store import MySQLSessionStore
        from core.backoffice.audit import Audit
        from core.backoffice.counts import CountsCache
        from core.backoffice.jobs import GenerationJobs
        from core.backoffice.operators import Operators
        from core.backoffice.ports import BackOfficeServices
        from core.backoffice.sessions import Sessions
        from core.backoffice.wiring import BackOffice

        operator_store = MySQLOperatorStore(self.engine)
        session_store = MySQLSessionStore(self.engine)
        audit = Audit(MySQLAuditStore(self.engine))
        counts = CountsCache(self.settings.admin_counts_cache_seconds)
        services = BackOfficeServices(
            self.storage, MySQLBackOfficeViews(self.engine), self.campaigns, self.generation,
            self.exporter, self.code_ports, self.settings, self.compensator,
            self.cache_rebuild.mismatches, self.topic_reader, self.event_sink)
        return BackOffice(
            operator_store=operator_store,
            operators=Operators(operator_store, session_store, audit, self.settings),
            sessions=Sessions(session_store, operator_store, self.settings),
            audit=audit,
            jobs=GenerationJobs(services, audit, counts),
            counts=counts,
            services=services,
        )

    @cached_property
    def cache_rebuild(self) -> CacheRebuild:
        """Rebuilding the Redis cache from MySQL, and comparing the two."""
        from core.adapters.mysql.rebuild_source import MySQLRebuildSource
        from core.adapters.redis.cache_rebuild import RedisCacheImage
        from core.adapters.redis.claim_records import ClaimRecords
        from core.cache_rebuild import CacheRebuild

        return CacheRebuild(MySQLRebuildSource(self.engine),
                            RedisCacheImage(self.redis, self.keys),
                            ClaimRecords(self.redis, self.keys))

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


# -- builders of the running services: the worker, the gateway, compensation, the tests ------


def topic_reader(settings: Settings) -> KafkaTopicReader:
    """The ``TopicReader`` port on the configured cluster (no connection made here)."""
    from core.adapters.kafka.reader import KafkaTopicReader

    return KafkaTopicReader(settings)


def lag_reader(settings: Settings, group: str) -> Callable[[Iterable[str]], dict[str, int]]:
    """What the worker's lag sampler reads: ``group``'s uncommitted messages per topic."""
    from core.adapters.kafka.reader import consumer_lag

    return partial(consumer_lag, settings.kafka_bootstrap_servers, group)


def build_claim_cache(container: Container) -> ClaimCache:
    """The Redis claim cache of the redemption hot path, on a new asyncio client."""
    from core.adapters.redis.claims import ClaimCache

    return ClaimCache(container.async_redis(), container.keys, container.settings)


def build_redemption_service(
    container: Container,
    publisher: EventPublisher | None = None,
    *,
    store: RedemptionStore | None = None,
) -> RedemptionService:
    """The redemption service over ``store`` (MySQL on the hot engine by default), the claim
    cache and ``publisher`` (the container's Kafka publisher by default)."""
    from core.adapters.mysql.redemption_store import RedemptionStore
    from core.redemption.service import RedemptionService

    return RedemptionService(container.settings, store or RedemptionStore(container.hot_engine),
                             build_claim_cache(container), publisher or container.publisher)


def readiness_probes(container: Container, redis_client: Any) -> dict[str, Probe]:
    """The readiness checks of a running process: Kafka (contract topics in metadata),
    MySQL (``SELECT 1``) and Redis (PING; every node on a cluster) on ``redis_client``."""
    from core.adapters.kafka.admin import topics_ready
    from core.adapters.mysql.engine import ping
    from core.adapters.redis.client import redis_ready
    from core.health import off_loop
    from core.topics import Topic

    settings = container.settings
    wanted = [settings.topic(Topic.REDEEM_REQUESTS), settings.topic(Topic.REDEEM_RESULTS)]
    timeout = settings.readiness_timeout_seconds
    return {
        "kafka": off_loop(lambda: topics_ready(settings, wanted, timeout)),
        "mysql": off_loop(lambda: ping(container.engine)),
        "redis": lambda: redis_ready(redis_client),
    }


@dataclass(frozen=True)
class GatewayServices:
    """What a gateway process needs from core and the adapters (its routes wire the rest)."""

    api_keys: ApiKeyResolver
    tokens: TokenVerifier
    signing_keys: SigningKeyTable
    token_master: bytes
    tenants: TenantStatuses
    outcomes: OutcomeReader
    pending_marks: PendingMarks


def build_gateway_services(container: Container, redis_client: Any) -> GatewayServices:
    """The gateway's API-key and token checks, tenant statuses (the workers' cache: one
    refresh period everywhere), recorded outcomes and pending marks on ``redis_client``."""
    from core.adapters.mysql.apikey_store import OutcomeReader
    from core.adapters.redis.pending_marks import PendingMarks
    from core.apikeys import ApiKeyResolver
    from core.redemption.tenant_status import TenantStatuses
    from core.tokens import TokenVerifier

    settings = container.settings
    signing_keys = container.signing_keys
    master = settings.token_master_secret.get_secret_value().encode()
    return GatewayServices(
        ApiKeyResolver(container.api_key_store, settings.api_key_cache_seconds),
        TokenVerifier(signing_keys, master, settings.api_key_cache_seconds),
        signing_keys,
        master,
        TenantStatuses(lambda ids: container.tenants.statuses(ids),
                       settings.tenant_status_refresh_seconds),
        OutcomeReader(container.engine),
        PendingMarks(redis_client, container.keys),
    )
