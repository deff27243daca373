"""The TypeScript SDK in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright) loads a page served by this test from another origin than the gateway's; the page
gets an end-user token from the "tenant back end" (this test's ``/token``), redeems a real
code through a live gateway + worker with the IIFE bundle (plain ``<script>``), and a second
tab, using the ES module, sends the same Idempotency-Key and must get the same answer.
"""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine, text

from core.adapters.kafka.broker import find_free_port
from core.bootstrap import bootstrap
from core.tokens import create_signing_key, mint
from tests.e2e.gateway_support import Stack, running_stack

pytestmark = pytest.mark.e2e

SDK_DIR = Path(__file__).resolve().parents[2] / "sdk" / "typescript"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PAGE_PORT = find_free_port()
PAGE_ORIGIN = f"http://127.0.0.1:{PAGE_PORT}"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>redeem</title>
<script src="/sdk.js"></script></head><body><script>
window.redeem = async (gateway, code, key) => {
  const sdk = new RedeemflowSDK.MarketingSDK({productCode: "APP_A", env: "web",
    baseUrl: gateway, getToken: async () => (await fetch("/token")).text()});
  return sdk.redeemCode(code, {idempotencyKey: key});
};
</script></body></html>"""
MODULE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>redeem esm</title>
</head><body><script type="module">
import { MarketingSDK } from "/sdk.mjs";
window.redeem = async (gateway, code, key) => {
  const sdk = new MarketingSDK({productCode: "APP_A", env: "mini", baseUrl: gateway,
    getToken: async () => (await fetch("/token")).text()});
  return sdk.redeemCode(code, {idempotencyKey: key});
};
window.ready = true;
</script></body></html>"""


def build_sdk() -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm (Node 20+) is required to build the SDK bundle", pytrace=False)
    for argv in ([npm, "ci", "--no-audit", "--no-fund"], [npm, "run", "build"]):
        done = subprocess.run(argv, cwd=SDK_DIR, capture_output=True, text=True, timeout=240,
                              check=False)
        assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"


class TenantBackEnd(http.server.ThreadingHTTPServer):
    """Serves the test pages, the SDK bundles and ``/token`` (minted for one user)."""

    def __init__(self, mint_token: Any) -> None:
        super().__init__(("127.0.0.1", PAGE_PORT), _Handler)
        self.mint_token = mint_token
        self.minted: list[str] = []


class _Handler(http.server.BaseHTTPRequestHandler):
    server: TenantBackEnd

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        bundle = SDK_DIR / "dist" / "bundle"
        routes: dict[str, tuple[str, bytes | None]] = {
            "/": ("text/html", PAGE.encode()),
            "/esm": ("text/html", MODULE_PAGE.encode()),
            "/sdk.js": ("text/javascript", (bundle / "marketing-sdk.js").read_bytes()),
            "/sdk.mjs": ("text/javascript", (bundle / "marketing-sdk.mjs").read_bytes()),
            "/token": ("text/plain", None),
        }
        if path not in routes:
            self.send_error(404)
            return
        kind, body = routes[path]
        if body is None:
            token = self.server.mint_token(parse_qs(urlsplit(self.path).query))
            self.server.minted.append(token)
            body = token.encode()
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


@pytest.fixture(scope="module")
def stack(base_settings, broker, tmp_path_factory) -> Iterator[Stack]:
    build_sdk()
    cors = lambda a, b: {"REDEEMFLOW_GATEWAY_CORS_ORIGINS": json.dumps({a: [PAGE_ORIGIN]})}  # noqa: E731
    with running_stack(base_settings, broker.bootstrap_servers,
                       tmp_path_factory.mktemp("browser"), gateway_env=cors) as running:
        yield running


def test_browser_redeems_with_a_token_and_a_second_tab_gets_the_same_answer(
    stack: Stack, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with bootstrap(stack.settings) as container:
        master = stack.settings.token_master_secret.get_secret_value().encode()
        record, secret = create_signing_key(container.signing_keys, master,
                                            stack.tenant_a.tenant_id, "browser")
    user = f"web{uuid.uuid4().hex[:8]}"
    back_end = TenantBackEnd(lambda _query: mint(
        secret, record.key_id, stack.tenant_a.tenant_id, user, ["APP_A"], 300).token)
    threading.Thread(target=back_end.serve_forever, daemon=True).start()
    code, key = stack.fresh_code(), f"browser-{uuid.uuid4().hex}"
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
                args=CHROMIUM_ARGS)
            try:
                first_tab = context.new_page()
                first_tab.goto(PAGE_ORIGIN + "/")
                first = first_tab.evaluate("([g, c, k]) => window.redeem(g, c, k)",
                                           [stack.url, code, key])
                second_tab = context.new_page()
                second_tab.goto(PAGE_ORIGIN + "/esm")
                second_tab.wait_for_function("window.ready === true")
                second = second_tab.evaluate("([g, c, k]) => window.redeem(g, c, k)",
                                             [stack.url, code, key])
            finally:
                context.close()
    finally:
        back_end.shutdown()
        back_end.server_close()
    assert first["outcome"] == "REDEEMED", first
    assert first["httpStatus"] == 200 and first["redemptionId"] and len(first["grantIds"]) == 1
    assert second == first
    assert len(back_end.minted) == 2  # each tab asked the back end, never held a secret
    engine = create_engine(stack.settings.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT user_id FROM redemptions WHERE tenant_id = :t"
                                     " AND code = :c"),
                                {"t": stack.tenant_a.tenant_id,  # stored as its lookup
                                 "c": stack.settings.code_protector.lookup(
                                     stack.tenant_a.tenant_id, code)}).all()
    finally:
        engine.dispose()
    assert [r[0] for r in rows] == [user]
