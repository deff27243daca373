"""Helpers of the back-office browser tests: the app served in a thread, headless Debian
Chromium driven by Playwright, tenants and operators made through the core services."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlalchemy import text

from admin.app import create_app
from core.bootstrap import Container
from schemas.events import TenantStatus, TenantType, TenantUpdated
from tests.code_support import PLAIN_CODE, reveal
from tests.conftest import unique_id

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "img" / "admin"
CHROMIUM = os.environ.get("REDEEMFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PASSWORD = "correct-horse-battery-staple"


class ServedApp:
    """The back office on a free port, served by uvicorn in a daemon thread."""

    def __init__(self, container: Container) -> None:
        config = uvicorn.Config(create_app(container), host="127.0.0.1", port=0,
                                log_config=None, access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the back office did not start"
            time.sleep(0.05)
        return self

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:41234."""
        socket = self.server.servers[0].sockets[0]
        return f"http://127.0.0.1:{socket.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, with a fresh temporary profile (Playwright's own)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Browser, base_url: str, lang: str = "en") -> BrowserContext:
    """A browser context (own cookies) with the language cookie set."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 860},
                                  accept_downloads=True)
    host = base_url.split("//")[1].split(":")[0]
    context.add_cookies([{"name": "rf_lang", "value": lang, "domain": host, "path": "/"}])
    return context


def make_tenant(container: Container, tenant_id: str | None = None) -> str:
    """An ACTIVE tenant with a large quota, written through the tenant service."""
    tenant = tenant_id or unique_id("T")[:20]
    container.tenants.apply_update(TenantUpdated(
        tenant_id=tenant, name=f"Tenant {tenant}", type=TenantType.CHANNEL,
        status=TenantStatus.ACTIVE, code_quota=50_000_000, version=1))
    return tenant


@dataclass(frozen=True)
class Account:
    """An operator made for a test."""

    email: str
    password: str
    tenant_id: str | None
    operator_id: str


def make_operator(container: Container, tenant_id: str | None, role: str) -> Account:
    """A fresh operator of a tenant (None: platform) with the test password."""
    email = f"{unique_id(role)}@example.com"
    operator, _ = container.backoffice.operators.create(tenant_id, email, role, PASSWORD)
    return Account(email, PASSWORD, tenant_id, operator.operator_id)


def sign_in(page: Page, account: Account) -> None:
    """Fill the sign-in form and land on the dashboard."""
    page.goto("/login")
    page.fill("#email", account.email)
    page.fill("#password", account.password)
    page.click("#sign-in")
    page.wait_for_url("**/")


def shoot(page: Page, name: str) -> None:
    """Save a screenshot for docs/admin.md when REDEEMFLOW_SCREENSHOTS=1."""
    if os.environ.get("REDEEMFLOW_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"))


def campaign_codes(container: Container, tenant_id: str, campaign_id: str) -> list[str]:
    """Every full code of a campaign (read in the test only, to prove pages never show one)."""
    with container.engine.connect() as conn:
        return [reveal(container, r[0]) for r in conn.execute(text(
            f"SELECT {PLAIN_CODE} FROM redeem_codes WHERE tenant_id = :t AND campaign_id = :c"),
            {"t": tenant_id, "c": campaign_id})]


def count_rows(container: Container, table: str, where: str, **params: object) -> int:
    """COUNT(*) of a table's rows matching ``where`` (test checks that nothing was written)."""
    with container.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE {where}"),
                                params).one()[0])


def assert_no_code_in(html: str, codes: list[str]) -> None:
    """No full code appears anywhere in ``html`` (the check that makes masking real)."""
    leaked = [c for c in codes if c in html]
    assert not leaked, f"{len(leaked)} full codes in the page, e.g. {leaked[0][:2]}..."


RULE = {"codeType": "RANDOM_ALPHANUM", "length": 12, "validDays": 30,
        "rewardRules": [{"type": "COUPON", "id": "WELCOME"}]}


def make_campaign(container: Container, tenant_id: str, codes: int = 200,
                  account_id: str = "system") -> str:
    """A campaign with ``codes`` codes, made through the core service (not the browser)."""
    from schemas.campaign import CreateCampaignRequest

    campaign = unique_id("c")
    result = container.campaigns.create(CreateCampaignRequest.model_validate({
        "campaign_id": campaign, "tenant_id": tenant_id, "product_code": "APP_A",
        "name": "seeded", "rule": RULE, "code_count": codes, "account_id": account_id}))
    assert result.outcome == "CREATED", result.message
    return campaign


def csrf_of(page: Page) -> str:
    """The session's CSRF token, as the page carries it."""
    return page.input_value("form[action='/logout'] input[name=csrf_token]")
