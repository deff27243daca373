"""Read every partition of one topic from here: the one such reader of redeemflow.

A consumer with a throw-away group id is assigned every partition by hand (no group
membership, nothing committed), either at the beginning or pinned at the current end. Ops
tools (dead letters, compensation reports, request results), the demo, the tests and the
gateway's results listener all read this way; ``KafkaTopicReader`` offers it as the
``core.streams.TopicReader`` port. ``consumer_lag`` reads a group's committed offsets.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, Self

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from core.adapters.kafka.producer import kafka_client_logger
from core.errors import BrokerUnavailable, NotFound
from core.settings import Settings
from core.streams import InboundRecord

__all__ = ["KafkaTopicReader", "PartitionReader", "consumer_lag", "to_record"]

Start = Literal["beginning", "end"]

#: How long a snapshot may take before it gives up (BrokerUnavailable).
SNAPSHOT_TIMEOUT_SECONDS = 60.0
_METADATA_TIMEOUT = 10.0


class PartitionReader:
    """Every partition of ``topic``, assigned at its beginning or at its current end.

    Use as a context manager (assigns on entry, closes on exit). Broker failures raise
    BrokerUnavailable, a topic that does not exist NotFound.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        start: Start = "beginning",
        name: str = "reader",
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self._start = start
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"redeemflow-{name}-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "logger": kafka_client_logger(),
            **(config or {}),
        })
        self.ends: dict[int, int] = {}
        """High watermark of each partition when assigned (``start="end"`` only)."""

    def __enter__(self) -> Self:
        try:
            self._assign()
        except BaseException:
            self._consumer.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._consumer.close()

    def partitions(self) -> list[int]:
        """The topic's partition ids (NotFound when the topic does not exist)."""
        try:
            meta = self._consumer.list_topics(self.topic, timeout=_METADATA_TIMEOUT)
        except KafkaException as exc:
            raise BrokerUnavailable(f"reading {self.topic}: {exc}") from exc
        found = meta.topics.get(self.topic)
        if found is None or found.error is not None or not found.partitions:
            raise NotFound(f"no topic {self.topic}")
        return sorted(found.partitions)

    def watermarks(self, partition: int) -> tuple[int, int]:
        """(low, high) offsets of one partition now."""
        try:
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=_METADATA_TIMEOUT)
        except KafkaException as exc:
            raise BrokerUnavailable(f"reading {self.topic}: {exc}") from exc
        return int(low), int(high)

    def _assign(self) -> None:
        assignment = []
        for partition in self.partitions():
            offset = OFFSET_BEGINNING
            if self._start == "end":
                offset = self.ends[partition] = self.watermarks(partition)[1]
            assignment.append(TopicPartition(self.topic, partition, offset))
        self._consumer.assign(assignment)

    def poll(self, timeout: float, most: int = 1000) -> list[Message]:
        """What has arrived: waits up to ``timeout`` for the first record, then takes what is
        there without waiting (``consume(n, t)`` alone would hold a record until n arrived or
        t passed). Non-fatal record errors are skipped; a fatal one raises BrokerUnavailable."""
        try:
            first = self._consumer.poll(timeout)
            if first is None:
                return []
            batch = [first, *self._consumer.consume(most - 1, 0)]
        except KafkaException as exc:
            raise BrokerUnavailable(f"reading {self.topic}: {exc}") from exc
        for message in batch:
            error = message.error()
            if error is not None and error.fatal():
                raise BrokerUnavailable(f"reading {self.topic}: {error}")
        return [m for m in batch if m.error() is None]

    def records(self, timeout: float) -> list[InboundRecord]:
        """:meth:`poll` as ``InboundRecord`` values (the ``core.streams.RecordStream`` port)."""
        return [to_record(m) for m in self.poll(timeout)]


def to_record(message: Message) -> InboundRecord:
    """A confluent message as the domain's ``InboundRecord``."""
    return InboundRecord(
        message.topic() or "", message.partition() or 0, message.offset() or 0,
        message.key(), message.value() or b"", tuple(_header_pairs(message.headers())),
    )


def _header_pairs(raw: Any) -> Iterable[tuple[str, bytes | None]]:
    pairs: Iterable[tuple[str, Any]] = raw.items() if isinstance(raw, dict) else raw or []
    for key, value in pairs:
        yield key, value if value is None or isinstance(value, bytes) else str(value).encode()


class _Stream:
    """A ``RecordStream`` over an entered PartitionReader."""

    def __init__(self, reader: PartitionReader) -> None:
        self._reader = reader

    def poll(self, timeout: float) -> list[InboundRecord]:
        return self._reader.records(timeout)


class KafkaTopicReader:
    """The ``core.streams.TopicReader`` port on the configured cluster."""

    def __init__(self, settings: Settings, *, name: str = "reader") -> None:
        self._servers = settings.kafka_bootstrap_servers
        self._name = name

    def snapshot(self, topic: str, limit: int | None = None) -> list[InboundRecord]:
        """Every record present now. Reads past each partition's high watermark until the
        topic is idle for a second (some brokers, Tansu among them, report the watermark of
        a produced batch's first record)."""
        with PartitionReader(self._servers, topic, name=self._name) as reader:
            ends = {p: high for p in reader.partitions()
                    for low, high in [reader.watermarks(p)] if high > low}
            found: list[InboundRecord] = []
            done: set[int] = set()
            deadline = time.monotonic() + SNAPSHOT_TIMEOUT_SECONDS
            while limit is None or len(found) < limit:
                if time.monotonic() > deadline:
                    raise BrokerUnavailable(f"{topic}: not every record read in time")
                arrived = reader.records(1.0)
                if not arrived and len(done) == len(ends):  # past every end and idle
                    break
                for record in arrived:
                    found.append(record)
                    if record.offset + 1 >= ends.get(record.partition, 0):
                        done.add(record.partition)
        return sorted(found, key=lambda r: (r.partition, r.offset))[:limit]

    @contextmanager
    def tail(self, topic: str) -> Iterator[_Stream]:
        """What arrives from now on."""
        with PartitionReader(self._servers, topic, start="end", name=self._name) as reader:
            yield _Stream(reader)

    @contextmanager
    def from_start(self, topic: str) -> Iterator[_Stream]:
        """The topic from its first record on."""
        with PartitionReader(self._servers, topic, name=self._name) as reader:
            yield _Stream(reader)


def consumer_lag(
    bootstrap_servers: str, group: str, topics: Iterable[str], timeout: float = 5.0
) -> dict[str, int]:
    """Messages not yet committed by ``group``, summed per topic (blocking; the group is not
    joined). A partition the group never committed counts from its low watermark; a topic
    that does not exist is left out. Raises BrokerUnavailable when the broker does not answer.
    """
    consumer = Consumer({
        "bootstrap.servers": bootstrap_servers,
        "group.id": group,
        "client.id": f"redeemflow-lag-{uuid.uuid4().hex[:6]}",
        "enable.auto.commit": False,
        "logger": kafka_client_logger(),
    })
    try:
        lag: dict[str, int] = {}
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
            if meta is None or meta.error is not None:
                continue
            parts = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
            total = 0
            for tp in consumer.committed(parts, timeout=timeout):
                low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
                total += max(0, high - (tp.offset if tp.offset >= 0 else low))
            lag[topic] = total
        return lag
    except KafkaException as exc:
        raise BrokerUnavailable(f"reading lag of {group}: {exc}") from exc
    finally:
        consumer.close()
