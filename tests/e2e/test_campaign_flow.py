"""Campaign creation over Kafka: tenant.updated + campaign.requests -> campaign.results.

Runs a faust app with the tenant and campaign agents in the test's event loop against the
session broker, the session database and Redis.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from consumers.app import create_faust_app
from consumers.campaign_agent import register_campaign_agent
from consumers.tenant_agent import register_tenant_agent
from core.adapters.kafka.producer import EventProducer
from core.bootstrap import bootstrap
from core.settings import Settings
from core.topics import Topic
from schemas.campaign import CampaignRule, CreateCampaignRequest, CreateCampaignResult
from schemas.events import TenantStatus, TenantType, TenantUpdated
from tests.conftest import unique_id

pytestmark = pytest.mark.e2e

RULE = orjson.loads((Path(__file__).resolve().parents[2] / "examples" / "rule.json").read_bytes())


def read(settings: Settings, topic: str, count: int, timeout: float = 30.0) -> list[Message]:
    """Read at least ``count`` records of a topic from the beginning (or what came in time)."""
    name = settings.topic(topic)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
        consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in partitions])
        records: list[Message] = []
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            records.extend(m for m in consumer.consume(100, 0.5) if m.error() is None)
        return records
    finally:
        consumer.close()


async def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def request(tenant: str, campaign: str, count: int) -> CreateCampaignRequest:
    return CreateCampaignRequest(
        campaign_id=campaign,
        tenant_id=tenant,
        product_code="APP_A",
        rule=CampaignRule.model_validate(RULE),
        code_count=count,
    )


@pytest.mark.timeout(120)
async def test_campaign_flow_over_kafka(e2e_settings: Settings, tmp_path: Path) -> None:
    settings = e2e_settings
    tenant, campaign = unique_id("t"), unique_id("c")
    app = create_faust_app(settings, web_port=0, datadir=tmp_path)
    with bootstrap(settings) as container:
        register_tenant_agent(app, container)
        register_campaign_agent(app, container)
        await app.start()
        try:
            await wait_for(lambda: bool(app.consumer.assignment()), 30)
            async with EventProducer(settings) as producer:
                event = TenantUpdated(
                    tenant_id=tenant,
                    name="Channel",
                    type=TenantType.CHANNEL,
                    status=TenantStatus.ACTIVE,
                    code_quota=10_000,
                    version=1,
                )
                await producer.produce_and_wait(
                    settings.topic(Topic.TENANT_UPDATED), tenant, event.to_bytes()
                )
                await producer.produce_and_wait(
                    settings.topic(Topic.TENANT_UPDATED), tenant, b'{"tenant_id": 1}'
                )
                await wait_for(lambda: container.tenants.get(tenant) is not None, 30)
                first = request(tenant, campaign, 2_000)
                for body in (
                    first.to_bytes(),
                    request(tenant, campaign, 2_000).to_bytes(),
                    request(unique_id("t"), unique_id("c"), 10).to_bytes(),
                    b"not json",
                ):
                    await producer.produce_and_wait(
                        settings.topic(Topic.CAMPAIGN_REQUESTS), campaign, body
                    )
            records = await asyncio.to_thread(read, settings, Topic.CAMPAIGN_RESULTS, 3)
        finally:
            await app.stop()

        results = [CreateCampaignResult.from_bytes(m.value()) for m in records]
        mine = [(r.outcome.value, r.codes_generated) for r in results if r.campaign_id == campaign]
        assert mine == [("CREATED", 2_000), ("ALREADY_EXISTS", 2_000)]
        others = [r.outcome.value for r in results if r.campaign_id != campaign]
        assert others == ["UNKNOWN_TENANT"]
        assert {m.key() for m in records if m.key() == campaign.encode()} == {campaign.encode()}
        pool = container.redis.scard(container.keys.pool(tenant, campaign))
        assert pool == 2_000

    dead = read(settings, Topic.CAMPAIGN_REQUESTS.dlq, 1)
    assert [m.value() for m in dead] == [b"not json"]
    assert dict(dead[0].headers())["error"].startswith(b"CreateCampaignRequest: not valid JSON")
    bad_tenant = read(settings, Topic.TENANT_UPDATED.dlq, 1)
    assert dict(bad_tenant[0].headers())["error_field"] == b"tenant_id"
