"""The campaign agent: ``campaign.requests`` -> ``Campaigns.create`` -> ``campaign.results``.

Creating the campaign and publishing its result are retried separately, so a broker hiccup
after a successful creation republishes the same result instead of re-running the request.
A redelivered request is idempotent on ``campaign_id`` (ALREADY_EXISTS). A request whose
``campaign_id`` and ``tenant_id`` parse but whose rule (or another field) does not is
dead-lettered and answered INVALID_RULE, naming the field; nothing is created.
"""

from __future__ import annotations

import faust

from consumers.batching import subscribe_batches
from core.bootstrap import Container
from core.executor import run_blocking
from core.pipeline import BatchRunner, retry_transient
from core.ports import OutboundMessage
from core.topics import Topic
from schemas.campaign import CampaignOutcome, CreateCampaignRequest, CreateCampaignResult
from schemas.salvage import RejectedCampaign, salvage_campaign_request

#: Each request may generate many codes: take them a few at a time.
BATCH_SIZE = 4
BATCH_WINDOW_SECONDS = 0.1


def register_campaign_agent(
    app: faust.App, container: Container
) -> BatchRunner[CreateCampaignRequest | RejectedCampaign]:
    """Subscribe the campaign agent; one result per request on ``campaign.results``."""
    settings = container.settings
    publisher = container.publisher
    results = settings.topic(Topic.CAMPAIGN_RESULTS)

    async def create(requests: list[CreateCampaignRequest | RejectedCampaign]) -> None:
        for request in requests:
            if isinstance(request, RejectedCampaign):
                result = invalid_rule_result(request)
            else:
                result = await retry_transient(
                    lambda r=request: run_blocking(None, container.campaigns.create, r),  # type: ignore[misc]
                    what=f"create campaign {request.campaign_id}",
                )
            message = OutboundMessage(results, request.campaign_id.encode(), result.to_bytes())
            await retry_transient(
                lambda m=message: publisher.publish([m]),  # type: ignore[misc]
                what=f"result of campaign {request.campaign_id}",
            )

    runner: BatchRunner[CreateCampaignRequest | RejectedCampaign] = BatchRunner(
        CreateCampaignRequest.from_bytes, create, publisher, salvage=salvage_campaign_request
    )
    topic = settings.topic(Topic.CAMPAIGN_REQUESTS)
    subscribe_batches(app, topic, "campaign", runner, BATCH_SIZE, BATCH_WINDOW_SECONDS)
    return runner


def invalid_rule_result(rejected: RejectedCampaign) -> CreateCampaignResult:
    """The answer to a campaign request that did not decode: INVALID_RULE, naming the field."""
    return CreateCampaignResult(
        campaign_id=rejected.campaign_id,
        tenant_id=rejected.tenant_id,
        outcome=CampaignOutcome.INVALID_RULE,
        message=rejected.message,
    )
