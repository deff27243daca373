"""Ports for the ops side of the broker: read what a topic holds.

The worker's pipeline publishes through ``core.ports.EventPublisher`` (async, batched) and
ops tools send events through ``core.service_ports.EventSink`` (blocking). Ops tools (dead
letters, compensation reports, request results) read a topic outside any consumer group:
this port says what they need, and ``core.adapters.kafka.reader`` implements it on Kafka.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One record read from a topic: where it stands, its key, bytes and headers."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes | None], ...] = ()


class RecordStream(Protocol):
    """An open reader of every partition of one topic."""

    def poll(self, timeout: float) -> list[InboundRecord]:
        """What has arrived: waits up to ``timeout`` seconds for the first record."""
        ...


class TopicReader(Protocol):
    """Reads whole topics (full names) without joining a consumer group or committing."""

    def snapshot(self, topic: str, limit: int | None = None) -> list[InboundRecord]:
        """Every record of ``topic`` present now (at most ``limit``), by partition then
        offset. Raises NotFound when the topic does not exist, BrokerUnavailable when the
        broker does not answer or the records are not all read in time."""
        ...

    def tail(self, topic: str) -> AbstractContextManager[RecordStream]:
        """A stream of what arrives on ``topic`` from now on (every partition pinned at its
        current end on entry, so nothing produced after entry slips by)."""
        ...

    def from_start(self, topic: str) -> AbstractContextManager[RecordStream]:
        """A stream of ``topic`` from its first record on."""
        ...
