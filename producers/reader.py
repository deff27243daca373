"""Read a contract topic from its beginning (ops tools, the demo, tests)."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import Message

from core.adapters.kafka.reader import PartitionReader
from core.settings import Settings


def read_topic(
    settings: Settings,
    topic: str,
    *,
    done: Callable[[list[Message]], bool],
    timeout: float,
    linger: float = 0.0,
) -> list[Message]:
    """Every record of ``settings.topic(topic)`` from its beginning until ``done(records)``
    holds or ``timeout`` passes; then keeps reading ``linger`` seconds more (late duplicates)."""
    records: list[Message] = []
    name = settings.topic(topic)
    with PartitionReader(settings.kafka_bootstrap_servers, name) as reader:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done(records):
            records.extend(reader.poll(0.2))
        end = time.monotonic() + linger
        while time.monotonic() < end:
            records.extend(reader.poll(0.2))
    return records
