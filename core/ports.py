"""Ports: what the domain needs from the outside, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutboundMessage:
    """One message to produce: full topic name, key, value bytes and headers.

    ``ordered_by_key`` False says the key only names the message and orders nothing (one
    message per key, such as a request's result): the publisher may then put it on any
    partition, and puts the unordered messages of one call on one partition together.
    """

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    ordered_by_key: bool = True


class EventPublisher(Protocol):
    """Produces messages; ``publish`` returns only once every one is durably on the broker."""

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        """Deliver all messages (acks=all) or raise BrokerUnavailable / DeliveryFailed."""
        ...

    async def hand_over(self, messages: Sequence[OutboundMessage]) -> Awaitable[object]:
        """Give the messages to the producer, after those of every earlier call, without
        waiting for the broker; awaiting the result waits until all of them are durable (or
        raises as ``publish``). Lets a pipeline hand over one batch's messages while the
        broker still acknowledges the batch before."""
        ...
