"""``redeemflow token``: end-user token signing keys per tenant, and minting tokens.

``key create`` prints a key id and its secret (derived from the server's master secret, never
stored, see core/tokens.py); a tenant's back end mints tokens offline with them (any JWT
library, HS256, ``kid`` header), or asks ``POST /api/tokens`` with its API key.
"""

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
from core.adapters.mysql.token_key_store import SigningKeyTable

app = typer.Typer(help="End-user tokens: signing keys per tenant, minting.", no_args_is_help=True)
keys = typer.Typer(help="Token signing keys (ids stored; secrets derived).", no_args_is_help=True)
app.add_typer(keys, name="key")


@keys.command("create")
@reports_errors
def create_key(
    tenant_id: str = typer.Option(..., "--tenant-id", help="The tenant whose tokens it signs."),
    name: str = typer.Option("", "--name", help="A label, e.g. the back end that mints."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a signing key and print its id and secret (give both to the tenant back end)."""
    from core.tokens import create_signing_key

    with container() as built:
        master = built.settings.token_master_secret.get_secret_value().encode()
        record, secret = create_signing_key(SigningKeyTable(built.engine), master, tenant_id, name)
    if as_json:
        emit_json({"key_id": record.key_id, "tenant_id": tenant_id, "name": record.name,
                   "secret": secret, "algorithm": "HS256"})
        return
    out.print(f"signing key {record.key_id} for tenant {tenant_id} (HS256; header kid = key id)")
    out.print(f"secret: {secret}", soft_wrap=True)


@keys.command("list")
@reports_errors
def list_keys(
    tenant_id: str = typer.Option(None, "--tenant-id", help="Only this tenant's keys."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List signing keys (ids, tenants, state)."""

    with container() as built:
        records = SigningKeyTable(built.engine).list_keys(tenant_id)
    rows = [{"key_id": r.key_id, "tenant_id": r.tenant_id, "name": r.name,
             "created_at": str(r.created_at), "active": r.active} for r in records]
    emit_rows(rows, as_json, _line)
    if not as_json:
        out.print(f"{len(rows)} key(s)")


def _line(row: dict[str, Any]) -> str:
    state = "active" if row["active"] else "revoked"
    return f"{row['key_id']}  {row['tenant_id']}  {state}  {row['name']}"


keys.command("revoke")(revoke_command(
    lambda built: SigningKeyTable(built.engine),
    "Revoke a signing key (its tokens stop verifying within api_key_cache_seconds).",
    "The key to revoke.",
))


@app.command("mint")
@reports_errors
def mint_token(
    tenant_id: str = typer.Option(..., "--tenant-id"),
    user_id: str = typer.Option(..., "--user-id", help="The end user (the token's sub)."),
    product: list[str] = typer.Option(..., "--product", help="Allowed product code (repeat)."),
    ttl: int = typer.Option(300, "--ttl", help="Lifetime in seconds (1-900)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Mint a token with the tenant's newest signing key (tests, support, demos)."""
    from core.tokens import mint_for_tenant

    with container() as built:
        master = built.settings.token_master_secret.get_secret_value().encode()
        minted = mint_for_tenant(SigningKeyTable(built.engine), master, tenant_id, user_id,
                                 product, ttl)
    if as_json:
        emit_json({"token": minted.token, "token_id": minted.token_id,
                   "key_id": minted.key_id, "expires_at": minted.expires_at})
        return
    out.print(minted.token, soft_wrap=True)
