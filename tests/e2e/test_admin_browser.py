"""The back office in a real headless browser: an operator's day, end to end.

Sign in; create a campaign; generate 10,000 codes watching the progress bar reach 100 %;
list them (no full code anywhere in the DOM or the page source); export 100 to .xlsx and
open the download; look a code up; redeem it through a real worker and see it on the
dashboard and in the lookup. REDEEMFLOW_SCREENSHOTS=1 also saves the pages' screenshots
for docs/admin.md.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import orjson
import pytest
from playwright.sync_api import Browser, Page, expect

from core.bootstrap import Container, bootstrap
from core.settings import Settings
from core.topics import Topic
from schemas.events import Channel, RedeemRequested
from tests.code_support import lookup
from tests.conftest import unique_id
from tests.e2e.admin_support import (
    ServedApp,
    assert_no_code_in,
    campaign_codes,
    chromium,
    count_rows,
    make_operator,
    make_tenant,
    new_context,
    shoot,
    sign_in,
)
from tests.e2e.harness import WorkerProcess, publish, publish_requests

pytestmark = pytest.mark.e2e


@pytest.fixture()
def admin_settings(e2e_settings: Settings) -> Settings:
    """The test's settings; the per-address sign-in throttle is out of the way here."""
    return e2e_settings.model_copy(update={"admin_ip_max_failures": 100_000,
                                           "admin_counts_cache_seconds": 0})


