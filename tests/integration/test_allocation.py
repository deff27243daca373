"""Allocation from the Redis pool with the MySQL fallback; binding proven by redemption."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import text

from core.adapters.redis.pool import CodePool
from core.allocation import allocate_code
from core.bootstrap import bootstrap
from core.errors import PoolExhausted, UnknownCampaign
from core.export import export_codes
from core.settings import Settings
from schemas.events import RedeemOutcome as O
from tests.code_support import code_key, lookup
from tests.integration.redeem_support import make_service, request, seed_campaign

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


def fill_pool(container, seeded, codes: list[str] | None = None) -> None:
    """The pool as generation fills it: the codes' lookups, never the codes."""
    pool = CodePool(container.redis, container.keys)
    chosen = codes if codes is not None else seeded.codes
    pool.add(seeded.tenant_id, seeded.campaign_id,
             [lookup(container, seeded.tenant_id, c) for c in chosen])


def allocate_many(settings: dict, tenant: str, campaign: str, worker: int, n: int) -> list[str]:
    """Runs in a child process: its own container, ``n`` allocations to distinct users."""
    with bootstrap(Settings(**settings)) as built:
        return [allocate_code(built.code_ports, tenant, campaign,
                              f"w{worker}-u{i}") for i in range(n)]


def bound_rows(container, tenant: str, campaign: str) -> list[tuple[str, str]]:
    with container.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            text("SELECT code, user_id FROM redeem_codes WHERE tenant_id=:t AND campaign_id=:c"
                 " AND user_id IS NOT NULL"), {"t": tenant, "c": campaign}).all()]


def test_two_processes_allocate_distinct_codes(container, base_settings) -> None:
    seeded = seed_campaign(container, count=1000)
    fill_pool(container, seeded)
    settings = {"database_url": base_settings.database_url, "redis_url": base_settings.redis_url,
                "redis_key_prefix": base_settings.redis_key_prefix}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as procs:
        parts = procs.starmap(allocate_many, [
            (settings, seeded.tenant_id, seeded.campaign_id, w, 500) for w in range(2)])
    codes = parts[0] + parts[1]
    assert len(codes) == 1000 == len(set(codes)), "no code is allocated twice"
    assert set(codes) == set(seeded.codes)
    rows = bound_rows(container, seeded.tenant_id, seeded.campaign_id)
    assert len(rows) == 1000 and len({u for _, u in rows}) == 1000
    with container.engine.connect() as conn:
        audited = conn.execute(text("SELECT COUNT(*) FROM code_allocations WHERE tenant_id=:t"),
                               {"t": seeded.tenant_id}).scalar()
    assert audited == 1000
    with pytest.raises(PoolExhausted, match="no code left to allocate"):
        allocate_code(container.code_ports, seeded.tenant_id, seeded.campaign_id, "late-user")


def test_fallback_when_pool_lost_and_stale_members_skipped(container, tmp_path: Path) -> None:
    seeded = seed_campaign(container, count=4)
    out = tmp_path / "two.csv"
    exported = export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, "tester", 2,
                            "csv", out)
    assert exported.count == 2
    exported_codes = {line.split(",")[0] for line in out.read_text().splitlines()[1:]}
    fill_pool(container, seeded, sorted(exported_codes))  # stale: exported meanwhile
    first = allocate_code(container.code_ports, seeded.tenant_id, seeded.campaign_id, "alice")
    second = allocate_code(container.code_ports, seeded.tenant_id, seeded.campaign_id, "bob")
    assert {first, second} == set(seeded.codes) - exported_codes
    with pytest.raises(PoolExhausted):
        allocate_code(container.code_ports, seeded.tenant_id, seeded.campaign_id, "carol")
    with pytest.raises(UnknownCampaign):
        allocate_code(container.code_ports, seeded.tenant_id, "cp-no-such", "carol")


def test_allocated_code_is_never_exported(container, tmp_path: Path) -> None:
    seeded = seed_campaign(container, count=3)
    fill_pool(container, seeded)
    given = allocate_code(container.code_ports, seeded.tenant_id, seeded.campaign_id, "dave")
    out = tmp_path / "rest.csv"
    export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, "tester", 2, "csv", out)
    assert given not in out.read_text()
    assert CodePool(container.redis, container.keys).size(
        seeded.tenant_id, seeded.campaign_id) == 0, "exported codes left the pool"


async def test_allocated_code_redeems_only_for_its_user(container) -> None:
    seeded = seed_campaign(container, count=2)
    fill_pool(container, seeded)
    code = allocate_code(container.code_ports, seeded.tenant_id, seeded.campaign_id, "erin")
    raw = container.redis.get(code_key(container, seeded.tenant_id, code))
    assert raw.endswith("|erin")
    service, _ = make_service(container)
    [stranger] = await service.process([request(seeded, code, user="mallory")])
    assert stranger.outcome is O.NOT_FOUND
    [owner] = await service.process([request(seeded, code, user="erin")])
    assert owner.outcome is O.REDEEMED


async def test_binding_holds_when_redis_missed_it(container) -> None:
    seeded = seed_campaign(container, count=1)
    code = allocate_code(container.code_ports, seeded.tenant_id, seeded.campaign_id, "frank")
    container.redis.delete(code_key(container, seeded.tenant_id, code))
    service, _ = make_service(container)
    [stranger] = await service.process([request(seeded, code, user="mallory")])
    assert stranger.outcome is O.NOT_FOUND
