"""The compensation agent: ``compensation.jobs`` -> Compensator -> ``compensation.results``.

Thin like every agent: bytes -> CompensationJob -> one core call -> the report message,
through ``BatchRunner`` (malformed jobs to the DLQ, transient failures retried with back-off,
the job in hand finished on shutdown). A retried or redelivered job is harmless: a finished
job_id returns its stored report, an interrupted one is simply run again (idempotent).
Also registers the periodic sweep (``compensation.sweep``).
"""

from __future__ import annotations

import faust

from compensation.sweep import register_sweep
from consumers.batching import BatchRunner, subscribe_batches
from core.adapters.kafka.publisher import KafkaPublisher
from core.bootstrap import Container
from core.ports import OutboundMessage
from core.topics import Topic
from schemas.events import CompensationJob

#: Jobs are few and each may take a while: small batches, no long wait to fill them.
BATCH_SIZE = 8
BATCH_WINDOW_SECONDS = 0.5


def register_compensation_agent(
    app: faust.App, container: Container
) -> BatchRunner[CompensationJob]:
    """Subscribe the agent to ``compensation.jobs`` (concurrency 1: faust #606) and start
    the sweep timer; returns the batch runner (its ``dead_lettered`` count is useful)."""
    settings = container.settings
    publisher = KafkaPublisher(container.producer)
    compensator = container.compensator(publisher)
    results = settings.topic(Topic.COMPENSATION_RESULTS)

    async def process(jobs: list[CompensationJob]) -> None:
        for job in jobs:
            report = await compensator.run(job)
            await publisher.publish(
                [OutboundMessage(results, job.job_id.encode(), report.to_bytes())]
            )

    runner: BatchRunner[CompensationJob] = BatchRunner(
        CompensationJob.from_bytes, process, publisher
    )
    topic = settings.topic(Topic.COMPENSATION_JOBS)
    subscribe_batches(app, topic, "compensation", runner, BATCH_SIZE, BATCH_WINDOW_SECONDS)

    register_sweep(app, container, publisher)
    return runner
