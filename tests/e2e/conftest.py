"""Settings for end-to-end tests: the session database and Redis, the broker, own topics."""

from __future__ import annotations

import uuid

import pytest

from core.adapters.kafka.admin import create_topics
from core.settings import Settings


@pytest.fixture()
def e2e_settings(base_settings: Settings, broker, unique_topic_prefix: str) -> Settings:
    """Per-test topics (created) and consumer group on the session broker."""
    settings = base_settings.model_copy(
        update={
            "kafka_bootstrap_servers": broker.bootstrap_servers,
            "topic_prefix": unique_topic_prefix,
            "consumer_group": f"rf-{uuid.uuid4().hex[:8]}",
            "topic_partitions": 4,
        }
    )
    create_topics(settings)
    return settings
