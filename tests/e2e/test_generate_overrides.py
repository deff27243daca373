"""Codes made by ``redeemflow codes generate`` with rule options are redeemed by a real
worker (before, the batch's rule was not stored and they all answered NOT_FOUND)."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cli.main import app
from core.bootstrap import bootstrap
from core.topics import Topic
from schemas.events import RedeemOutcome, RedeemRequested
from tests.code_support import PLAIN_CODE, reveal
from tests.conftest import unique_id
from tests.e2e.harness import (
    WorkerProcess,
    consume_all,
    outcomes_by_request,
    publish_requests,
    settings_env,
)
from tests.integration.test_generation import make_campaign, make_tenant

pytestmark = pytest.mark.e2e

OPTION_SETS = (
    ["--code-type", "RANDOM_NUM", "--length", "10", "--prefix", "VIP", "--no-check-char"],
    ["--code-type", "RANDOM_ALPHA", "--length", "8", "--exclude", "XYZ", "--signed"],
)


def _generate(env: dict[str, str], campaign: str, count: int, options: list[str]) -> dict:
    """Run the CLI as an operator would: no --tenant-id, the campaign id names it."""
    result = CliRunner().invoke(
        app, ["codes", "generate", "--campaign-id", campaign, "--count", str(count), *options,
              "--json"], env=env)
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout[result.stdout.index("{"):])


def test_codes_generated_with_rule_options_are_redeemed(e2e_settings, tmp_path) -> None:
    env = settings_env(e2e_settings)
    with bootstrap(e2e_settings) as container:
        tenant = make_tenant(container)
        campaign = make_campaign(container, tenant, 3)
        summaries = [_generate(env, campaign, 4, options) for options in OPTION_SETS]
        with container.engine.connect() as conn:
            codes = {s["batch_id"]: [reveal(container, r[0]) for r in conn.execute(
                text(f"SELECT {PLAIN_CODE} FROM redeem_codes WHERE gen_batch_id = :b"),
                {"b": s["batch_id"]})] for s in summaries}
    assert all(s["tenant_id"] == tenant and s["inserted"] == 4 for s in summaries)
    numeric, alpha = (codes[s["batch_id"]] for s in summaries)
    assert all(c.startswith("VIP") and len(c) == 13 and c[3:].isdigit() for c in numeric)
    assert all(len(c) == 13 and not set(c) & set("XYZ") for c in alpha)  # 8 + 4 sig + check

    requests = [
        RedeemRequested(request_id=unique_id("rq"), tenant_id=tenant, product_code="APP_A",
                        code=code.lower(), user_id=unique_id("u"), channel="app")
        for code in numeric + alpha
    ]
    worker = WorkerProcess(e2e_settings, tmp_path).start()
    try:
        publish_requests(e2e_settings, requests)
        results = consume_all(e2e_settings, Topic.REDEEM_RESULTS, expected=len(requests))
    finally:
        assert worker.stop() == 0, worker.log_text()[-3000:]
    outcomes = outcomes_by_request(results)
    assert {r.request_id: {o for o, _ in outcomes[r.request_id]} for r in requests} == {
        r.request_id: {RedeemOutcome.REDEEMED} for r in requests}
