"""The redemption agent: bytes -> RedeemRequested -> RedemptionService -> results/grants."""

from __future__ import annotations

from typing import Any

import faust

from consumers.batching import BatchRunner, raw_events
from core.redemption.service import RedemptionService
from core.settings import Settings
from core.topics import Topic
from schemas.events import RedeemRequested


def register_redeem_agent(
    app: faust.App, settings: Settings, service: RedemptionService, runner_publisher: Any
) -> BatchRunner[RedeemRequested]:
    """Subscribe the agent to ``redeem.requests``: one agent, concurrency 1 (faust #606),
    batches of up to ``redeem_batch_size`` within ``redeem_batch_window_seconds``."""
    runner: BatchRunner[RedeemRequested] = BatchRunner(
        RedeemRequested.from_bytes, service.process, runner_publisher
    )
    topic = app.topic(
        settings.topic(Topic.REDEEM_REQUESTS), key_serializer="raw", value_serializer="raw"
    )

    @app.agent(topic, name="redeem", concurrency=1)
    async def redeem(stream: faust.StreamT) -> None:
        async for events in stream.take_events(  # type: ignore[attr-defined]
            settings.redeem_batch_size, within=settings.redeem_batch_window_seconds
        ):
            await runner.run(raw_events(events))

    return runner
