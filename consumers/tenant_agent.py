"""The tenant agent: ``tenant.updated`` bytes -> TenantUpdated -> ``apply_tenant_update``."""

from __future__ import annotations

from typing import Any

import faust

from consumers.common import handle_message, retry_transient, run_blocking
from core.bootstrap import Container
from core.tenants import apply_tenant_update
from core.topics import Topic
from schemas.events import TenantUpdated


def register_tenant_agent(app: faust.App, container: Container) -> Any:
    """Subscribe the tenant agent (concurrency 1: faust #606) and return it."""
    settings = container.settings
    topic = app.topic(settings.topic(Topic.TENANT_UPDATED), key_serializer="raw",
                      value_serializer="raw")
    dlq = settings.topic(Topic.TENANT_UPDATED.dlq)

    async def apply(event: TenantUpdated) -> None:
        await retry_transient(lambda: run_blocking(apply_tenant_update, container.engine, event),
                              what=f"tenant update {event.tenant_id} v{event.version}")

    @app.agent(topic, name="tenant", concurrency=1)
    async def tenant(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await handle_message(event.key, event.value, model=TenantUpdated, dlq_topic=dlq,
                                 producer=container.producer, handle=apply)

    return tenant
