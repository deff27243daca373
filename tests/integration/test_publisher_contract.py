"""One contract for the EventPublisher port, run against the fake of the unit and service
tests (``tests.fakes.RecordingPublisher``) and the real adapter (``KafkaPublisher`` on the
session broker), so the fake cannot promise what the adapter does not do."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka import Consumer, TopicPartition

from core.adapters.kafka.admin import create_topics
from core.adapters.kafka.broker import find_free_port
from core.adapters.kafka.producer import EventProducer
from core.adapters.kafka.publisher import KafkaPublisher
from core.errors import BrokerUnavailable, RedeemflowError
from core.ports import EventPublisher, OutboundMessage
from core.settings import Settings
from core.topics import Topic
from producers.reader import read_topic
from tests.fakes import RecordingPublisher

pytestmark = pytest.mark.integration

#: (key, value, headers) of a message as a reader sees it.
Seen = tuple[bytes, bytes, list[tuple[str, bytes]]]


@dataclass
class Subject:
    """One implementation of the port, with what the contract needs around it."""

    publisher: EventPublisher
    topic: str
    read: Callable[[int], list[Seen]]
    """The first ``n`` messages on ``topic``, in order per key."""
    stored: Callable[[], int]
    """How many messages ``topic`` holds."""
    failing: Callable[[], EventPublisher]
    """A publisher whose next publish finds no broker."""


def _kafka_read(settings: Settings, count: int) -> list[Seen]:
    records = read_topic(
        settings, Topic.REWARD_GRANTS, done=lambda seen: len(seen) >= count, timeout=20
    )
    return [
        (m.key() or b"", m.value() or b"", [(k, v or b"") for k, v in m.headers() or []])
        for m in records
    ]


def _kafka_stored(settings: Settings, topic: str) -> int:
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": "contract-count"}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
        marks = [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5) for p in partitions
        ]
        return sum(high - low for low, high in marks)
    finally:
        consumer.close()


def _failing_fake() -> EventPublisher:
    fake = RecordingPublisher()
    fake.fail_next = 1
    return fake


@pytest.fixture(params=["fake", "kafka"])
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "fake":
        fake = RecordingPublisher()
        topic = "contract.topic"

        def read_fake(count: int) -> list[Seen]:
            return [(m.key, m.value, list(m.headers)) for m in fake.on(topic)][:count]

        yield Subject(fake, topic, read_fake, lambda: len(fake.on(topic)), _failing_fake)
        return
    settings: Settings = request.getfixturevalue("kafka_settings")
    create_topics(settings, partitions=2)
    producers = [EventProducer(settings)]
    topic = settings.topic(Topic.REWARD_GRANTS)

    def unreachable() -> EventPublisher:
        nowhere = Settings(kafka_bootstrap_servers=f"127.0.0.1:{find_free_port()}")
        producers.append(EventProducer(nowhere, message_timeout_ms=1500))
        return KafkaPublisher(producers[-1])

    try:
        yield Subject(
            KafkaPublisher(producers[0]),
            topic,
            lambda count: _kafka_read(settings, count),
            lambda: _kafka_stored(settings, topic),
            unreachable,
        )
    finally:
        for producer in producers:
            with contextlib.suppress(RedeemflowError):  # the unreachable ones fail to flush
                producer.close(timeout=5)


def _messages(topic: str, key: bytes, count: int, start: int = 0) -> list[OutboundMessage]:
    return [
        OutboundMessage(topic, key, f"{key.decode()}-{n}".encode(), [("n", str(n).encode())])
        for n in range(start, start + count)
    ]


def _of_key(seen: list[Seen], key: bytes) -> list[bytes]:
    return [value for k, value, _ in seen if k == key]


async def test_published_messages_are_all_there_with_headers_in_order_per_key(
    subject: Subject,
) -> None:
    batch = [*_messages(subject.topic, b"a", 3), *_messages(subject.topic, b"b", 2)]
    await subject.publisher.publish(batch)
    seen = subject.read(len(batch))
    assert sorted(seen) == sorted((m.key, m.value, m.headers) for m in batch)
    assert _of_key(seen, b"a") == [b"a-0", b"a-1", b"a-2"]
    assert _of_key(seen, b"b") == [b"b-0", b"b-1"]


async def test_publishing_nothing_is_a_no_op(subject: Subject) -> None:
    await subject.publisher.publish([])
    await (await subject.publisher.hand_over([]))
    [marker] = _messages(subject.topic, b"m", 1)
    await subject.publisher.publish([marker])
    assert subject.stored() == 1
    assert subject.read(1) == [(marker.key, marker.value, marker.headers)]


async def test_handed_over_batches_keep_their_order_and_are_there_once_awaited(
    subject: Subject,
) -> None:
    first = await subject.publisher.hand_over(_messages(subject.topic, b"k", 3))
    second = await subject.publisher.hand_over(_messages(subject.topic, b"k", 3, start=3))
    await asyncio.gather(second, first)
    assert _of_key(subject.read(6), b"k") == [f"k-{n}".encode() for n in range(6)]


async def test_no_broker_raises_broker_unavailable(subject: Subject) -> None:
    with pytest.raises(BrokerUnavailable):
        await subject.failing().publish(_messages(subject.topic, b"x", 1))
    with pytest.raises(BrokerUnavailable):
        await (await subject.failing().hand_over(_messages(subject.topic, b"x", 1)))
