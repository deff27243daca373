"""Publishing redemption requests and reading their results (the upstream side)."""

from __future__ import annotations

import time

from core.bootstrap import Container
from core.settings import Settings
from core.streams import TopicReader
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


def wait_for_result(
    reader: TopicReader, settings: Settings, request_id: str, timeout: float
) -> RedeemResult | None:
    """Scan ``redeem.results`` from the start for the request's result (dev/ops tool)."""
    key = request_id.encode()
    with reader.from_start(settings.topic(Topic.REDEEM_RESULTS)) as stream:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in stream.poll(0.5):
                if record.key != key:
                    continue
                try:
                    return RedeemResult.from_bytes(record.value)
                except MessageDecodeError:
                    continue
    return None
