"""The campaign agent: ``campaign.requests`` -> ``create_campaign`` -> ``campaign.results``.

Creating the campaign and publishing its result are retried separately, so a broker hiccup
after a successful creation republishes the same result instead of re-running the request.
A redelivered request is idempotent on ``campaign_id`` (ALREADY_EXISTS).
"""

from __future__ import annotations

from typing import Any

import faust

from consumers.common import handle_message, retry_transient, run_blocking
from core.bootstrap import Container
from core.campaigns import create_campaign
from core.topics import Topic
from schemas.campaign import CreateCampaignRequest


def register_campaign_agent(app: faust.App, container: Container) -> Any:
    """Subscribe the campaign agent (concurrency 1: faust #606) and return it."""
    settings = container.settings
    topic = app.topic(settings.topic(Topic.CAMPAIGN_REQUESTS), key_serializer="raw",
                      value_serializer="raw")
    results = settings.topic(Topic.CAMPAIGN_RESULTS)
    dlq = settings.topic(Topic.CAMPAIGN_REQUESTS.dlq)

    async def create(request: CreateCampaignRequest) -> None:
        result = await retry_transient(lambda: run_blocking(create_campaign, container, request),
                                       what=f"create campaign {request.campaign_id}")
        await retry_transient(
            lambda: container.producer.produce_and_wait(
                results, request.campaign_id.encode(), result.to_bytes()),
            what=f"publish result of {request.campaign_id}",
        )

    @app.agent(topic, name="campaign", concurrency=1)
    async def campaign(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await handle_message(event.key, event.value, model=CreateCampaignRequest,
                                 dlq_topic=dlq, producer=container.producer, handle=create)

    return campaign
