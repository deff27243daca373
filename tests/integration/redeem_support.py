"""Set-up helpers for redemption tests: a campaign and codes written to MySQL and Redis by
the writers generation uses (no table or key layout of their own), and a service wired by
``core.bootstrap``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis

from core.adapters.mysql.campaign_store import insert_campaign
from core.adapters.mysql.code_store import insert_code_rows
from core.adapters.mysql.redemption_store import RedemptionStore
from core.bootstrap import Container, build_redemption_service
from core.codes import CodeCodec
from core.records import CampaignRecord, RowTemplate
from core.redemption.service import RedemptionService
from schemas.base import naive_utc
from schemas.campaign import CampaignRule
from schemas.events import RedeemRequested
from tests.conftest import unique_id
from tests.fakes import RecordingPublisher


@dataclass
class SeededCampaign:
    """A campaign with codes in MySQL (and Redis unless told otherwise)."""

    tenant_id: str
    campaign_id: str
    product_code: str
    codes: list[str]
    codec: CodeCodec
    rule: CampaignRule
    extra: dict[str, object] = field(default_factory=dict)


def seed_campaign(
    container: Container,
    *,
    count: int = 5,
    rule: dict[str, object] | None = None,
    status: str = "ACTIVE",
    tenant_id: str | None = None,
    in_redis: bool = True,
    protected: bool = True,
) -> SeededCampaign:
    """Insert a campaign and ``count`` codes; returns what a test needs to redeem them.

    Codes are stored as generation stores them (lookup, seal, mask); ``protected=False``
    stores them in clear, as rows written before codes were protected."""
    tenant = tenant_id or unique_id("tn")
    campaign = unique_id("cp")
    product = "APP_A"
    parsed = CampaignRule.model_validate(
        rule or {"rewardRules": [{"type": "COUPON", "id": "WELCOME10"}]}
    )
    codec = CodeCodec(parsed.code, container.settings.code_secret_for(tenant), tenant)
    codes = codec.generate_many(count)
    now = datetime.now(UTC)
    start, end = parsed.window(now - timedelta(seconds=5))
    digest = hashlib.sha256(campaign.encode()).hexdigest()
    record = CampaignRecord(
        campaign, tenant, "Tenant", "CHANNEL", product, "test", status,
        parsed.model_dump(mode="json", by_alias=True), digest, parsed.use_limit,
        parsed.per_user_limit, naive_utc(start), _naive(end), count, "tester",
        naive_utc(now), naive_utc(now),
    )
    protector = container.settings.code_protector
    rows = RowTemplate(tenant, product, campaign, "seed", parsed.use_limit, "tester",
                       naive_utc(now), naive_utc(start), _naive(end),
                       protector.active_id if protected else None)
    stored = protector.protect(tenant, codes) if protected else None
    with container.engine.begin() as conn:  # the writers generation uses
        insert_campaign(conn, record)
        insert_code_rows(conn, rows, codes, stored)
    if in_redis:
        container.code_cache.write_campaign(record)
        as_stored = [r.lookup for r in stored] if stored is not None else codes
        container.code_cache.write_codes(tenant, campaign, parsed.use_limit, as_stored)
    return SeededCampaign(tenant, campaign, product, codes, codec, parsed)


def _naive(moment: datetime | None) -> datetime | None:
    return naive_utc(moment) if moment is not None else None


def make_service(
    container: Container,
    store: RedemptionStore | None = None,
    publisher: RecordingPublisher | None = None,
) -> tuple[RedemptionService, RecordingPublisher]:
    """A redemption service over the real MySQL (``store``, by default on the hot engine)
    and Redis, recording what it publishes (in ``publisher`` when given)."""
    publisher = publisher or RecordingPublisher()
    return build_redemption_service(container, publisher, store=store), publisher


def request(
    seeded: SeededCampaign, code: str, user: str | None = None, **overrides: object
) -> RedeemRequested:
    """A RedeemRequested for one of the seeded campaign's codes."""
    fields: dict[str, object] = {
        "request_id": unique_id("rq"),
        "tenant_id": seeded.tenant_id,
        "product_code": seeded.product_code,
        "code": code,
        "user_id": user or unique_id("u"),
        "channel": "app",
    }
    fields.update(overrides)
    return RedeemRequested.model_validate(fields)


def flush_tenant(container: Container, tenant_id: str) -> int:
    """Delete every Redis key of one tenant (a cache loss); returns how many."""
    client: redis.Redis = container.redis
    keys = list(client.scan_iter(match=container.keys.tenant_pattern(tenant_id), count=1000))
    return client.delete(*keys) if keys else 0
