"""The ``EventSink`` port (``core.service_ports``) on the idempotent Kafka producer."""

from __future__ import annotations

from core.adapters.kafka.producer import EventProducer


class ProducerSink:
    """Produces one message and flushes: returns once the broker has it (CLI-side)."""

    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Produce ``value`` under ``key`` and wait for delivery."""
        self._producer.produce(topic, key, value)
        self._producer.flush()
