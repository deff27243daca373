"""The tenant agent: ``tenant.updated`` -> TenantUpdated -> ``TenantRegistry.apply_update``."""

from __future__ import annotations

import faust

from consumers.batching import subscribe_batches
from core.bootstrap import Container
from core.executor import run_blocking
from core.pipeline import BatchRunner
from core.topics import Topic
from schemas.events import TenantUpdated

BATCH_SIZE = 100
BATCH_WINDOW_SECONDS = 0.05


def register_tenant_agent(app: faust.App, container: Container) -> BatchRunner[TenantUpdated]:
    """Subscribe the tenant agent; events apply in order, an older version never wins."""

    async def apply(events: list[TenantUpdated]) -> None:
        for event in events:
            await run_blocking(None, container.tenants.apply_update, event)

    runner: BatchRunner[TenantUpdated] = BatchRunner(
        TenantUpdated.from_bytes, apply, container.publisher
    )
    topic = container.settings.topic(Topic.TENANT_UPDATED)
    subscribe_batches(app, topic, "tenant", runner, BATCH_SIZE, BATCH_WINDOW_SECONDS)
    return runner
