"""``redeemflow tenant update --wait`` returns once a worker applied the event, and fails with
the reason (exit 3) when none does in time, or at once (exit 2) for a version that would be
ignored."""

from __future__ import annotations

import time

import orjson
import pytest
from typer.testing import CliRunner

from cli.main import app
from core.bootstrap import bootstrap
from tests.conftest import unique_id
from tests.e2e.harness import WorkerProcess, settings_env

pytestmark = pytest.mark.e2e


def _update(env: dict[str, str], tenant: str, *extra: str):
    return CliRunner().invoke(
        app, ["tenant", "update", "--tenant-id", tenant, "--name", "Shop", "--type", "CHANNEL",
              "--quota", "1000", "--wait", *extra], env=env)


def test_wait_returns_once_a_worker_applied_the_update(e2e_settings, tmp_path) -> None:
    env = settings_env(e2e_settings)
    tenant = unique_id("tw")
    worker = WorkerProcess(e2e_settings, tmp_path).start()
    try:
        first = _update(env, tenant, "--timeout", "90", "--json")
        assert first.exit_code == 0, first.output
        summary = orjson.loads(first.stdout[first.stdout.index("{"):])
        version = summary["event"]["version"]
        assert summary["applied"] is True and summary["stored_version"] == version
        with bootstrap(e2e_settings) as container:
            row = container.tenants.get(tenant)
        assert row is not None and (row.version, row.status) == (version, "ACTIVE")

        second = _update(env, tenant, "--status", "SUSPENDED", "--timeout", "90")
        assert second.exit_code == 0, second.output
        assert "applied by a worker" in second.stdout and "SUSPENDED" in second.stdout
        with bootstrap(e2e_settings) as container:
            row = container.tenants.get(tenant)
        assert row is not None and row.status == "SUSPENDED" and row.version > version
    finally:
        assert worker.stop() == 0, worker.log_text()[-3000:]


def test_wait_without_a_worker_fails_with_the_reason_after_the_timeout(e2e_settings) -> None:
    tenant = unique_id("tw")
    started = time.monotonic()
    result = _update(settings_env(e2e_settings), tenant, "--timeout", "1.5")
    elapsed = time.monotonic() - started
    assert result.exit_code == 3, result.output
    message = " ".join(result.stderr.split())
    assert f"tenant {tenant} v" in message and "no worker applied it within 1.5s" in message
    assert "the registry still holds no row" in message
    assert "redeemflow worker" in message
    assert "Traceback" not in result.output
    assert 1.5 <= elapsed < 30


def test_wait_refuses_a_version_the_registry_would_ignore(e2e_settings) -> None:
    from schemas.events import TenantStatus, TenantType, TenantUpdated

    tenant = unique_id("tw")
    with bootstrap(e2e_settings) as container:
        container.tenants.apply_update(TenantUpdated(
            tenant_id=tenant, name="Shop", type=TenantType.CHANNEL, status=TenantStatus.ACTIVE,
            code_quota=10, version=5))
    result = _update(settings_env(e2e_settings), tenant, "--version", "3", "--timeout", "60")
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert f"tenant {tenant} is at v5 already: v3 would be ignored" in message
