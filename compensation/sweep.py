"""The periodic sweep: publish a compensation job every ``compensation_sweep_interval_seconds``
for everything older than ``compensation_threshold_seconds``, so repair never waits for ops.

Every worker runs the timer (no leader election: the worker app runs without faust's leader
topic). That is harmless by construction: the sweep's job_id is derived from the interval
(``sweep-<interval>-<slot>``), jobs are keyed by job_id so one partition and one agent see all
copies in order, and the first run stores its report; the copies replay it without work.
Even two runs at once are safe: each pass is idempotent and the Redis release is atomic and
conditional on the claim record being unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import faust

from core.compensation import sweep_job
from core.errors import RedeemflowError
from core.ports import EventPublisher, OutboundMessage
from core.settings import Settings
from core.topics import Topic
from schemas.base import utc_now
from schemas.events import CompensationJob

log = logging.getLogger("redeemflow.compensation")


def sweep_message(settings: Settings, job: CompensationJob) -> OutboundMessage:
    """The job as a message on ``compensation.jobs`` (key job_id)."""
    topic = settings.topic(Topic.COMPENSATION_JOBS)
    return OutboundMessage(topic, job.job_id.encode(), job.to_bytes())


async def publish_sweep(
    settings: Settings, publisher: EventPublisher, now: Callable = utc_now
) -> CompensationJob | None:
    """Publish this interval's sweep job; a broker failure is logged, the next tick retries."""
    job = sweep_job(settings, now())
    try:
        await publisher.publish([sweep_message(settings, job)])
    except RedeemflowError as exc:
        log.warning("compensation sweep %s not published: %s", job.job_id, exc)
        return None
    return job


def register_sweep(app: faust.App, settings: Settings, publisher: EventPublisher) -> None:
    """Start the sweep timer on the worker app."""

    @app.timer(settings.compensation_sweep_interval_seconds, name="compensation.sweep")
    async def sweep() -> None:
        await publish_sweep(settings, publisher)
