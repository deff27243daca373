"""The campaign agent: ``campaign.requests`` -> ``create_campaign`` -> ``campaign.results``.

Creating the campaign and publishing its result are retried separately, so a broker hiccup
after a successful creation republishes the same result instead of re-running the request.
A redelivered request is idempotent on ``campaign_id`` (ALREADY_EXISTS).
"""

from __future__ import annotations

import faust

from consumers.batching import BatchRunner, retry_transient, run_blocking, subscribe_batches
from core.adapters.kafka.publisher import KafkaPublisher
from core.bootstrap import Container
from core.campaigns import create_campaign
from core.ports import OutboundMessage
from core.topics import Topic
from schemas.campaign import CreateCampaignRequest

#: Each request may generate many codes: take them a few at a time.
BATCH_SIZE = 4
BATCH_WINDOW_SECONDS = 0.1


def register_campaign_agent(
    app: faust.App, container: Container
) -> BatchRunner[CreateCampaignRequest]:
    """Subscribe the campaign agent; one result per request on ``campaign.results``."""
    settings = container.settings
    publisher = KafkaPublisher(container.producer)
    results = settings.topic(Topic.CAMPAIGN_RESULTS)

    async def create(requests: list[CreateCampaignRequest]) -> None:
        for request in requests:
            result = await retry_transient(
                lambda r=request: run_blocking(create_campaign, container, r),  # type: ignore[misc]
                what=f"create campaign {request.campaign_id}",
            )
            message = OutboundMessage(results, request.campaign_id.encode(), result.to_bytes())
            await retry_transient(
                lambda m=message: publisher.publish([m]),  # type: ignore[misc]
                what=f"result of campaign {request.campaign_id}",
            )

    runner: BatchRunner[CreateCampaignRequest] = BatchRunner(
        CreateCampaignRequest.from_bytes, create, publisher
    )
    topic = settings.topic(Topic.CAMPAIGN_REQUESTS)
    subscribe_batches(app, topic, "campaign", runner, BATCH_SIZE, BATCH_WINDOW_SECONDS)
    return runner
