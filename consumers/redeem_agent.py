"""The redemption agent: bytes -> RedeemRequested -> RedemptionService -> results/grants."""

from __future__ import annotations

import faust

from consumers.batching import subscribe_batches
from core.pipeline import BatchRunner
from core.ports import EventPublisher
from core.redemption.service import RedemptionService
from core.settings import Settings
from core.topics import Topic
from schemas.events import RedeemRequested
from schemas.salvage import RejectedRedeem, salvage_redeem_request


def register_redeem_agent(
    app: faust.App, settings: Settings, service: RedemptionService, publisher: EventPublisher
) -> BatchRunner[RedeemRequested | RejectedRedeem]:
    """Subscribe the agent to ``redeem.requests``: one agent, concurrency 1 (faust #606),
    batches of up to ``redeem_batch_size`` within ``redeem_batch_window_seconds``, up to
    ``redeem_batches_in_flight`` of them overlapping (the service keeps them in order).
    A half-valid request (its ids parse, another field does not) is dead-lettered and also
    answered INVALID_REQUEST."""
    runner: BatchRunner[RedeemRequested | RejectedRedeem] = BatchRunner(
        RedeemRequested.from_bytes,
        service.process,
        publisher,
        ready=service.ready_for_batch,
        salvage=salvage_redeem_request,
    )
    subscribe_batches(
        app,
        settings.topic(Topic.REDEEM_REQUESTS),
        "redeem",
        runner,
        settings.redeem_batch_size,
        settings.redeem_batch_window_seconds,
        in_flight=settings.redeem_batches_in_flight,
    )
    return runner
