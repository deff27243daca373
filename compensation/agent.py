"""The compensation agent: ``compensation.jobs`` -> Compensator -> ``compensation.results``.

Thin like every agent: bytes -> CompensationJob -> one core call -> the report message,
through a ``BatchRunner`` (malformed jobs to the DLQ, transient failures retried with
back-off, the job in hand finished on shutdown). A retried or redelivered job is harmless: a
finished job_id returns its stored report, an interrupted one is simply run again
(idempotent). The worker subscribes the ``AgentSpec`` built here and starts the sweep
(``compensation.sweep``).
"""

from __future__ import annotations

from core.bootstrap import Container
from core.pipeline import AgentSpec, BatchRunner
from core.ports import OutboundMessage
from core.topics import Topic
from schemas.events import CompensationJob

#: Jobs are few and each may take a while: small batches, no long wait to fill them.
BATCH_SIZE = 8
BATCH_WINDOW_SECONDS = 0.5


def compensation_agent(container: Container) -> AgentSpec:
    """The agent of ``compensation.jobs`` (its runner's ``dead_lettered`` count is useful)."""
    settings = container.settings
    publisher = container.publisher
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
    return AgentSpec(topic, "compensation", runner, BATCH_SIZE, BATCH_WINDOW_SECONDS)
