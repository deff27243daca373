"""``redeemflow codes *`` find the tenant from the campaign id; a wrong id is one clear line."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from cli.main import app
from core.bootstrap import Container
from tests.conftest import unique_id
from tests.e2e.harness import settings_env
from tests.integration.test_generation import make_campaign, make_tenant

pytestmark = pytest.mark.integration


def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _json(stdout: str) -> dict:
    return orjson.loads(stdout[stdout.index("{"):])


def test_codes_commands_need_no_tenant_id(container: Container, base_settings, tmp_path) -> None:
    env = settings_env(base_settings)
    tenant = make_tenant(container)
    campaign = make_campaign(container, tenant, 5)

    code, out, err = _run(env, "codes", "generate", "--campaign-id", campaign, "--count", "3",
                          "--account-id", "ops", "--json")
    assert code == 0, err
    assert _json(out)["tenant_id"] == tenant
    code, out, err = _run(env, "codes", "stats", "--campaign-id", campaign, "--json")
    assert code == 0, err
    assert (_json(out)["tenant_id"], _json(out)["issued"]) == (tenant, 8)
    code, out, err = _run(env, "codes", "list", "--campaign-id", campaign, "--json")
    assert code == 0, err
    assert len(_json(out)["codes"]) == 8
    code, out, err = _run(env, "codes", "allocate", "--campaign-id", campaign,
                          "--user-id", "u1", "--json")
    assert code == 0, err
    assert _json(out)["tenant_id"] == tenant
    code, out, err = _run(env, "codes", "export", "--campaign-id", campaign, "--account-id",
                          "ops", "--count", "2", "--format", "csv", "--output",
                          str(tmp_path / "codes.csv"), "--json")
    assert code == 0, err
    assert _json(out)["tenant_id"] == tenant
    code, out, err = _run(env, "codes", "void", "--campaign-id", campaign, "--json")
    assert code == 0, err
    assert _json(out)["voided"] >= 1


def test_an_unknown_campaign_id_is_one_clear_error(base_settings) -> None:
    env = settings_env(base_settings)
    missing = unique_id("nope")
    for command in (["stats"], ["list"], ["generate", "--count", "1"],
                    ["allocate", "--user-id", "u"], ["void"]):
        code, out, err = _run(env, "codes", *command, "--campaign-id", missing)
        assert code == 2, (command, out, err)
        assert f"no tenant has a campaign {missing}" in err, (command, err)
        assert "Traceback" not in out + err


def test_void_by_code_still_needs_the_tenant(base_settings) -> None:
    code, out, err = _run(settings_env(base_settings), "codes", "void", "--code", "ABCD")
    assert code == 2
    assert "--tenant-id is needed with --code" in out + err