@pytest.fixture()
def office(admin_settings: Settings) -> Iterator[tuple[Container, ServedApp]]:
    """A container and the back office served over it."""
    with bootstrap(admin_settings) as container, ServedApp(container) as served:
        yield container, served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module (each test opens its own context)."""
    with chromium() as launched:
        yield launched


def _whole_page(page: Page) -> str:
    """The page source as served plus the live DOM (attributes included)."""
    return page.content() + page.evaluate("document.documentElement.outerHTML")


def _create_campaign(page: Page, campaign_id: str, name: str) -> None:
    page.goto("/campaigns")
    page.click("#new-campaign")
    page.fill("#campaign_id", campaign_id)
    page.fill("#name", name)
    page.fill("#product_code", "APP_A")
    page.click("#create")
    page.wait_for_url(f"**/campaigns/{campaign_id}")


def _generate(page: Page, campaign_id: str, count: int) -> list[int]:
    """Start a generation and follow its bar; the percentages seen on the way."""
    page.goto(f"/campaigns/{campaign_id}/generate")
    page.fill("#count", str(count))
    page.click("#start")
    page.wait_for_url("**/jobs/*")
    seen = []
    deadline = time.monotonic() + 240
    while page.get_attribute("#progress-status", "data-status") == "running":
        assert time.monotonic() < deadline, "generation did not finish"
        seen.append(int(page.inner_text("#progress-percent")))
        time.sleep(0.1)
    return seen


def _wait_redeemed(container: Container, tenant: str, code: str) -> None:
    deadline = time.monotonic() + 120
    while count_rows(container, "redemptions", "tenant_id = :t AND code = :c AND status = 2",
                     t=tenant, c=lookup(container, tenant, code)) == 0:
        assert time.monotonic() < deadline, "the worker never redeemed the code"
        time.sleep(0.3)


@pytest.mark.timeout(600)
def test_an_operators_day(office: tuple[Container, ServedApp], browser: Browser,
                          admin_settings: Settings, tmp_path: Path) -> None:
    container, served = office
    tenant = make_tenant(container)
    account = make_operator(container, tenant, "admin")
    worker = WorkerProcess(admin_settings, tmp_path).start()
    context = new_context(browser, served.url)
    page = context.new_page()
    try:
        sign_in(page, account)
        expect(page.locator("#whoami")).to_contain_text(account.email)
        campaign = unique_id("c")
        _create_campaign(page, campaign, "Spring invite 春季邀请")
        expect(page.locator("#campaign-status")).to_have_text("ACTIVE")

        seen = _generate(page, campaign, 10_000)
        expect(page.locator("#progress-status")).to_have_attribute("data-status", "done")
        expect(page.locator("#progress-percent")).to_have_text("100")
        expect(page.locator("#progress-bar")).to_have_attribute("data-percent", "100")
        assert seen and min(seen) < 100, "the bar was watched while the job ran"
        page.wait_for_timeout(500)  # the bar's width transition
        shoot(page, "generate-progress")
        codes = campaign_codes(container, tenant, campaign)
        assert len(codes) == 10_000

        page.goto(f"/campaigns/{campaign}/codes")
        expect(page.locator("#code-list tbody tr")).to_have_count(50)
        assert_no_code_in(_whole_page(page), codes)
        first_row = page.locator("#code-list tbody tr").first.get_attribute("data-row")
        page.click("#next-page")
        expect(page.locator("#code-list tbody tr").first).not_to_have_attribute(
            "data-row", first_row or "")
        assert_no_code_in(_whole_page(page), codes)
        page.goto(f"/campaigns/{campaign}/codes")
        shoot(page, "codes")

        page.goto(f"/exports?campaign={campaign}")
        page.fill("#count", "100")
        page.select_option("#file_format", "xlsx")
        with page.expect_download() as waiting:
            page.click("#download")
        download = waiting.value
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        sheet = openpyxl.load_workbook(saved, read_only=True).active
        assert sheet is not None
        exported = [str(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert len(exported) == 100 and set(exported) <= set(codes)
        assert count_rows(container, "redeem_codes r JOIN export_batches x"
                          " ON x.seq = r.export_seq", "r.tenant_id = :t AND r.campaign_id = :c"
                          " AND r.export_status = 1 AND x.account_id = :a",
                          t=tenant, c=campaign, a=account.operator_id) == 100
        page.goto("/exports")
        digest = hashlib.sha256(saved.read_bytes()).hexdigest()
        expect(page.locator("#export-history tbody tr").first).to_have_attribute(
            "data-export", _export_id(container, tenant, digest))
        assert_no_code_in(_whole_page(page), codes)
        shoot(page, "export")

        code = exported[0]
        typed = "-".join(code[i:i + 4] for i in range(0, len(code), 4)).lower()
        page.goto("/lookup")
        page.fill("#code", f"  {typed} ")
        page.click("#look-up")
        expect(page.locator("#history-status")).to_have_text("unused")
        expect(page.locator("#h-exported-by")).to_have_text(account.email)
        expect(page.locator("#h-generated-by")).to_have_text(account.email)
        assert_no_code_in(_whole_page(page), codes)

        publish_requests(admin_settings, [RedeemRequested(
            request_id=unique_id("r"), tenant_id=tenant, product_code="APP_A", code=code,
            user_id="u-e2e-1", channel=Channel.APP)])
        _wait_redeemed(container, tenant, code)

        page.goto("/")
        row = page.locator(f"#campaign-counts tr[data-campaign='{campaign}']")
        expect(row.locator("[data-count=redeemed]")).to_have_text("1")
        expect(row.locator("[data-count=generated]")).to_have_text("10,000")
        expect(row.locator("[data-count=exported]")).to_have_text("100")
        expect(page.locator("#outcomes")).to_contain_text("REDEEMED")
        shoot(page, "dashboard")

        page.goto("/lookup")
        page.fill("#code", typed.upper())
        page.click("#look-up")
        expect(page.locator("#history-status")).to_have_text("granted")
        expect(page.locator(".h-user")).to_have_text("u-e2e-1")
        expect(page.locator(".h-channel")).to_have_text("app")
        assert_no_code_in(_whole_page(page), codes)
        shoot(page, "lookup")

        page.goto(f"/campaigns/{campaign}")
        expect(page.locator(".tile-value[data-count=redeemed]")).to_have_text("1")
        shoot(page, "campaign")
        page.click("#pause")
        expect(page.locator("#campaign-status")).to_have_text("PAUSED")
        page.click("#resume")
        expect(page.locator("#campaign-status")).to_have_text("ACTIVE")
        page.goto("/campaigns")
        shoot(page, "campaigns")
        page.goto("/audit")
        for action in ("login", "campaign_create", "generate", "export", "lookup"):
            expect(page.locator(f"#audit-list tr[data-action={action}]").first).to_be_visible()
        assert_no_code_in(_whole_page(page), codes)
        shoot(page, "audit")
        secret = codes[-1]
        publish(admin_settings, Topic.REDEEM_REQUESTS, [(
            f"{tenant}:{secret}".encode(),
            orjson.dumps({"tenant_id": tenant, "code": secret, "schema_version": 1}))])
        deadline = time.monotonic() + 90
        while True:
            page.goto("/ops?topic=redeem.requests")
            if page.locator("#dlq-list input[name=ref]").count():
                break
            assert time.monotonic() < deadline, "the malformed request was never dead-lettered"
            time.sleep(1)
        assert_no_code_in(_whole_page(page), codes)
        shoot(page, "ops")
        page.locator("#dlq-list input[name=ref]").first.check()
        page.click("#dlq-replay")
        expect(page.locator("#ops-notice")).to_have_text("replayed 1")
        page.click("#cache-verify")
        expect(page.locator("#cache-result")).to_be_visible()
        page.click("#compensation-dry-run")
        expect(page.locator("#compensation-report")).to_be_visible()
        assert_no_code_in(_whole_page(page), codes)
        shoot(page, "ops-compensation")
        page.click("#lang-zh")
        expect(page.locator("[data-nav=campaigns]")).to_have_text("活动")
        page.goto("/")
        expect(page.locator("h1")).to_have_text("概览")
        shoot(page, "dashboard-zh")
    finally:
        context.close()
        assert worker.stop() == 0, worker.log_text()[-3000:]


def _export_id(container: Container, tenant: str, digest: str) -> str:
    from sqlalchemy import text

    with container.engine.connect() as conn:
        row = conn.execute(text("SELECT export_id FROM export_batches WHERE tenant_id = :t"
                                " AND file_sha256 = :h"), {"t": tenant, "h": digest}).one()
    return str(row[0])
