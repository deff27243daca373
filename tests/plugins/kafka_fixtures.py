"""Pytest plugin: a Kafka-compatible broker for the test session, and per-test topic prefixes.

Loaded from ``tests/conftest.py`` via ``pytest_plugins``. One embedded Tansu broker is started
for the whole session (lazily, by the first test that asks for it) unless
``REDEEMFLOW_KAFKA_BOOTSTRAP_SERVERS`` names an external broker to use instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pytest

from core.settings import Settings

EXTERNAL_BROKER_ENV = "REDEEMFLOW_KAFKA_BOOTSTRAP_SERVERS"


class BrokerHandle(Protocol):
    """What tests may rely on, embedded or external: where to connect."""

    @property
    def bootstrap_servers(self) -> str: ...


@dataclass(frozen=True)
class ExternalBroker:
    """A broker the test session did not start (and will not stop)."""

    bootstrap_servers: str


@pytest.fixture(scope="session")
def broker() -> Iterator[BrokerHandle]:
    """The session's broker: external if the environment names one, else embedded Tansu."""
    external = os.environ.get(EXTERNAL_BROKER_ENV, "").strip()
    if external:
        yield ExternalBroker(external)
        return
    from core.adapters.kafka.broker import EmbeddedBroker

    with EmbeddedBroker() as embedded:
        yield embedded


@pytest.fixture
def unique_topic_prefix() -> str:
    """A topic prefix no other test uses, e.g. ``t3f9c0a1b2c4d.``."""
    return f"t{uuid.uuid4().hex[:12]}."


@pytest.fixture
def kafka_settings(broker: BrokerHandle, unique_topic_prefix: str) -> Settings:
    """Settings pointing at the session broker, with this test's own topic prefix."""
    return Settings(
        kafka_bootstrap_servers=broker.bootstrap_servers, topic_prefix=unique_topic_prefix
    )
