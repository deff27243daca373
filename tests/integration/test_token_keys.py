"""Token signing keys in MariaDB and the ``redeemflow token`` commands: the secret printed
at creation signs tokens the gateway's verifier accepts; revoking stops them; no secret is
stored."""

from __future__ import annotations

import orjson
from sqlalchemy import text
from typer.testing import CliRunner

from cli.main import app
from core.tokens import TokenVerifier, key_id_of, mint
from tests.conftest import unique_id


def test_cli_creates_a_key_whose_secret_signs_verifiable_tokens(
    container, base_settings, monkeypatch
) -> None:
    monkeypatch.setenv("REDEEMFLOW_DATABASE_URL", base_settings.database_url)
    monkeypatch.setenv("REDEEMFLOW_TOKEN_MASTER_SECRET", "integration-master")
    tenant = unique_id("tn")
    runner = CliRunner()
    created = runner.invoke(app, ["token", "key", "create", "--tenant-id", tenant, "--json"])
    assert created.exit_code == 0, created.output
    key = orjson.loads(created.stdout)
    assert key["key_id"].startswith("rft_") and key["secret"]

    table = container.signing_keys
    verifier = TokenVerifier(table, b"integration-master", 0)
    offline = mint(key["secret"], key["key_id"], tenant, "u1", ["APP_A"], 60).token
    assert verifier.verify(offline, key_id_of(offline), verifier.load_tenant(key["key_id"]))

    minted = runner.invoke(app, ["token", "mint", "--tenant-id", tenant, "--user-id", "u2",
                                 "--product", "APP_A", "--ttl", "120", "--json"])
    assert minted.exit_code == 0, minted.output
    token = orjson.loads(minted.stdout)["token"]
    assert verifier.verify(token, key["key_id"], tenant).user_id == "u2"

    with container.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM token_signing_keys WHERE key_id = :k"),
                           {"k": key["key_id"]}).mappings().one()
    assert key["secret"] not in {str(v) for v in row.values()}

    listed = runner.invoke(app, ["token", "key", "list", "--tenant-id", tenant, "--json"])
    assert [k["active"] for k in orjson.loads(listed.stdout)] == [True]
    revoked = runner.invoke(app, ["token", "key", "revoke", "--key-id", key["key_id"]])
    assert revoked.exit_code == 0, revoked.output
    assert verifier.load_tenant(key["key_id"]) is None
    assert table.newest_active(tenant) is None
    refused = runner.invoke(app, ["token", "mint", "--tenant-id", tenant, "--user-id", "u2",
                                  "--product", "APP_A"])
    assert refused.exit_code != 0
