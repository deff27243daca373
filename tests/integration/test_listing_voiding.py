"""Masked listings with keyset pages; voiding in MySQL and Redis, proven by redemption."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from core.adapters.redis.pool import CodePool
from core.allocation import allocate_code
from core.errors import NotFound, UnknownCampaign
from core.export import export_codes
from core.listing import list_codes
from core.voiding import void_codes
from schemas.events import RedeemOutcome as O
from tests.code_support import code_key, lookup
from tests.integration.redeem_support import flush_tenant, make_service, request, seed_campaign

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


def row(container, tenant: str, code: str):
    with container.engine.connect() as conn:
        return conn.execute(
            text("SELECT status, remark FROM redeem_codes WHERE tenant_id=:t AND code=:c"),
            {"t": tenant, "c": lookup(container, tenant, code)}).one()


def test_listing_is_masked_paginated_and_filtered(container, tmp_path: Path) -> None:
    seeded = seed_campaign(container, count=7)
    export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, "tester", 2, "csv",
                 tmp_path / "e.csv")
    seen, after = [], 0
    while True:
        page = list_codes(container.storage, seeded.tenant_id, seeded.campaign_id, limit=3,
                          after_id=after)
        seen += page.codes
        if page.next_after_id is None:
            break
        after = page.next_after_id
    assert len(seen) == 7 and len({v.id for v in seen}) == 7
    full = set(seeded.codes)
    for view in seen:
        assert view.masked_code not in full and "*" in view.masked_code
        assert view.generated_by == "tester" and view.generated_at is not None
        assert all(code not in str(view.as_dict()) for code in full)
    exported = list_codes(container.storage, seeded.tenant_id, seeded.campaign_id,
                          exported=True).codes
    assert len(exported) == 2
    assert all(v.exported_by == "tester" and v.exported_at for v in exported)
    assert len(list_codes(container.storage, seeded.tenant_id, seeded.campaign_id,
                          exported=False, status="unused").codes) == 5
    with pytest.raises(UnknownCampaign):
        list_codes(container.storage, "tn-nobody", seeded.campaign_id)


async def test_voided_code_redeems_as_not_found(container) -> None:
    seeded = seed_campaign(container, count=2)
    target, other = seeded.codes
    result = void_codes(container.code_ports, seeded.tenant_id, code=target.lower(),
                        reason="leaked")
    assert result.voided == 1
    status, remark = row(container, seeded.tenant_id, target)
    assert status == 3 and "leaked" in remark
    assert container.redis.get(code_key(container, seeded.tenant_id, target)).split("|")[3] == "3"
    service, _ = make_service(container)
    [res] = await service.process([request(seeded, target)])
    assert res.outcome is O.NOT_FOUND
    flush_tenant(container, seeded.tenant_id)  # Redis lost: MySQL alone must refuse it
    [res] = await service.process([request(seeded, target)])
    assert res.outcome is O.NOT_FOUND
    [ok] = await service.process([request(seeded, other)])
    assert ok.outcome is O.REDEEMED
    again = void_codes(container.code_ports, seeded.tenant_id, code=target)
    assert (again.voided, again.already_voided) == (0, 1)
    used = void_codes(container.code_ports, seeded.tenant_id, code=other)
    assert (used.voided, used.used) == (0, 1)
    with pytest.raises(NotFound):
        void_codes(container.code_ports, seeded.tenant_id, code="NOSUCHCODE1")


async def test_void_campaign_skips_used_and_partly_used(container) -> None:
    seeded = seed_campaign(container, count=6, rule={
        "useLimit": 3, "perUserLimit": 3, "rewardRules": [{"type": "COUPON", "id": "M"}]})
    CodePool(container.redis, container.keys).add(  # as generation fills it: lookups
        seeded.tenant_id, seeded.campaign_id,
        [lookup(container, seeded.tenant_id, c) for c in seeded.codes])
    service, _ = make_service(container)
    [res] = await service.process([request(seeded, seeded.codes[0], user="u1")])
    assert res.outcome is O.REDEEMED
    result = void_codes(container.code_ports, seeded.tenant_id, campaign_id=seeded.campaign_id,
                        reason="campaign cancelled")
    assert (result.voided, result.partly_used) == (5, 1)
    pool_key = container.keys.pool(seeded.tenant_id, seeded.campaign_id)
    # voided codes left the pool; the partly used one is a stale member allocation drops
    assert container.redis.smembers(pool_key) == {
        lookup(container, seeded.tenant_id, seeded.codes[0])}
    [res] = await service.process([request(seeded, seeded.codes[0], user="u1")])
    assert res.outcome is O.REDEEMED, "a partly used multi-use code keeps its remaining uses"
    for code in seeded.codes[1:]:
        [res] = await service.process([request(seeded, code)])
        assert res.outcome is O.NOT_FOUND
    assert len(list_codes(container.storage, seeded.tenant_id, seeded.campaign_id,
                          status="voided").codes) == 5


async def test_void_export_batch_keeps_bound_user(container, tmp_path: Path) -> None:
    seeded = seed_campaign(container, count=5)
    batch = export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, "tester", 3,
                         "csv",
                         tmp_path / "b.csv")
    mine = allocate_code(container.code_ports, seeded.tenant_id, seeded.campaign_id, "gina")
    result = void_codes(container.code_ports, seeded.tenant_id, export_batch_id=batch.export_id)
    assert result.voided == 3
    statuses = list_codes(container.storage, seeded.tenant_id, seeded.campaign_id).codes
    assert sorted(v.status for v in statuses) == ["unused", "unused"] + ["voided"] * 3
    with pytest.raises(NotFound):
        void_codes(container.code_ports, "tn-other", export_batch_id=batch.export_id)
    void_codes(container.code_ports, seeded.tenant_id, code=mine, reason="fraud")
    raw = container.redis.get(code_key(container, seeded.tenant_id, mine))
    assert raw.split("|")[3:] == ["3", "gina"]
    service, _ = make_service(container)
    [res] = await service.process([request(seeded, mine, user="gina")])
    assert res.outcome is O.NOT_FOUND


def test_cli_export_list_allocate_void(container, base_settings, tmp_path: Path,
                                       monkeypatch) -> None:
    import orjson
    from typer.testing import CliRunner

    from cli.main import app

    seeded = seed_campaign(container, count=6)
    CodePool(container.redis, container.keys).add(  # as generation fills it: lookups
        seeded.tenant_id, seeded.campaign_id,
        [lookup(container, seeded.tenant_id, c) for c in seeded.codes])
    monkeypatch.setenv("REDEEMFLOW_DATABASE_URL", base_settings.database_url)
    monkeypatch.setenv("REDEEMFLOW_REDIS_URL", base_settings.redis_url)
    monkeypatch.setenv("REDEEMFLOW_REDIS_KEY_PREFIX", base_settings.redis_key_prefix)
    runner = CliRunner()
    ids = ["--tenant-id", seeded.tenant_id, "--campaign-id", seeded.campaign_id]
    out = tmp_path / "cli.xlsx"
    done = runner.invoke(app, ["codes", "export", *ids, "--account-id", "tester", "--count", "2",
                               "--format", "xlsx", "--output", str(out), "--json"])
    assert done.exit_code == 0, done.output
    assert orjson.loads(done.stdout)["count"] == 2 and out.exists()
    refused = runner.invoke(app, ["codes", "export", *ids, "--account-id", "tester",
                                  "--count", "9", "--format", "csv", "--output",
                                  str(tmp_path / "no.csv")])
    assert refused.exit_code == 2 and not (tmp_path / "no.csv").exists()
    given = runner.invoke(app, ["codes", "allocate", *ids, "--user-id", "hana", "--json"])
    assert given.exit_code == 0, given.output
    code = orjson.loads(given.stdout)["code"]
    listed = runner.invoke(app, ["codes", "list", *ids, "--json", "--limit", "10"])
    assert listed.exit_code == 0 and code not in listed.stdout
    assert "hana" in listed.stdout
    voided = runner.invoke(app, ["codes", "void", "--tenant-id", seeded.tenant_id,
                                 "--campaign-id", seeded.campaign_id, "--json"])
    assert voided.exit_code == 0 and orjson.loads(voided.stdout)["voided"] == 6
