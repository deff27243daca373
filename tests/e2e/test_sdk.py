"""The TypeScript MarketingSDK's own tests (``node --test``) against a live gateway + worker.

Node 20 and npm are required (CI has them): without them this test fails, it never skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.bootstrap import bootstrap
from core.tokens import create_signing_key, mint
from tests.e2e.gateway_support import Stack, running_stack

pytestmark = pytest.mark.e2e

SDK_DIR = Path(__file__).resolve().parents[2] / "sdk" / "typescript"


@pytest.fixture(scope="module")
def stack(base_settings, broker, tmp_path_factory) -> Iterator[Stack]:
    with running_stack(
        base_settings, broker.bootstrap_servers, tmp_path_factory.mktemp("sdk")
    ) as running:
        yield running


def end_user_token(stack: Stack, user: str) -> str:
    """A token for ``user`` of tenant A (a new signing key, as a tenant back end holds)."""
    master = stack.settings.token_master_secret.get_secret_value().encode()
    with bootstrap(stack.settings) as container:
        record, secret = create_signing_key(container.signing_keys, master,
                                            stack.tenant_a.tenant_id, "sdk")
    return mint(secret, record.key_id, stack.tenant_a.tenant_id, user, ["APP_A"], 600).token


def _run(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=SDK_DIR, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_typescript_sdk_against_live_gateway(stack: Stack) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm (Node 20+) are required for the SDK tests: install Node.js "
                    "20 and npm, then run `cd sdk/typescript && npm ci`", pytrace=False)
    used = stack.fresh_code()
    first = httpx.post(stack.url + "/api/redeem", json={"code": used, "userId": "pre"},
                       headers={"x-api-key": stack.key_a, "x-product-code": "APP_A"}, timeout=30)
    assert first.status_code == 200, first.text
    env = {
        **os.environ,
        "GATEWAY_URL": stack.url,
        "API_KEY": stack.key_a,
        "PRODUCT_CODE": stack.tenant_a.product_code,
        "VALID_CODE": stack.fresh_code(),
        "VALID_CODE_2": stack.fresh_code(),
        "USED_CODE": used,
        "VALID_CODE_3": stack.fresh_code(),
        "TOKEN": end_user_token(stack, "sdk-token-user"),
        "npm_config_update_notifier": "false",
    }
    steps = [
        [npm, "ci", "--no-audit", "--no-fund"],
        [npm, "run", "build"],
        [node, "--test", "dist/test/sdk.test.js"],
    ]
    for argv in steps:
        done = _run(argv, env, timeout=180)
        assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}"
    assert "# fail 0" in done.stdout and "# pass 0" not in done.stdout, done.stdout
