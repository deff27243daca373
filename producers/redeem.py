"""Publishing redemption requests and reading their results (the upstream side)."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaException, TopicPartition

from core.bootstrap import Container
from core.errors import BrokerUnavailable
from core.settings import Settings
from core.topics import Topic
from schemas.base import MessageDecodeError
from schemas.events import RedeemRequested, RedeemResult


def publish_request(container: Container, request: RedeemRequested) -> None:
    """Produce one request keyed ``tenant_id:code`` and wait until it is durable."""
    producer = container.producer
    producer.produce(
        container.settings.topic(Topic.REDEEM_REQUESTS), request.kafka_key(), request.to_bytes()
    )
    producer.flush(30.0)


def wait_for_result(settings: Settings, request_id: str, timeout: float) -> RedeemResult | None:
    """Scan ``redeem.results`` from the start for the request's result (dev/ops tool)."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"redeemflow-cli-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    topic = settings.topic(Topic.REDEEM_RESULTS)
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            if (message.key() or b"").decode() != request_id:
                continue
            try:
                return RedeemResult.from_bytes(message.value() or b"")
            except MessageDecodeError:
                continue
        return None
    except KafkaException as exc:
        raise BrokerUnavailable(f"reading results: {exc}") from exc
    finally:
        consumer.close()
