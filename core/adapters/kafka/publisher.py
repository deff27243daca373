"""The EventPublisher port on top of the confluent-kafka EventProducer."""

from __future__ import annotations

from collections.abc import Sequence

from core.adapters.kafka.producer import EventProducer, ProducedMessage
from core.ports import OutboundMessage


class KafkaPublisher:
    """Publishes a batch and returns once every message is acknowledged by all replicas."""

    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        """Deliver all messages or raise BrokerUnavailable / DeliveryFailed."""
        if not messages:
            return
        await self._producer.send_many(
            ProducedMessage(m.topic, m.key, m.value, list(m.headers) or None) for m in messages
        )
