"""Read a contract topic from its beginning (ops tools, the demo, tests)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from core.errors import BrokerUnavailable
from core.settings import Settings


def read_topic(
    settings: Settings,
    topic: str,
    *,
    done: Callable[[list[Message]], bool],
    timeout: float,
    linger: float = 0.0,
) -> list[Message]:
    """Every record of ``settings.topic(topic)`` from offset 0 until ``done(records)`` holds
    or ``timeout`` passes; then keeps reading ``linger`` seconds more (late duplicates)."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"redeemflow-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    name = settings.topic(topic)
    records: list[Message] = []
    try:
        partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
        consumer.assign([TopicPartition(name, p, 0) for p in partitions])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done(records):
            records.extend(_next_records(consumer))
        end = time.monotonic() + linger
        while time.monotonic() < end:
            records.extend(_next_records(consumer))
    except KafkaException as exc:
        raise BrokerUnavailable(f"reading {name}: {exc}") from exc
    finally:
        consumer.close()
    return records


def _next_records(consumer: Consumer) -> list[Message]:
    """What has arrived: waits up to 0.2 s for the first record, then takes what is there
    (``consume(n, t)`` alone would hold a record until n arrived or t passed)."""
    first = consumer.poll(0.2)
    if first is None:
        return []
    batch = [first, *consumer.consume(1000, 0)]
    return [m for m in batch if m.error() is None]
