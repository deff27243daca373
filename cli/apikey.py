"""``redeemflow apikey``: create, list and revoke the gateway's API keys (one tenant each)."""

from __future__ import annotations

from typing import Any

import typer

from cli.common import (
    JSON_OPTION,
    container,
    emit_json,
    emit_rows,
    out,
    reports_errors,
    revoke_command,
)
from core.adapters.mysql.apikey_store import ApiKeyStore

app = typer.Typer(help="Gateway API keys (stored hashed; shown once).", no_args_is_help=True)


@app.command("create")
@reports_errors
def create(
    tenant_id: str = typer.Option(..., "--tenant-id", help="The tenant the key acts for."),
    name: str = typer.Option("", "--name", help="A label, e.g. the calling service."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a key and print it once (only its sha256 is stored)."""
    from core.apikeys import issue_key

    with container() as built:
        issued = issue_key(ApiKeyStore(built.engine), tenant_id, name[:64])
    if as_json:
        emit_json({"key_id": issued.record.key_id, "tenant_id": tenant_id, "name": name,
                   "api_key": issued.secret_key})
        return
    out.print(f"key {issued.record.key_id} for tenant {tenant_id} (shown once, store it now):")
    out.print(issued.secret_key, soft_wrap=True)


@app.command("list")
@reports_errors
def list_keys(
    tenant_id: str = typer.Option(None, "--tenant-id", help="Only this tenant's keys."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List keys (ids, tenants, state; never the keys)."""

    with container() as built:
        records = ApiKeyStore(built.engine).list_keys(tenant_id)
    rows = [
        {"key_id": r.key_id, "tenant_id": r.tenant_id, "name": r.name,
         "created_at": r.created_at.isoformat(),
         "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None}
        for r in records
    ]
    emit_rows(rows, as_json, _line)


def _line(row: dict[str, Any]) -> str:
    state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
    return f"{row['key_id']}  {row['tenant_id']:<24} {state:<36} {row['name']}"


app.command("revoke")(revoke_command(
    lambda built: ApiKeyStore(built.engine),
    "Revoke a key (gateways stop accepting it within api_key_cache_seconds).",
    "The key id shown by create/list.",
))
