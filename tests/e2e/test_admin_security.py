"""The back office refuses what it must, in a real browser: other tenants' objects (404),
forms without the CSRF token, a viewer's exports and voids, guessed passwords (lockout),
script payloads (escaped), over-long fields, a 100 MB upload, a forged session cookie and
a disabled operator's session. Each refusal is clear and writes nothing."""

from __future__ import annotations

import http.client
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from core.backoffice.errors import SignInFailed
from core.bootstrap import Container, bootstrap
from core.settings import Settings
from tests.e2e.admin_support import (
    PASSWORD,
    ServedApp,
    chromium,
    count_rows,
    csrf_of,
    make_campaign,
    make_operator,
    make_tenant,
    new_context,
    sign_in,
)

pytestmark = pytest.mark.e2e

PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


@pytest.fixture()
def office(base_settings: Settings) -> Iterator[tuple[Container, ServedApp]]:
    """The back office over the session database (no broker needed here)."""
    settings = base_settings.model_copy(update={"admin_ip_max_failures": 100_000})
    with bootstrap(settings) as container, ServedApp(container) as served:
        yield container, served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    with chromium() as launched:
        yield launched


def test_other_tenants_campaign_is_404(office, browser) -> None:
    container, served = office
    tenant_a, tenant_b = make_tenant(container), make_tenant(container)
    campaign = make_campaign(container, tenant_a, codes=10)
    intruder = make_operator(container, tenant_b, "admin")
    context = new_context(browser, served.url)
    page = context.new_page()
    sign_in(page, intruder)
    for path in ("", "/codes", "/generate"):
        response = page.goto(f"/campaigns/{campaign}{path}")
        assert response is not None and response.status == 404, path
        expect(page.locator("#error-title")).to_have_text("Not found")
    response = page.request.post(f"/campaigns/{campaign}/status",
                                 form={"csrf_token": csrf_of_home(page), "status": "ENDED"})
    assert response.status == 404
    assert count_rows(container, "campaigns", "campaign_id = :c AND status = 'ACTIVE'",
                      c=campaign) == 1
    context.close()


def csrf_of_home(page) -> str:
    page.goto("/")
    return csrf_of(page)


def test_post_without_csrf_token_is_refused(office, browser) -> None:
    container, served = office
    tenant = make_tenant(container)
    account = make_operator(container, tenant, "operator")
    context = new_context(browser, served.url)
    page = context.new_page()
    sign_in(page, account)
    form = {"campaign_id": "csrf-test-1", "name": "x", "product_code": "APP_A",
            "rule": '{"rewardRules": [{"type": "COUPON", "id": "X"}]}'}
    for token in (None, "wrong-token"):
        data = dict(form) if token is None else {**form, "csrf_token": token}
        response = page.request.post("/campaigns/new", form=data)
        assert response.status == 403
        assert "CSRF" in response.text()
    assert count_rows(container, "campaigns", "campaign_id = 'csrf-test-1'") == 0
    assert count_rows(container, "audit_log", "tenant_id = :t AND action = 'denied'",
                      t=tenant) == 2
    context.close()


def test_viewer_cannot_export_or_void(office, browser) -> None:
    container, served = office
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant, codes=20)
    viewer = make_operator(container, tenant, "viewer")
    context = new_context(browser, served.url)
    page = context.new_page()
    sign_in(page, viewer)
    page.goto("/exports")
    expect(page.locator("#export-form")).to_have_count(0)
    page.goto(f"/campaigns/{campaign}/codes")
    expect(page.locator(".void-form")).to_have_count(0)
    row = page.locator("#code-list tbody tr").first.get_attribute("data-row")
    token = csrf_of(page)
    export = page.request.post("/exports", form={
        "csrf_token": token, "campaign_id": campaign, "count": "5", "file_format": "csv"})
    assert export.status == 403
    void = page.request.post(f"/campaigns/{campaign}/codes/{row}/void",
                             form={"csrf_token": token, "reason": "test"})
    assert void.status == 403
    assert count_rows(container, "export_batches", "tenant_id = :t", t=tenant) == 0
    assert count_rows(container, "redeem_codes", "tenant_id = :t AND (status = 3 OR"
                      " export_status = 1)", t=tenant) == 0
    context.close()


def test_ten_bad_passwords_lock_the_account(office, browser) -> None:
    container, served = office
    tenant = make_tenant(container)
    account = make_operator(container, tenant, "operator")
    context = new_context(browser, served.url)
    page = context.new_page()
    messages = set()
    for attempt in range(10):
        page.goto("/login")
        page.fill("#email", account.email)
        page.fill("#password", f"wrong-password-{attempt}")
        page.click("#sign-in")
        messages.add(page.inner_text("#login-error"))
    page.goto("/login")
    page.fill("#email", account.email)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    messages.add(page.inner_text("#login-error"))
    page.fill("#email", "nobody-" + account.email)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    messages.add(page.inner_text("#login-error"))
    assert messages == {SignInFailed.GENERIC}, "one generic message, whatever the cause"
    assert "/login" in page.url
    assert count_rows(container, "operator_sessions", "operator_id = :o",
                      o=account.operator_id) == 0
    assert count_rows(container, "operators", "operator_id = :o AND locked_until IS NOT NULL",
                      o=account.operator_id) == 1
    assert count_rows(container, "audit_log", "action = 'login_failed' AND target = :e"
                      " AND detail = 'account locked'", e=account.email) == 1
    context.close()


