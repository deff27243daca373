"""Topic admin, the idempotent producer and the faust app factory against a real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import faust
import pytest
from confluent_kafka import Message

from consumers.app import create_faust_app
from core.adapters.kafka.admin import admin_client, create_topics, existing_topics
from core.adapters.kafka.broker import find_free_port
from core.adapters.kafka.producer import EventProducer, ProducedMessage
from core.adapters.kafka.publisher import KafkaPublisher
from core.adapters.kafka.reader import PartitionReader
from core.errors import BrokerUnavailable, DeliveryFailed
from core.ports import OutboundMessage
from core.settings import Settings
from core.topics import DATA_TOPICS, Topic, all_topic_names

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(kafka_settings: Settings) -> Settings:
    """Settings on the session broker with this test's topic prefix."""
    return kafka_settings


@pytest.fixture
def topics(settings: Settings) -> Settings:
    """Settings whose contract topics exist (2 partitions each)."""
    create_topics(settings, partitions=2)
    return settings


@pytest.fixture
def producer(settings: Settings) -> Iterator[EventProducer]:
    """A producer closed (and flushed) after the test."""
    producer = EventProducer(settings)
    yield producer
    producer.close()


def read_all(settings: Settings, topic: str, count: int, timeout: float = 15.0) -> list[Message]:
    """Read ``count`` messages from every partition of ``topic`` (no group join needed)."""
    messages: list[Message] = []
    with PartitionReader(settings.kafka_bootstrap_servers, topic) as reader:
        deadline = time.monotonic() + timeout
        while len(messages) < count and time.monotonic() < deadline:
            messages.extend(reader.poll(0.2))
    return messages


def test_create_topics_is_idempotent(settings: Settings) -> None:
    expected = {settings.topic(name) for name in all_topic_names()}

    first = create_topics(settings, partitions=3)
    second = create_topics(settings, partitions=3)

    assert set(first) == expected
    assert second == []
    metadata = admin_client(settings).list_topics(timeout=5)
    counts = {name: len(metadata.topics[name].partitions) for name in expected}
    data = {settings.topic(name) for name in DATA_TOPICS}
    assert data and data < expected
    assert {counts[name] for name in data} == {3}, "the request path: as asked"
    assert {counts[name] for name in expected - data} == {settings.control_topic_partitions}


def test_producer_delivers_keys_values_and_headers(
    topics: Settings, producer: EventProducer
) -> None:
    topic = topics.topic(Topic.REDEEM_REQUESTS)
    for i in range(10):
        key: bytes | str = f"tenant:{i}" if i % 2 else f"tenant:{i}".encode()
        producer.produce(topic, key, b'{"n":%d}' % i, headers={"trace": f"t{i}".encode()})
    producer.flush(10)

    messages = read_all(topics, topic, 10)

    got = {m.key(): (m.value(), m.headers()) for m in messages}
    assert got == {
        f"tenant:{i}".encode(): (b'{"n":%d}' % i, [("trace", f"t{i}".encode())]) for i in range(10)
    }


async def test_send_many_awaits_durable_delivery(topics: Settings, producer: EventProducer) -> None:
    topic = topics.topic(Topic.REDEEM_RESULTS)
    batch = [ProducedMessage(topic, f"r{i}", b"v%d" % i, [("h", b"1")]) for i in range(50)]

    reports = await producer.send_many(batch)
    single = await producer.produce_and_wait(topic, "last", b"end")

    assert len(reports) == 50 and all(r.topic == topic and r.offset >= 0 for r in reports)
    assert single.topic == topic
    assert len(read_all(topics, topic, 51)) == 51


async def test_send_many_waits_for_room_when_the_local_queue_is_full(topics: Settings) -> None:
    topic = topics.topic(Topic.REDEEM_RESULTS)
    small = EventProducer(topics, extra_config={"queue.buffering.max.messages": 5})
    try:
        batch = [ProducedMessage(topic, f"q{i}", b"v%d" % i) for i in range(60)]
        reports = await small.send_many(batch)
    finally:
        small.close()
    assert len(reports) == 60 and all(r.offset >= 0 for r in reports)
    assert len(read_all(topics, topic, 60)) == 60


def test_unknown_topic_fails_on_flush_and_is_not_created(topics: Settings) -> None:
    missing = topics.topic("no.such.topic")
    with EventProducer(topics, unknown_topic_timeout_ms=1000) as producer:
        producer.produce(missing, "k", b"v")
        with pytest.raises(DeliveryFailed, match="UNKNOWN_TOPIC"):
            producer.flush(10)
        producer.flush(1)  # failures are reported once, then forgotten
    assert missing not in existing_topics(topics)


