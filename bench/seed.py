"""Seed one campaign with N single-use codes straight into MySQL and Redis (bench set-up)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import text

from core.adapters.mysql.code_store import reserve_code_ids
from core.adapters.redis.keys import campaign_fields, code_value
from core.bootstrap import Container
from core.codes import CodeCodec
from schemas.campaign import CampaignRule

CHUNK = 5_000


def seed_codes(
    container: Container, count: int, per_user_limit: int = 1_000_000
) -> tuple[str, list[str]]:
    """Create a tenant's campaign with ``count`` fresh codes; returns (tenant_id, codes)."""
    tenant, campaign = f"bt{uuid.uuid4().hex[:8]}", f"bc{uuid.uuid4().hex[:8]}"
    rule = CampaignRule.model_validate(
        {"perUserLimit": per_user_limit, "rewardRules": [{"type": "COUPON", "id": "BENCH"}]}
    )
    codec = CodeCodec(rule.code, container.settings.code_secret_for(tenant), tenant)
    codes = list(dict.fromkeys(codec.generate_many(count + count // 100 + 10)))[:count]
    now = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    with container.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO campaigns (campaign_id, tenant_id, product_code, status, rule_json,"
                " request_hash, use_limit, per_user_limit, valid_from, created_by, created_at,"
                " updated_at) VALUES (:c, :t, 'APP_A', 'ACTIVE', :r, :h, 1, :pul, :now, 'bench',"
                " :now, :now)"
            ),
            {
                "c": campaign,
                "t": tenant,
                "r": orjson.dumps(rule.model_dump(mode="json", by_alias=True)).decode(),
                "h": hashlib.sha256(campaign.encode()).hexdigest(),
                "pul": per_user_limit,
                "now": now,
            },
        )
    for start in range(0, len(codes), CHUNK):
        chunk = codes[start : start + CHUNK]
        protector = container.settings.code_protector  # stored as generation stores them
        stored = protector.protect(tenant, chunk)
        with container.engine.begin() as conn:
            first_id = reserve_code_ids(conn, len(chunk))
            conn.execute(
                text(
                    "INSERT INTO redeem_codes (id, tenant_id, code, product_code, campaign_id,"
                    " gen_batch_id, gen_time, code_sealed, code_key_id, code_mask) VALUES"
                    " (:id, :t, :code, 'APP_A', :c, 'bench', :now, :s, :k, :m)"
                ),
                [{"id": first_id + n, "t": tenant, "code": p.lookup, "c": campaign, "now": now,
                  "s": p.sealed, "k": protector.active_id, "m": p.mask}
                 for n, p in enumerate(stored)],
            )
        keys = container.keys
        container.redis.mset(
            {keys.code(tenant, p.lookup): code_value(campaign, 1, 0, 0, "") for p in stored}
        )
    keys = container.keys
    container.redis.hset(
        keys.campaign(tenant, campaign),
        mapping=campaign_fields("ACTIVE", now, None, [], per_user_limit),
    )
    container.redis.set(keys.ready(tenant), "1")
    return tenant, codes
