"""Batch persistence of generated codes: MySQL rows, Redis entries, resume, rollback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from core.adapters.mysql import code_store
from core.adapters.mysql.code_store import RowTemplate
from core.adapters.redis.keys import code_value
from core.bootstrap import Container
from core.codes import CodeCodec
from core.errors import CodeSpaceTooSmall, DomainRuleViolation
from core.generation.batches import utc_now_naive
from schemas.campaign import CampaignOutcome, CampaignRule, CreateCampaignRequest
from schemas.code_rule import CodeGenerateRule
from schemas.events import TenantStatus, TenantType, TenantUpdated
from tests.code_support import PLAIN_CODE, code_key, lookup, reveal
from tests.conftest import unique_id

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

RULE = {"codeType": "RANDOM_ALPHANUM", "length": 12, "validDays": 30, "useLimit": 1,
        "applicableProducts": ["APP_A"], "rewardRules": [{"type": "COUPON", "id": "C10"}]}


def make_tenant(container: Container, quota: int = 10_000_000) -> str:
    """A fresh ACTIVE tenant."""
    tenant = unique_id("t")
    container.tenants.apply_update(TenantUpdated(
        tenant_id=tenant, name="Tenant", type=TenantType.CHANNEL, status=TenantStatus.ACTIVE,
        code_quota=quota, version=1))
    return tenant


def make_campaign(container: Container, tenant: str, count: int = 0, **rule: object) -> str:
    """A fresh campaign of ``tenant`` with ``count`` codes."""
    campaign = unique_id("c")
    result = container.campaigns.create(CreateCampaignRequest(
        campaign_id=campaign, tenant_id=tenant, product_code="APP_A",
        rule=CampaignRule.model_validate({**RULE, **rule}), code_count=count))
    assert result.outcome == CampaignOutcome.CREATED, result.message
    return campaign


def rows(container: Container, sql: str, **params: object) -> list[tuple]:
    with container.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params).all()]


def codes_of(container: Container, tenant: str, campaign: str) -> list[str]:
    found = rows(container, f"SELECT {PLAIN_CODE} FROM redeem_codes WHERE tenant_id = :t"
                 " AND campaign_id = :c", t=tenant, c=campaign)
    return [reveal(container, r[0]) for r in found]


def issued(container: Container, tenant: str) -> int:
    return int(rows(container, "SELECT codes_issued FROM tenants WHERE tenant_id = :t",
                    t=tenant)[0][0])


@pytest.mark.parametrize("rule", [
    {"codeType": "RANDOM_NUM", "length": 12},
    {"codeType": "RANDOM_ALPHA", "length": 10, "prefix": "VIP"},
    {"codeType": "RANDOM_ALPHANUM", "length": 12, "signed": True},
    {"codeType": "UUID"},
])
def test_every_code_type_is_persisted(container: Container, rule: dict) -> None:
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant, 2_000, **rule)
    codes = codes_of(container, tenant, campaign)
    assert len(codes) == len(set(codes)) == 2_000
    codec = CodeCodec(CampaignRule.model_validate({**RULE, **rule}).code,
                      container.settings.code_secret_for(tenant), tenant)
    assert all(codec.parse(c) == c for c in codes)
    keys, r = container.keys, container.redis
    values = r.mget([code_key(container, tenant, c) for c in codes])
    assert set(values) == {code_value(campaign, 1, 0, 0, "")}
    assert r.scard(keys.pool(tenant, campaign)) == 2_000
    camp = r.hgetall(keys.campaign(tenant, campaign))
    assert camp["status"] == "ACTIVE" and camp["products"] == ",APP_A," and camp["pul"] == "1"
    assert int(camp["until"]) - int(camp["from"]) == 30 * 86_400_000
    assert r.get(keys.ready(tenant)) == "1"
    assert issued(container, tenant) == 2_000


def test_200k_codes_are_unique_in_one_tenant(container: Container) -> None:
    tenant = make_tenant(container)
    before = container.generation.generated_code_counts().get("RANDOM_NUM", 0)
    campaign = make_campaign(container, tenant, 200_000, codeType="RANDOM_NUM", length=12)
    total, distinct = rows(container, "SELECT COUNT(*), COUNT(DISTINCT code) FROM redeem_codes"
                           " WHERE tenant_id = :t", t=tenant)[0]
    assert total == distinct == 200_000
    (status, inserted), = rows(container, "SELECT status, inserted FROM code_batches"
                               " WHERE campaign_id = :c", c=campaign)
    assert (status, inserted) == ("DONE", 200_000)
    assert issued(container, tenant) == 200_000
    assert container.redis.scard(container.keys.pool(tenant, campaign)) == 200_000
    assert container.generation.generated_code_counts()["RANDOM_NUM"] - before == 200_000


def _template(tenant: str, batch: str) -> RowTemplate:
    now = utc_now_naive()
    return RowTemplate(tenant, "APP_A", "cx", batch, 1, None, now, now, None)


def test_same_code_is_allowed_in_two_tenants_but_not_twice_in_one(container: Container) -> None:
    t1, t2, code = unique_id("t"), unique_id("t"), unique_id("SAME").upper()
    with container.engine.begin() as conn:
        assert code_store.insert_code_rows(conn, _template(t1, "b1"), [code]) == 1
        assert code_store.insert_code_rows(conn, _template(t2, "b2"), [code]) == 1
        assert code_store.insert_code_rows(conn, _template(t1, "b3"), [code]) == 0
    assert len(rows(container, "SELECT 1 FROM redeem_codes WHERE code = :c", c=code)) == 2


def test_a_collision_with_an_existing_code_is_replaced(container: Container) -> None:
    tenant = make_tenant(container)
    first = make_campaign(container, tenant, 10)
    taken = codes_of(container, tenant, first)[0]
    second = make_campaign(container, tenant)
    batch = container.generation.start_batch(tenant, second, 5, "ops")
    codec = CodeCodec(CodeGenerateRule(), container.settings.code_secret_for(tenant), tenant)
    injected = [taken, *codec.generate_many(4)]
    result = container.generation.run_batch(batch.batch_id, chunks=[injected])
    assert (result.inserted, result.collisions, result.status) == (5, 1, "DONE")
    mine = codes_of(container, tenant, second)
    assert len(set(mine)) == 5 and taken not in mine and set(injected[1:]) <= set(mine)
    assert rows(container, "SELECT campaign_id FROM redeem_codes WHERE tenant_id = :t"
                " AND code = :c", t=tenant, c=lookup(container, tenant, taken)) == [(first,)]
    assert issued(container, tenant) == 15
    assert container.redis.sismember(container.keys.pool(tenant, second),
                                     lookup(container, tenant, taken)) == 0


def _crashing(codec: CodeCodec, size: int, good: int) -> Iterator[list[str]]:
    for _ in range(good):
        yield codec.generate_many(size)
    raise RuntimeError("killed")


def test_resume_after_an_interrupted_batch_completes_without_duplicates(
    container: Container,
) -> None:
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant)
    batch = container.generation.start_batch(tenant, campaign, 30_000, "ops")
    codec = CodeCodec(CodeGenerateRule(), container.settings.code_secret_for(tenant), tenant)
    with pytest.raises(RuntimeError):
        container.generation.run_batch(batch.batch_id, chunks=_crashing(codec, 10_000, 2),
                  chunk_size=10_000)
    with container.engine.connect() as conn:
        half = code_store.get_batch(conn, batch.batch_id)
    assert half is not None and half.status == "RUNNING" and half.inserted in (10_000, 20_000)
    result = container.generation.resume_batch(batch.batch_id)
    assert (result.inserted, result.status) == (30_000, "DONE")
    codes = codes_of(container, tenant, campaign)
    assert len(codes) == len(set(codes)) == 30_000
    keys = container.keys
    assert None not in container.redis.mget([code_key(container, tenant, c) for c in codes])
    assert container.redis.scard(keys.pool(tenant, campaign)) == 30_000
    assert issued(container, tenant) == 30_000
    with pytest.raises(DomainRuleViolation):
        container.generation.generate_codes(tenant, campaign, 0)


def test_rollback_removes_rows_and_cache_entries(container: Container) -> None:
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant, 1_000)
    result = container.generation.generate_codes(tenant, campaign, 5_000)
    added = set(codes_of(container, tenant, campaign)) - set(
        reveal(container, c) for (c,) in rows(
            container, f"SELECT {PLAIN_CODE} FROM redeem_codes WHERE gen_batch_id <> :b"
            " AND tenant_id = :t", b=result.batch_id, t=tenant))
    assert len(added) == 5_000 and issued(container, tenant) == 6_000
    undone = container.generation.rollback_batch(result.batch_id)
    assert undone.status == "ROLLED_BACK" and undone.written_now == 5_000
    assert len(codes_of(container, tenant, campaign)) == 1_000
    keys = container.keys
    assert set(container.redis.mget([code_key(container, tenant, c) for c in added])) == {None}
    assert container.redis.scard(keys.pool(tenant, campaign)) == 1_000
    assert issued(container, tenant) == 1_000
    assert container.redis.get(keys.ready(tenant)) == "1"
    assert container.generation.rollback_batch(result.batch_id).written_now == 0


def test_rollback_is_refused_once_a_code_was_used(container: Container) -> None:
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant, 100)
    with container.engine.begin() as conn:
        conn.execute(text("UPDATE redeem_codes SET status = 1 WHERE tenant_id = :t LIMIT 1"),
                     {"t": tenant})
        (batch_id,), = conn.execute(text("SELECT batch_id FROM code_batches"
                                         " WHERE campaign_id = :c"), {"c": campaign}).all()
    with pytest.raises(DomainRuleViolation, match="redeemed"):
        container.generation.rollback_batch(batch_id)
    assert len(codes_of(container, tenant, campaign)) == 100


def test_a_too_small_code_space_is_refused(container: Container) -> None:
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant, 0, codeType="RANDOM_NUM", length=5,
                             checkChar=False)
    with pytest.raises(CodeSpaceTooSmall):
        container.generation.generate_codes(tenant, campaign, 5_000)
    assert codes_of(container, tenant, campaign) == []


def test_stats_count_codes_and_guess_odds(container: Container) -> None:
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant, 1_000, codeType="RANDOM_NUM", length=8)
    with container.engine.begin() as conn:
        conn.execute(text("UPDATE redeem_codes SET status = 2, export_status = 1"
                          " WHERE tenant_id = :t LIMIT 10"), {"t": tenant})
    stats = container.generation.campaign_stats(tenant, campaign)
    assert (stats.issued, stats.unused, stats.granted, stats.exported) == (1_000, 990, 10, 10)
    assert stats.code_space == 10**8 and stats.guess_odds == pytest.approx(1e-5)
