"""Campaign creation (validation, quota, idempotency) and status changes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest

import core.campaigns
from core.bootstrap import Container
from core.generation import Generation
from schemas.campaign import CampaignOutcome, CampaignRule, CreateCampaignRequest
from schemas.events import TenantStatus, TenantType, TenantUpdated
from tests.conftest import unique_id
from tests.integration.test_generation import codes_of, issued, make_tenant, rows

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rule.json"


def request(tenant: str, count: int, campaign: str | None = None, **rule: object
            ) -> CreateCampaignRequest:
    base = orjson.loads(EXAMPLE.read_bytes())
    return CreateCampaignRequest(
        campaign_id=campaign or unique_id("c"), tenant_id=tenant, product_code="APP_A",
        name="Invite", rule=CampaignRule.model_validate({**base, **rule}), code_count=count)


def test_the_seed_rule_creates_a_campaign_with_its_codes(container: Container) -> None:
    tenant = make_tenant(container)
    req = request(tenant, 500)
    result = container.campaigns.create(req)
    assert (result.outcome, result.codes_generated) == (CampaignOutcome.CREATED, 500)
    (name, type_, status, hours, hash_), = rows(
        container, "SELECT tenant_name, tenant_type, status,"
        " TIMESTAMPDIFF(HOUR, valid_from, valid_until), request_hash FROM campaigns"
        " WHERE campaign_id = :c", c=req.campaign_id)
    assert (name, type_, status, hours) == ("Tenant", "CHANNEL", "ACTIVE", 30 * 24)
    assert hash_ == core.campaigns.request_hash(req)
    camp = container.redis.hgetall(container.keys.campaign(tenant, req.campaign_id))
    assert camp["products"] == ",APP_A,MINI_B," and camp["status"] == "ACTIVE"
    assert len(codes_of(container, tenant, req.campaign_id)) == 500


def test_same_request_again_already_exists_other_content_conflicts(
    container: Container,
) -> None:
    tenant = make_tenant(container)
    req = request(tenant, 100)
    assert container.campaigns.create(req).outcome == CampaignOutcome.CREATED
    again = req.model_copy(update={"requested_at": req.requested_at.replace(year=2030)})
    repeat = container.campaigns.create(again)
    assert (repeat.outcome, repeat.codes_generated) == (CampaignOutcome.ALREADY_EXISTS, 100)
    other = container.campaigns.create(request(tenant, 200, req.campaign_id))
    assert other.outcome == CampaignOutcome.CONFLICT and req.campaign_id in other.message
    assert len(codes_of(container, tenant, req.campaign_id)) == 100
    assert issued(container, tenant) == 100


def test_an_interrupted_creation_is_finished_by_the_repeat(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(container)
    req = request(tenant, 3_000)

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(Generation, "run_batch", crash)
        with pytest.raises(RuntimeError):
            container.campaigns.create(req)
    repeat = container.campaigns.create(req)
    assert (repeat.outcome, repeat.codes_generated) == (CampaignOutcome.ALREADY_EXISTS, 3_000)
    assert len(set(codes_of(container, tenant, req.campaign_id))) == 3_000


def test_unknown_and_suspended_tenants_are_refused(container: Container) -> None:
    unknown = container.campaigns.create(request(unique_id("t"), 10))
    assert unknown.outcome == CampaignOutcome.UNKNOWN_TENANT
    tenant = unique_id("t")
    container.tenants.apply_update(TenantUpdated(
        tenant_id=tenant, name="S", type=TenantType.CHANNEL, status=TenantStatus.SUSPENDED,
        code_quota=1000, version=1))
    suspended = container.campaigns.create(request(tenant, 10))
    assert suspended.outcome == CampaignOutcome.TENANT_SUSPENDED
    assert "SUSPENDED" in suspended.message


def test_quota_refusal_names_the_numbers(container: Container) -> None:
    tenant = make_tenant(container, quota=1_000)
    assert container.campaigns.create(request(tenant, 700)).outcome == CampaignOutcome.CREATED
    refused = container.campaigns.create(request(tenant, 400))
    assert refused.outcome == CampaignOutcome.QUOTA_EXCEEDED
    for number in ("1,000", "700", "400"):
        assert number in refused.message
    assert issued(container, tenant) == 700


def test_concurrent_creations_never_exceed_the_quota(container: Container) -> None:
    tenant = make_tenant(container, quota=1_000)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: container.campaigns.create(request(tenant, 400)),
                                range(4)))
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes == ["CREATED", "CREATED", "QUOTA_EXCEEDED", "QUOTA_EXCEEDED"]
    assert issued(container, tenant) == 800


def test_a_rule_with_a_too_small_code_space_is_invalid(container: Container) -> None:
    tenant = make_tenant(container)
    result = container.campaigns.create(request(tenant, 5_000, codeType="RANDOM_NUM",
                                                length=5))
    assert result.outcome == CampaignOutcome.INVALID_RULE and "5,000" in result.message


def test_pause_is_reflected_in_redis_at_once(container: Container) -> None:
    tenant = make_tenant(container)
    req = request(tenant, 10)
    container.campaigns.create(req)
    key = container.keys.campaign(tenant, req.campaign_id)
    container.campaigns.set_status(tenant, req.campaign_id, "PAUSED")
    assert container.redis.hget(key, "status") == "PAUSED"
    assert rows(container, "SELECT status FROM campaigns WHERE campaign_id = :c",
                c=req.campaign_id) == [("PAUSED",)]
    container.redis.delete(key)
    container.campaigns.set_status(tenant, req.campaign_id, "ACTIVE")
    camp = container.redis.hgetall(key)
    assert camp["status"] == "ACTIVE" and camp["pul"] == "1" and camp["until"]
