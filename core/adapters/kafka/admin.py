"""Topic administration: create the contract's topics, idempotently.

Producers run with automatic topic creation off, so every deployment (and every test, with its
own ``topic_prefix``) calls :func:`create_topics` once before producing or consuming.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import Future

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ClusterMetadata, NewTopic, TopicMetadata

from core.adapters.kafka.producer import kafka_client_logger, translate_kafka_error
from core.errors import BrokerUnavailable, ConfigurationError, RedeemflowError
from core.settings import Settings
from core.topics import all_topic_names, partitions_for

__all__ = ["admin_client", "create_topics", "existing_topics", "topics_ready", "wait_for_topics"]

_LOG = logging.getLogger(__name__)

# A create request the broker refuses because of what we asked for, not because it is down.
_BAD_REQUEST_CODES = frozenset(
    {
        KafkaError.INVALID_PARTITIONS,
        KafkaError.INVALID_REPLICATION_FACTOR,
        KafkaError.INVALID_CONFIG,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError.POLICY_VIOLATION,
    }
)


def admin_client(settings: Settings) -> AdminClient:
    """A confluent AdminClient for the configured cluster (logs go to Python logging)."""
    return AdminClient(
        {"bootstrap.servers": settings.kafka_bootstrap_servers}, logger=kafka_client_logger()
    )


def create_topics(
    settings: Settings, partitions: int | None = None, *, timeout: float = 15.0
) -> list[str]:
    """Create every contract topic (dead-letter topics included) that does not exist yet.

    Names go through ``settings.topic`` (per-deployment prefix). The request path's topics
    get ``partitions`` (default ``settings.topic_partitions``), the others
    ``settings.control_topic_partitions`` (:data:`core.topics.DATA_TOPICS`). Existing topics
    are left alone, whatever their partition count. Returns the full names newly created,
    after they are visible in metadata.
    """
    data = partitions or settings.topic_partitions
    admin = admin_client(settings)
    existing = existing_topics(settings, timeout=timeout, admin=admin)
    by_count: dict[int, list[str]] = {}
    for name in all_topic_names():
        if settings.topic(name) not in existing:
            count = partitions_for(name, data, settings.control_topic_partitions)
            by_count.setdefault(count, []).append(settings.topic(name))
    created = []
    for count, missing in sorted(by_count.items()):
        made = _create(admin, missing, count, settings.topic_replication_factor, timeout)
        if made:
            _LOG.info("created %d topic(s) with %d partition(s): %s", len(made), count, made)
        created += made
    names = [settings.topic(n) for n in all_topic_names()]
    wait_for_topics(settings, names, timeout=timeout, admin=admin)
    return created


def existing_topics(
    settings: Settings, *, timeout: float = 10.0, admin: AdminClient | None = None
) -> set[str]:
    """The names of the topics that exist on the cluster now."""
    return set(_metadata(admin or admin_client(settings), timeout).topics)


def topics_ready(settings: Settings, wanted: Iterable[str], timeout: float) -> str:
    """Readiness of the broker: metadata answered and lists every ``wanted`` topic (blocking;
    BrokerUnavailable names the missing ones)."""
    missing = set(wanted) - existing_topics(settings, timeout=timeout)
    if missing:
        raise BrokerUnavailable(f"topics missing: {sorted(missing)}")
    return "metadata ok"


def wait_for_topics(
    settings: Settings,
    names: Iterable[str],
    *,
    timeout: float = 15.0,
    admin: AdminClient | None = None,
) -> None:
    """Block until every named topic is in metadata with a leader on each partition.

    Needed on multi-broker Kafka, where a freshly created topic takes a moment to propagate;
    on Tansu it returns at once. Raises BrokerUnavailable after ``timeout``.
    """
    client = admin or admin_client(settings)
    wanted = set(names)
    deadline = time.monotonic() + timeout
    while True:
        missing = _not_ready(_metadata(client, timeout), wanted)
        if not missing:
            return
        if time.monotonic() > deadline:
            raise BrokerUnavailable(f"topics not ready after {timeout}s: {sorted(missing)}")
        time.sleep(0.1)


def _create(
    admin: AdminClient, names: list[str], partitions: int, replication: int, timeout: float
) -> list[str]:
    """Issue one CreateTopics request; the names this call created (races tolerated)."""
    if not names:
        return []
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=replication) for n in names],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    return [name for name, future in futures.items() if _created(name, future, timeout)]


def _created(name: str, future: Future[None], timeout: float) -> bool:
    """Whether the topic was created by us (False when someone else created it first)."""
    try:
        future.result(timeout=timeout)
        return True
    except KafkaException as exc:
        error: KafkaError = exc.args[0]
        if error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise _translate(error, f"create topic {name}") from exc
    except TimeoutError as exc:
        raise BrokerUnavailable(f"create topic {name}: no answer in {timeout}s") from exc


def _metadata(admin: AdminClient, timeout: float) -> ClusterMetadata:
    """Cluster metadata, or BrokerUnavailable."""
    try:
        return admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise translate_kafka_error(exc.args[0], "list topics") from exc


def _not_ready(metadata: ClusterMetadata, wanted: set[str]) -> set[str]:
    """The wanted topics missing from metadata or with a partition lacking a leader."""
    return {name for name in wanted if not _topic_ready(metadata.topics.get(name))}


def _topic_ready(topic: TopicMetadata | None) -> bool:
    """Whether a topic exists without error and every partition has a leader."""
    if topic is None or topic.error is not None or not topic.partitions:
        return False
    return all(p.leader >= 0 for p in topic.partitions.values())


def _translate(error: KafkaError, context: str) -> RedeemflowError:
    """Admin flavour of :func:`translate_kafka_error`: bad topic specs are configuration."""
    if error.code() in _BAD_REQUEST_CODES:
        return ConfigurationError(f"{context}: {error.name()} ({error.str()})")
    return translate_kafka_error(error, context)