def test_script_payloads_are_escaped_everywhere(office, browser) -> None:
    container, served = office
    tenant = make_tenant(container)
    account = make_operator(container, tenant, "admin")
    context = new_context(browser, served.url)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, account)
    page.goto("/campaigns/new")
    page.fill("#campaign_id", "xss-" + secrets.token_hex(4))
    page.fill("#name", PAYLOAD)
    page.fill("#product_code", "APP_A")
    page.click("#create")
    campaign = page.url.rsplit("/", 1)[1]
    assert count_rows(container, "campaigns", "campaign_id = :c AND name = :n", c=campaign,
                      n=PAYLOAD) == 1

    container.generation.generate_codes(tenant, campaign, 5, account_id=account.operator_id)
    page.goto(f"/campaigns/{campaign}/codes")
    page.locator(".void-form input[name=reason]").first.fill(PAYLOAD)
    page.locator(".void-form button").first.click()
    expect(page.locator("#void-ok")).to_be_visible()
    for path in ("/campaigns", f"/campaigns/{campaign}", "/", "/audit", "/exports"):
        page.goto(path)
        assert page.evaluate("window.__pwned") is None, path
        html = page.content()
        assert "<script>window.__pwned" not in html and "<img src=x" not in html, path
        assert page.locator("img").count() == 0, path
        served_source = page.request.get(path).text()
        assert "&lt;script&gt;window.__pwned" in served_source, path
        assert "<script>window" not in served_source, path
    page.goto("/audit")
    expect(page.locator("#audit-list tr[data-action=void] .detail").first).to_contain_text(
        "<script>")
    assert not dialogs
    context.close()


def test_over_long_and_invalid_fields_are_named(office, browser) -> None:
    container, served = office
    tenant = make_tenant(container)
    account = make_operator(container, tenant, "operator")
    context = new_context(browser, served.url)
    page = context.new_page()
    sign_in(page, account)
    cases = [
        ({"name": "N" * 300}, "name"),
        ({"campaign_id": "C" * 40}, "campaign_id"),
        ({"product_code": "P" * 40}, "product_code"),
        ({"rule": "{not json"}, "rule"),
        ({"rule": '{"length": 1000, "rewardRules": [{"type": "COUPON", "id": "X"}]}'}, "rule"),
    ]
    for values, field in cases:
        page.goto("/campaigns/new")
        page.fill("#product_code", "APP_A")
        for name, value in values.items():
            page.fill(f"#{name}", value)
        page.click("#create")
        expect(page.locator(f"#error-{field}")).to_be_visible()
        expect(page.locator(f"#{field}")).to_have_class("invalid" if field != "rule" else
                                                        "mono invalid")
    assert count_rows(container, "campaigns", "tenant_id = :t", t=tenant) == 0
    context.close()


def test_a_100_mb_upload_is_refused(office, browser) -> None:
    container, served = office
    tenant = make_tenant(container)
    account = make_operator(container, tenant, "operator")
    context = new_context(browser, served.url)
    page = context.new_page()
    sign_in(page, account)
    cookie = next(c for c in context.cookies() if c["name"] == "rf_admin_session")
    host, port = served.url.split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/campaigns/new")
    connection.putheader("Cookie", f"rf_admin_session={cookie['value']}")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(100 * 1024 * 1024))
    connection.endheaders()
    connection.send(b"--x\r\n" + b"A" * 65536)
    response = connection.getresponse()
    assert response.status == 413
    assert b"too large" in response.read()
    connection.close()
    big = page.request.post("/lookup", multipart={"csrf_token": csrf_of(page), "code": {
        "name": "big.bin", "mimeType": "application/octet-stream",
        "buffer": b"\0" * (2 * 1024 * 1024)}})
    assert big.status == 413
    assert count_rows(container, "campaigns", "tenant_id = :t", t=tenant) == 0
    assert count_rows(container, "audit_log", "tenant_id = :t AND action = 'lookup'",
                      t=tenant) == 0
    context.close()


def test_forged_session_cookie_is_refused(office, browser) -> None:
    container, served = office
    context = new_context(browser, served.url)
    host = served.url.split("//")[1].split(":")[0]
    forged = secrets.token_urlsafe(32)
    context.add_cookies([{"name": "rf_admin_session", "value": forged, "domain": host,
                          "path": "/"}])
    page = context.new_page()
    page.goto("/")
    assert "/login" in page.url
    expect(page.locator("#login-message")).to_contain_text("session has ended")
    response = page.request.post("/campaigns/new", form={"csrf_token": "x", "name": "f",
                                                         "campaign_id": "forged-1"},
                                 max_redirects=0)
    assert response.status == 303 and "/login" in response.headers["location"]
    assert count_rows(container, "campaigns", "campaign_id = 'forged-1'") == 0
    context.close()


def test_disabled_operators_session_stops_working(office, browser) -> None:
    container, served = office
    tenant = make_tenant(container)
    account = make_operator(container, tenant, "operator")
    context = new_context(browser, served.url)
    page = context.new_page()
    sign_in(page, account)
    token = csrf_of(page)
    container.backoffice.operators.disable(account.email)
    page.goto("/campaigns")
    assert "/login" in page.url
    response = page.request.post("/campaigns/new", max_redirects=0, form={
        "csrf_token": token, "campaign_id": "disabled-1", "name": "d", "product_code": "APP_A",
        "rule": '{"rewardRules": [{"type": "COUPON", "id": "X"}]}'})
    assert response.status == 303
    assert count_rows(container, "campaigns", "campaign_id = 'disabled-1'") == 0
    page.goto("/login")
    page.fill("#email", account.email)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    expect(page.locator("#login-error")).to_have_text(SignInFailed.GENERIC)
    context.close()
