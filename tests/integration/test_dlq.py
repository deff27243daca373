"""Dead letters on the real broker: list them, replay chosen ones to the original topic."""

from __future__ import annotations

import pytest

from core.adapters.kafka.admin import create_topics
from core.adapters.kafka.producer import EventProducer
from core.adapters.kafka.sink import ProducerSink
from core.bootstrap import topic_reader
from core.dlq import read_dead_letters, replay, select
from core.errors import InvalidMessage
from core.pipeline import RawEvent, dead_letter
from core.topics import Topic
from tests.e2e.harness import consume_all

pytestmark = pytest.mark.integration


def test_list_and_replay_dead_letters(kafka_settings) -> None:
    """On campaign.requests: a redeem request's dead letter masks its code (test_batching),
    so it is no message to replay (its sender retries with a new request id)."""
    settings = kafka_settings.model_copy(update={"topic_partitions": 1})
    create_topics(settings)
    source = settings.topic(Topic.CAMPAIGN_REQUESTS)
    letters = [
        dead_letter(RawEvent(source, 0, i, f"t:k{i}".encode(), b'{"bad": %d}' % i),
                    ValueError(f"broken {i}"), field="code")
        for i in range(3)
    ]
    with EventProducer(settings) as producer:
        for m in letters:
            producer.produce(m.topic, m.key, m.value, m.headers)
        producer.flush(30)

    found = read_dead_letters(topic_reader(settings), settings, Topic.CAMPAIGN_REQUESTS)
    assert [d.key for d in found] == [b"t:k0", b"t:k1", b"t:k2"]
    assert found[1].headers["error"] == "broken 1"
    assert found[1].headers["error_field"] == "code"
    assert found[1].preview == '{"bad": 1}'
    assert len(read_dead_letters(topic_reader(settings), settings, Topic.CAMPAIGN_REQUESTS,
                                 limit=2)) == 2

    chosen = select(found, [found[0].ref, str(found[2].offset)])
    with EventProducer(settings) as producer:
        assert replay(ProducerSink(producer), settings, Topic.CAMPAIGN_REQUESTS, chosen) == 2
    back = consume_all(settings, Topic.CAMPAIGN_REQUESTS, expected=2, timeout=30)
    assert sorted((m.key(), m.value()) for m in back) == [
        (b"t:k0", b'{"bad": 0}'), (b"t:k2", b'{"bad": 2}')]
    with pytest.raises(InvalidMessage):
        select(found, ["0:99"])


def test_empty_dead_letter_topic(kafka_settings) -> None:
    create_topics(kafka_settings)
    assert read_dead_letters(topic_reader(kafka_settings), kafka_settings,
                             Topic.COMPENSATION_JOBS) == []
