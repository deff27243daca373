"""Fakes behind the same ports as the real adapters (unit and service tests only).

``tests/integration/test_publisher_contract.py`` runs one contract against this fake and the
real Kafka producer, so the fake cannot drift from what the adapter guarantees. The
redemption store and claim cache fakes live in :mod:`tests.fakes_redemption`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

from core.errors import BrokerUnavailable
from core.ports import OutboundMessage


class RecordingPublisher:
    """Keeps every published message in order; can be told to fail the next N publishes."""

    def __init__(self) -> None:
        self.messages: list[OutboundMessage] = []
        self.fail_next = 0

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        """Record the messages, or raise BrokerUnavailable while ``fail_next`` > 0."""
        if self.fail_next > 0:
            self.fail_next -= 1
            raise BrokerUnavailable("broker down (simulated)")
        self.messages.extend(messages)

    async def hand_over(self, messages: Sequence[OutboundMessage]) -> Awaitable[object]:
        """``publish`` now (recorded, or refused while ``fail_next`` > 0); the result is
        already resolved."""
        await self.publish(messages)
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered

    def on(self, topic_suffix: str) -> list[OutboundMessage]:
        """Messages whose topic ends with ``topic_suffix``."""
        return [m for m in self.messages if m.topic.endswith(topic_suffix)]