async def test_unknown_topic_fails_send_many(topics: Settings) -> None:
    missing = topics.topic("no.such.topic")
    good = ProducedMessage(topics.topic(Topic.REWARD_GRANTS), "k", b"v")
    async with EventProducer(topics, unknown_topic_timeout_ms=1000) as producer:
        with pytest.raises(DeliveryFailed):
            await producer.send_many([good, ProducedMessage(missing, "k", b"v")])


def test_bad_bootstrap_surfaces_broker_unavailable() -> None:
    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{find_free_port()}")
    producer = EventProducer(settings, message_timeout_ms=1500)
    producer.produce("anything", "k", b"v")
    with pytest.raises(BrokerUnavailable, match="MSG_TIMED_OUT"):
        producer.flush(10)
    producer.close()
    with pytest.raises(BrokerUnavailable):
        create_topics(settings, timeout=2)


def test_faust_app_settings_for_tansu(settings: Settings) -> None:
    app = create_faust_app(settings, web_port=0)
    other = create_faust_app(settings, app_id="other", web_port=6167)

    assert app.conf.id == f"{settings.topic_prefix}{settings.consumer_group}"
    assert app.conf.broker_session_timeout == 6.0
    assert app.conf.broker_heartbeat_interval == 1.5
    assert app.conf.web_enabled is False
    assert (other.conf.web_enabled, other.conf.web_port) == (True, 6167)
    assert app.conf.topic_disable_leader and not app.conf.topic_allow_declare


@pytest.mark.timeout(60)
async def test_faust_agent_consumes_event_producer_messages(
    topics: Settings, tmp_path: Path
) -> None:
    topic = topics.topic(Topic.TENANT_UPDATED)
    app = create_faust_app(
        topics, app_id=f"{topics.topic_prefix}agent", web_port=0, datadir=tmp_path
    )
    received: list[faust.types.EventT] = []

    @app.agent(app.topic(topic))
    async def collect(stream: faust.StreamT) -> None:
        async for event in stream.events():
            received.append(event)

    started = time.monotonic()
    await app.start()
    try:
        await _wait_for(lambda: bool(app.consumer.assignment()), 30)
        joined = time.monotonic() - started
        async with EventProducer(topics) as producer:
            await producer.send_many(
                [ProducedMessage(topic, f"tenant-{i}", b"%d" % i, {"v": b"1"}) for i in range(20)]
            )
        await _wait_for(lambda: len(received) >= 20, 20)
    finally:
        await app.stop()

    assert joined < 15, f"group join took {joined:.1f}s"
    assert {(e.key, e.value) for e in received} == {
        (f"tenant-{i}".encode(), b"%d" % i) for i in range(20)
    }
    assert all(e.headers == {"v": b"1"} for e in received)


async def _wait_for(condition: object, timeout: float) -> None:
    """Poll ``condition()`` until true, or fail after ``timeout`` seconds."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_unordered_messages_of_one_call_share_a_partition(
    topics: Settings, producer: EventProducer
) -> None:
    """Results (ordered_by_key=False) of one publish go to one partition, the next call's
    to the other one; keyed messages still follow their keys."""
    results, grants = topics.topic(Topic.REDEEM_RESULTS), topics.topic(Topic.REWARD_GRANTS)
    publisher = KafkaPublisher(producer)
    for call in range(2):
        await publisher.publish(
            [OutboundMessage(results, b"r%d-%d" % (call, i), b"v", ordered_by_key=False)
             for i in range(20)]
            + [OutboundMessage(grants, b"user-%d" % i, b"g") for i in range(20)]
        )

    by_call: dict[int, set[int]] = {0: set(), 1: set()}
    for message in read_all(topics, results, 40):
        by_call[int(message.key()[1:2])].add(message.partition())
    assert all(len(partitions) == 1 for partitions in by_call.values())
    assert by_call[0] != by_call[1]
    keyed = read_all(topics, grants, 40)
    assert len({m.partition() for m in keyed}) == 2  # 20 keys hash onto both partitions
    assert len({(m.key(), m.partition()) for m in keyed}) == 20  # each key on one partition


async def test_partition_count_of_an_unknown_topic_is_none(
    topics: Settings, producer: EventProducer
) -> None:
    assert await producer.partition_count(topics.topic(Topic.REDEEM_RESULTS)) == 2
    assert await producer.partition_count(topics.topic("no.such.topic")) is None
