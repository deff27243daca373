"""A generation batch keeps its own code rule: its codes pass the offline check, a resume
continues in that rule, and its generated count is stored for the metrics."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.adapters.mysql import code_store
from core.adapters.mysql.redemption_store import RedemptionStore
from core.bootstrap import Container
from core.codes import CodeCodec
from core.redemption.formats import TenantCodeFormats
from schemas.code_rule import CodeGenerateRule
from tests.code_support import PLAIN_CODE, reveal
from tests.integration.test_generation import _crashing, codes_of, make_campaign, make_tenant

pytestmark = pytest.mark.integration

#: Every rule option of ``codes generate`` changed from the campaign's default rule.
OVERRIDE = CodeGenerateRule.model_validate(
    {"codeType": "RANDOM_NUM", "length": 10, "prefix": "VIP", "checkChar": False})
SIGNED = CodeGenerateRule.model_validate(
    {"codeType": "RANDOM_ALPHA", "length": 8, "excludeChars": "XYZ", "signed": True})


def _codec(container: Container, tenant: str, rule: CodeGenerateRule) -> CodeCodec:
    return CodeCodec(rule, container.settings.code_secret_for(tenant), tenant)


def _batch_codes(container: Container, batch_id: str) -> list[str]:
    with container.engine.connect() as conn:
        return [reveal(container, r[0]) for r in conn.execute(
            text(f"SELECT {PLAIN_CODE} FROM redeem_codes WHERE gen_batch_id = :b"),
            {"b": batch_id})]


def test_a_batch_stores_its_rule_and_the_offline_check_accepts_its_codes(
    container: Container,
) -> None:
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant, 10)
    plain = container.generation.generate_codes(tenant, campaign, 20, rule=OVERRIDE)
    signed = container.generation.generate_codes(tenant, campaign, 20, rule=SIGNED)
    with container.engine.connect() as conn:
        stored = code_store.get_batch(conn, plain.batch_id)
    assert stored is not None and stored.rule is not None
    assert CodeGenerateRule.model_validate(stored.rule) == OVERRIDE

    formats = TenantCodeFormats(RedemptionStore(container.hot_engine).tenant_code_rules,
                                container.settings.code_secret_for)
    formats.load(tenant)
    for batch, rule in ((plain, OVERRIDE), (signed, SIGNED)):
        codes = _batch_codes(container, batch.batch_id)
        assert len(codes) == 20
        assert all(_codec(container, tenant, rule).parse(c) == c for c in codes)
        assert all(formats.parse(tenant, c.lower()) == c for c in codes), rule
    campaign_codes = set(codes_of(container, tenant, campaign)) - set(
        _batch_codes(container, plain.batch_id) + _batch_codes(container, signed.batch_id))
    assert len(campaign_codes) == 10
    assert all(formats.parse(tenant, c) == c for c in campaign_codes)


def test_a_rolled_back_batch_rule_no_longer_passes_the_offline_check(
    container: Container,
) -> None:
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant, 5)
    batch = container.generation.generate_codes(tenant, campaign, 5, rule=OVERRIDE)
    code = _batch_codes(container, batch.batch_id)[0]
    container.generation.rollback_batch(batch.batch_id)
    formats = TenantCodeFormats(RedemptionStore(container.hot_engine).tenant_code_rules,
                                container.settings.code_secret_for)
    formats.load(tenant)
    assert formats.parse(tenant, code) is None


def test_resume_continues_in_the_rule_the_batch_started_with(container: Container) -> None:
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant)
    batch = container.generation.start_batch(tenant, campaign, 3_000, "ops", OVERRIDE)
    override = _codec(container, tenant, OVERRIDE)
    with pytest.raises(RuntimeError):
        container.generation.run_batch(batch.batch_id, chunks=_crashing(override, 1_000, 1),
                  chunk_size=1_000)
    result = container.generation.resume_batch(batch.batch_id)
    assert (result.inserted, result.status) == (3_000, "DONE")
    codes = _batch_codes(container, batch.batch_id)
    assert len(set(codes)) == 3_000
    assert all(override.parse(c) == c for c in codes), "a resumed batch switched format"


def test_generated_counts_are_stored_per_batch_and_survive_a_rollback(
    container: Container,
) -> None:
    before = container.generation.generated_code_counts()
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant, 30)  # campaign rule: RANDOM_ALPHANUM
    batch = container.generation.generate_codes(tenant, campaign, 40, rule=OVERRIDE)
    container.generation.rollback_batch(batch.batch_id)
    after = container.generation.generated_code_counts()
    assert after["RANDOM_ALPHANUM"] - before.get("RANDOM_ALPHANUM", 0) == 30
    assert after["RANDOM_NUM"] - before.get("RANDOM_NUM", 0) == 40
