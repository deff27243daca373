"""Publish a compensation job and wait for its report on ``compensation.results`` (ops side).

The watcher pins the current end of every results partition *before* the job is published,
so the report cannot slip by, and reads nothing older.
"""

from __future__ import annotations

import time
import uuid
from types import TracebackType

from confluent_kafka import Consumer, KafkaException, TopicPartition

from core.bootstrap import Container
from core.errors import BrokerUnavailable
from core.settings import Settings
from core.topics import Topic
from schemas.base import MessageDecodeError
from schemas.events import CompensationJob, CompensationReport


class ReportWatcher:
    """Reads ``compensation.results`` from its current end; use as a context manager."""

    def __init__(self, settings: Settings) -> None:
        self._topic = settings.topic(Topic.COMPENSATION_RESULTS)
        self._consumer = Consumer({
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"redeemflow-compensate-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        })

    def __enter__(self) -> ReportWatcher:
        try:
            metadata = self._consumer.list_topics(self._topic, timeout=10)
            assigned = []
            for partition in metadata.topics[self._topic].partitions:
                _, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self._topic, partition), timeout=10
                )
                assigned.append(TopicPartition(self._topic, partition, high))
            self._consumer.assign(assigned)
        except KafkaException as exc:
            self._consumer.close()
            raise BrokerUnavailable(f"reading {self._topic}: {exc}") from exc
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._consumer.close()

    def wait(self, job_id: str, timeout: float) -> CompensationReport | None:
        """The report of ``job_id``, or None when none arrived within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._consumer.poll(0.5)
            if message is None or message.error() or (message.key() or b"") != job_id.encode():
                continue
            try:
                return CompensationReport.from_bytes(message.value() or b"")
            except MessageDecodeError:
                continue
        return None


def publish_job(container: Container, job: CompensationJob) -> None:
    """Produce the job (key job_id) and wait until it is durable."""
    producer = container.producer
    producer.produce(
        container.settings.topic(Topic.COMPENSATION_JOBS), job.job_id, job.to_bytes()
    )
    producer.flush(30.0)
