"""``redeemflow apikey``: create, list and revoke the gateway's API keys (one tenant each)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from cli.common import (
    CreatedKey,
    create_command,
    list_command,
    revoke_command,
)

if TYPE_CHECKING:
    from core.bootstrap import Container

app = typer.Typer(help="Gateway API keys (stored hashed; shown once).", no_args_is_help=True)


def _issue(built: Container, tenant_id: str, name: str) -> CreatedKey:
    from core.apikeys import issue_key

    issued = issue_key(built.api_key_store, tenant_id, name[:64])
    return CreatedKey(
        {"key_id": issued.record.key_id, "tenant_id": tenant_id, "name": name,
         "api_key": issued.secret_key},
        f"key {issued.record.key_id} for tenant {tenant_id} (shown once, store it now):",
        issued.secret_key,
    )


def _row(r: Any) -> dict[str, Any]:
    return {"key_id": r.key_id, "tenant_id": r.tenant_id, "name": r.name,
            "created_at": r.created_at.isoformat(),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None}


def _line(row: dict[str, Any]) -> str:
    state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
    return f"{row['key_id']}  {row['tenant_id']:<24} {state:<36} {row['name']}"


app.command("create")(create_command(
    _issue, "Create a key and print it once (only its sha256 is stored).",
    "The tenant the key acts for.", "A label, e.g. the calling service.",
))
app.command("list")(list_command(
    lambda built: built.api_key_store, "List keys (ids, tenants, state; never the keys).",
    _row, _line,
))
app.command("revoke")(revoke_command(
    lambda built: built.api_key_store,
    "Revoke a key (gateways stop accepting it within api_key_cache_seconds).",
    "The key id shown by create/list.",
))
