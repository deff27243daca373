"""The EventPublisher port on top of the confluent-kafka EventProducer."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from core.adapters.kafka.producer import EventProducer, ProducedMessage
from core.ports import OutboundMessage


class KafkaPublisher:
    """Publishes a batch and returns once every message is acknowledged by all replicas.

    Messages ordered by key go where their key hashes to. The others of one call (results,
    one per request) share one partition, a different one each call: a batch of results
    is then one record batch instead of one per partition, so the broker stores, and every
    reader lists, a few large batches instead of many single-record ones (on the embedded
    broker a fetch lists every batch stored in the partition; docs/performance.md).
    """

    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer
        self._calls: dict[str, int] = {}

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        """Deliver all messages or raise BrokerUnavailable / DeliveryFailed."""
        await (await self.hand_over(messages))

    async def hand_over(self, messages: Sequence[OutboundMessage]) -> Awaitable[object]:
        """Enqueue all messages in order; the result resolves once all are acknowledged."""
        partitions = await self._shared_partitions(messages)
        return await self._producer.enqueue_many(
            ProducedMessage(
                m.topic,
                m.key,
                m.value,
                list(m.headers) or None,
                None if m.ordered_by_key else partitions.get(m.topic),
            )
            for m in messages
        )

    async def _shared_partitions(self, messages: Sequence[OutboundMessage]) -> dict[str, int]:
        """For each topic with unordered messages here: the partition they share this call."""
        chosen: dict[str, int] = {}
        for topic in {m.topic for m in messages if not m.ordered_by_key}:
            count = await self._producer.partition_count(topic)
            if count:
                call = self._calls.get(topic, 0)
                self._calls[topic] = call + 1
                chosen[topic] = call % count
        return chosen
