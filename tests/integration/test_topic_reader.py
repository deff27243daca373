"""The one "read every partition from here" reader (core/adapters/kafka/reader.py) on the
real broker: snapshot, from the start, from the current end, and consumer lag."""

from __future__ import annotations

import pytest

from core.adapters.kafka.admin import create_topics
from core.adapters.kafka.producer import EventProducer
from core.adapters.kafka.reader import KafkaTopicReader, consumer_lag
from core.errors import NotFound
from core.settings import Settings
from core.streams import InboundRecord, RecordStream
from core.topics import Topic

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(kafka_settings: Settings) -> str:
    """The full name of a contract topic with two partitions."""
    create_topics(kafka_settings, partitions=2)
    return kafka_settings.topic(Topic.REDEEM_RESULTS)


def produce(settings: Settings, topic: str, keys: list[str]) -> None:
    """One record batch per key: the embedded broker (Tansu) reports the high watermark of
    a batch's first record, so only single-record batches give exact ends."""
    with EventProducer(settings) as producer:
        for key in keys:
            producer.produce(topic, key, f"v-{key}".encode(), [("h", b"x")])
            producer.flush(30)


def read_until(stream: RecordStream, count: int) -> list[InboundRecord]:
    found: list[InboundRecord] = []
    for _ in range(200):  # bounded by polls, not by a clock
        found.extend(stream.poll(0.2))
        if len(found) >= count:
            break
    return found


def test_snapshot_reads_every_partition_in_order(kafka_settings: Settings, topic: str) -> None:
    keys = [f"k{n}" for n in range(12)]
    produce(kafka_settings, topic, keys)
    records = KafkaTopicReader(kafka_settings).snapshot(topic)
    assert sorted(r.key or b"" for r in records) == sorted(k.encode() for k in keys)
    assert len({r.partition for r in records}) == 2  # both partitions were read
    assert records == sorted(records, key=lambda r: (r.partition, r.offset))
    assert all(r.value == b"v-" + (r.key or b"") and r.headers == (("h", b"x"),)
               for r in records)
    assert len(KafkaTopicReader(kafka_settings).snapshot(topic, limit=5)) == 5


def test_snapshot_of_a_missing_topic_is_not_found(kafka_settings: Settings) -> None:
    with pytest.raises(NotFound):
        KafkaTopicReader(kafka_settings).snapshot(kafka_settings.topic("no.such.topic.dlq"))


def test_tail_sees_only_what_comes_after_entry(kafka_settings: Settings, topic: str) -> None:
    reader = KafkaTopicReader(kafka_settings)
    produce(kafka_settings, topic, ["old1", "old2"])
    with reader.tail(topic) as stream:
        produce(kafka_settings, topic, ["new1", "new2", "new3"])
        found = read_until(stream, 3)
    assert sorted(r.key or b"" for r in found) == [b"new1", b"new2", b"new3"]
    with reader.from_start(topic) as stream:
        everything = read_until(stream, 5)
    assert sorted(r.key or b"" for r in everything) == [
        b"new1", b"new2", b"new3", b"old1", b"old2"]


def test_lag_of_a_group_that_never_committed_counts_everything(
    kafka_settings: Settings, topic: str
) -> None:
    produce(kafka_settings, topic, ["a", "b", "c"])
    lag = consumer_lag(kafka_settings.kafka_bootstrap_servers, "plumbing-never-ran",
                       [topic, kafka_settings.topic("absent.topic")])
    assert lag == {topic: 3}
