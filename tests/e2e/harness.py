"""Drive real worker processes against the broker, MariaDB and Redis of the test session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from core.adapters.kafka.producer import EventProducer
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process see ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDEEMFLOW_")}
    env.update(
        {
            "REDEEMFLOW_DATABASE_URL": settings.database_url,
            "REDEEMFLOW_REDIS_URL": settings.redis_url,
            "REDEEMFLOW_REDIS_KEY_PREFIX": settings.redis_key_prefix,
            "REDEEMFLOW_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "REDEEMFLOW_TOPIC_PREFIX": settings.topic_prefix,
            "REDEEMFLOW_TOPIC_PARTITIONS": str(settings.topic_partitions),
            "REDEEMFLOW_CONSUMER_GROUP": settings.consumer_group,
            "REDEEMFLOW_REDEEM_BATCH_SIZE": str(settings.redeem_batch_size),
            "REDEEMFLOW_REDEEM_BATCH_WINDOW_SECONDS": str(settings.redeem_batch_window_seconds),
            "REDEEMFLOW_USER_FAILED_ATTEMPTS_PER_HOUR": str(settings.user_failed_attempts_per_hour),
            "REDEEMFLOW_DEVICE_FAILED_ATTEMPTS_PER_HOUR": str(
                settings.device_failed_attempts_per_hour
            ),
        }
    )
    return env


class WorkerProcess:
    """``redeemflow worker`` in a child process with its own process group."""

    def __init__(self, settings: Settings, log_dir: Path, name: str = "worker") -> None:
        self._settings = settings
        self._log = (log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log").open("wb")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        """Spawn the worker (web server off)."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "worker",
                "--web-port",
                "0",
                "--loglevel",
                "warning",
            ],
            cwd=ROOT,
            env=settings_env(self._settings),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL the worker (a crash)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not stop in time; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.process.returncode

    def log_text(self) -> str:
        """What the worker printed so far."""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")


def publish(settings: Settings, topic: str, messages: Iterable[tuple[bytes | str, bytes]]) -> int:
    """Produce (key, value) pairs to a contract topic and wait for delivery."""
    count = 0
    with EventProducer(settings) as producer:
        for key, value in messages:
            producer.produce(settings.topic(topic), key, value)
            count += 1
        producer.flush(60)
    return count


def consume_all(settings: Settings, topic: str, expected: int, timeout: float = 120.0) -> list:
    """Read a topic from the beginning until ``expected`` records arrived or time ran out."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"test-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    name = settings.topic(topic)
    partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
    consumer.assign([TopicPartition(name, p, 0) for p in partitions])
    records = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            batch = consumer.consume(1000, 0.5)
            records.extend(m for m in batch if m.error() is None)
        if len(records) >= expected:  # pick up any extra (duplicates) briefly
            records.extend(m for m in consumer.consume(1000, 1.0) if m.error() is None)
    finally:
        consumer.close()
    return records
