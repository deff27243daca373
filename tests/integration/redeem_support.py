"""Set-up helpers for redemption tests: a campaign and codes written straight to MySQL and,
through production's cache writers, to Redis; and a service wired by ``core.bootstrap``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
import redis
from sqlalchemy import text

from core.adapters.mysql.code_store import reserve_code_ids
from core.adapters.mysql.redemption_store import RedemptionStore
from core.adapters.redis.code_loader import CodeLoader
from core.adapters.redis.keys import campaign_fields
from core.bootstrap import Container, build_redemption_service
from core.codes import CodeCodec
from core.codes.protection import ProtectedCode
from core.redemption.service import RedemptionService
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
    naive = lambda d: d.astimezone(UTC).replace(tzinfo=None) if d else None  # noqa: E731
    with container.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO campaigns (campaign_id, tenant_id, tenant_name, tenant_type,"
                " product_code, name, status, rule_json, request_hash, use_limit, per_user_limit,"
                " valid_from, valid_until, codes_requested, created_by, created_at, updated_at)"
                " VALUES (:c, :t, 'Tenant', 'CHANNEL', :p, 'test', :s, :rule, :h, :ul, :pul,"
                " :vf, :vu, :n, 'tester', :now, :now)"
            ),
            {
                "c": campaign,
                "t": tenant,
                "p": product,
                "s": status,
                "rule": orjson.dumps(parsed.model_dump(mode="json", by_alias=True)).decode(),
                "h": hashlib.sha256(campaign.encode()).hexdigest(),
                "ul": parsed.use_limit,
                "pul": parsed.per_user_limit,
                "vf": naive(start),
                "vu": naive(end),
                "n": count,
                "now": naive(now),
            },
        )
        first_id = reserve_code_ids(conn, len(codes)) if codes else 0
        protector = container.settings.code_protector
        stored = (protector.protect(tenant, codes) if protected
                  else [ProtectedCode(c, None, None) for c in codes])  # type: ignore[arg-type]
        conn.execute(
            text(
                "INSERT INTO redeem_codes (id, tenant_id, code, product_code, campaign_id,"
                " gen_batch_id, use_limit, gen_account_id, gen_time, valid_from, expired_at,"
                " code_sealed, code_key_id, code_mask)"
                " VALUES (:id, :t, :code, :p, :c, 'seed', :ul, 'tester', :now, :vf, :vu,"
                " :sealed, :key, :mask)"
            ),
            [
                {
                    "id": first_id + n,
                    "t": tenant,
                    "code": row.lookup,
                    "sealed": row.sealed,
                    "key": protector.active_id if protected else None,
                    "mask": row.mask,
                    "p": product,
                    "c": campaign,
                    "ul": parsed.use_limit,
                    "now": naive(now),
                    "vf": naive(start),
                    "vu": naive(end),
                }
                for n, row in enumerate(stored)
            ],
        )
    if in_redis:
        write_cache(container, tenant, campaign, status, parsed, [r.lookup for r in stored],
                    start, end)
    return SeededCampaign(tenant, campaign, product, codes, codec, parsed)


def write_cache(container, tenant, campaign, status, rule, codes, start, end) -> None:
    """The Redis entries generation writes for a campaign and its codes (``codes``: as
    stored, i.e. their lookups)."""
    keys = container.keys
    client: redis.Redis = container.redis
    fields = campaign_fields(
        status, start, end, list(rule.applicable_products), rule.per_user_limit,
        rule.reward_rules,
    )
    client.hset(keys.campaign(tenant, campaign), mapping=fields)
    CodeLoader(client, keys).write_codes(tenant, campaign, rule.use_limit, codes)


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
