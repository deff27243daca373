"""Operational probes: readiness of the three backing services, and consumer-group lag.

Each readiness check runs under its own short timeout (``readiness_timeout_seconds``) and
blocking ones run on a small dedicated thread pool, so a hung service never blocks the event
loop or starves the default executor. Lag is read from the broker (committed offsets of a
group versus high watermarks) without joining the group, so it works on any Kafka-compatible
broker that answers OffsetFetch, Tansu included, and from any process.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from core.adapters.kafka.admin import existing_topics
from core.adapters.redis.client import redis_ready
from core.bootstrap import Container
from core.errors import BrokerUnavailable
from core.topics import Topic

_PROBES = ThreadPoolExecutor(4, thread_name_prefix="redeemflow-probe")


@dataclass(frozen=True)
class CheckResult:
    """One dependency's probe: ok or not, why, and how long it took."""

    ok: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class Readiness:
    """Every check of a readiness probe; ready when all passed."""

    checks: dict[str, CheckResult] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        """Whether every dependency answered in time."""
        return all(c.ok for c in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"ready": bool, "checks": {name: {...}}}``."""
        return {
            "ready": self.ready,
            "checks": {
                name: {"ok": c.ok, "detail": c.detail, "seconds": round(c.seconds, 4)}
                for name, c in self.checks.items()
            },
        }


async def _timed(probe: Callable[[], Awaitable[str]], timeout: float) -> CheckResult:
    started = time.monotonic()
    try:
        detail = await asyncio.wait_for(probe(), timeout)
        return CheckResult(True, detail, time.monotonic() - started)
    except TimeoutError:
        return CheckResult(False, f"no answer within {timeout}s", time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - any failure is "not ready", with its reason
        return CheckResult(False, f"{type(exc).__name__}: {exc}"[:300], time.monotonic() - started)


async def _off_loop(func: Callable[[], str]) -> str:
    return await asyncio.get_running_loop().run_in_executor(_PROBES, func)


def _kafka_probe(container: Container, timeout: float) -> Callable[[], Awaitable[str]]:
    settings = container.settings
    wanted = {settings.topic(Topic.REDEEM_REQUESTS), settings.topic(Topic.REDEEM_RESULTS)}

    def probe() -> str:
        missing = wanted - existing_topics(settings, timeout=timeout)
        if missing:
            raise BrokerUnavailable(f"topics missing: {sorted(missing)}")
        return "metadata ok"

    return lambda: _off_loop(probe)


def _mysql_probe(container: Container) -> Callable[[], Awaitable[str]]:
    def probe() -> str:
        with container.engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar_one()
        return "SELECT 1 ok"

    return lambda: _off_loop(probe)


def _redis_probe(client: Any) -> Callable[[], Awaitable[str]]:
    async def probe() -> str:
        return await redis_ready(client)

    return probe


async def check_readiness(container: Container, redis_client: Any) -> Readiness:
    """Probe Kafka (metadata + contract topics), MySQL (``SELECT 1``) and Redis (PING; on a
    cluster, PING of every node and ``cluster_state:ok``)."""
    timeout = container.settings.readiness_timeout_seconds
    probes = {
        "kafka": _kafka_probe(container, timeout),
        "mysql": _mysql_probe(container),
        "redis": _redis_probe(redis_client),
    }
    results = await asyncio.gather(*(_timed(p, timeout) for p in probes.values()))
    return Readiness(dict(zip(probes, results, strict=True)))


def consumer_lag(
    bootstrap_servers: str, group: str, topics: Iterable[str], timeout: float = 5.0
) -> dict[str, int]:
    """Messages not yet committed by ``group``, summed per topic (blocking).

    A partition the group never committed counts from its low watermark. Raises
    BrokerUnavailable when the broker does not answer.
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group,
            "client.id": f"redeemflow-lag-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
        }
    )
    try:
        lag: dict[str, int] = {}
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
            if meta is None or meta.error is not None:
                continue
            parts = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
            committed = consumer.committed(parts, timeout=timeout)
            total = 0
            for tp in committed:
                low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
                total += max(0, high - (tp.offset if tp.offset >= 0 else low))
            lag[topic] = total
        return lag
    except KafkaException as exc:
        raise BrokerUnavailable(f"reading lag of {group}: {exc}") from exc
    finally:
        consumer.close()


__all__ = ["CheckResult", "Readiness", "check_readiness", "consumer_lag"]
