"""Dead letters: list what an agent dead-lettered and re-publish chosen ones after a fix.

A dead letter keeps the original key and bytes, with the reason in headers (``error``,
``error_type``, ``error_field``, ``source_topic``...; see ``consumers/batching.py``). Replay
sends the original key and bytes, unchanged, to the original topic; consumers are
idempotent (request_id, job_id, campaign_id), so replaying twice is harmless.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from core.adapters.kafka.producer import EventProducer
from core.errors import BrokerUnavailable, InvalidMessage
from core.settings import Settings

PREVIEW_CHARS = 120
READ_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class DeadLetter:
    """One record of a ``<topic>.dlq``."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def ref(self) -> str:
        """``partition:offset``, how ``replay`` names it."""
        return f"{self.partition}:{self.offset}"

    @property
    def preview(self) -> str:
        """The start of the value, printable."""
        text = self.value.decode("utf-8", errors="replace")
        return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "..."

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly view."""
        return {"partition": self.partition, "offset": self.offset,
                "key": (self.key or b"").decode("utf-8", errors="replace"),
                "headers": self.headers, "preview": self.preview}


def read_dead_letters(settings: Settings, topic: str, limit: int | None = None) -> list[DeadLetter]:
    """Every record of ``<topic>.dlq`` present now (oldest first per partition).

    Reads past each partition's high watermark until the topic is idle for a second (some
    brokers, Tansu among them, report the watermark of a produced batch's first record).
    """
    name = settings.topic(topic) + ".dlq"
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers,
                         "group.id": f"redeemflow-dlq-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False})
    try:
        return _read(consumer, name, limit)
    except KafkaException as exc:
        raise BrokerUnavailable(f"reading {name}: {exc}") from exc
    finally:
        consumer.close()


def _read(consumer: Consumer, name: str, limit: int | None) -> list[DeadLetter]:
    metadata = consumer.list_topics(name, timeout=10)
    if name not in metadata.topics or metadata.topics[name].error is not None:
        raise InvalidMessage(f"no dead-letter topic {name}", field="topic")
    ends: dict[int, int] = {}
    starts = []
    for partition in metadata.topics[name].partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=10)
        if high > low:
            ends[partition] = high
            starts.append(TopicPartition(name, partition, low))
    found: list[DeadLetter] = []
    consumer.assign(starts)
    done: set[int] = set()
    deadline = time.monotonic() + READ_TIMEOUT_SECONDS
    while limit is None or len(found) < limit:
        if time.monotonic() > deadline:
            raise BrokerUnavailable(f"{name}: not every dead letter read in time")
        message = consumer.poll(1.0)
        if message is None:
            if len(done) == len(ends):  # past every high watermark and idle: the end
                break
            continue
        if message.error():
            continue
        partition, offset = message.partition() or 0, message.offset() or 0
        found.append(DeadLetter(partition, offset, message.key(), message.value() or b"",
                                _headers(message.headers())))
        if offset + 1 >= ends[partition]:
            done.add(partition)
    return sorted(found, key=lambda d: (d.partition, d.offset))[:limit]


def _headers(raw: Any) -> dict[str, str]:
    pairs: Iterable[tuple[str, Any]] = raw.items() if isinstance(raw, dict) else raw or []
    return {k: v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v or "")
            for k, v in pairs}


def select(letters: Sequence[DeadLetter], refs: Sequence[str]) -> list[DeadLetter]:
    """The dead letters named by ``partition:offset`` (or a bare offset when unambiguous)."""
    chosen = []
    for ref in refs:
        if ":" in ref:
            matches = [d for d in letters if d.ref == ref]
        else:
            matches = [d for d in letters if str(d.offset) == ref]
            if len(matches) > 1:
                raise InvalidMessage(f"offset {ref} is in several partitions: use P:{ref}",
                                     field="offset")
        if not matches:
            raise InvalidMessage(f"no dead letter at {ref}", field="offset")
        chosen.append(matches[0])
    return chosen


def original_topic(settings: Settings, topic: str, letter: DeadLetter) -> str:
    """Where a dead letter came from: its ``source_topic`` header, else ``<topic>``."""
    return letter.headers.get("source_topic") or settings.topic(topic)


def replay(settings: Settings, topic: str, letters: Sequence[DeadLetter]) -> int:
    """Re-publish the dead letters' original key and bytes to the original topic."""
    with EventProducer(settings, client_id="redeemflow-dlq-replay") as producer:
        for letter in letters:
            producer.produce(original_topic(settings, topic, letter), letter.key, letter.value)
        producer.flush(60.0)
    return len(letters)
