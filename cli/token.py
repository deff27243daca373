"""``redeemflow token``: end-user token signing keys per tenant, and minting tokens.

``key create`` prints a key id and its secret (derived from the server's master secret, never
stored, see core/tokens.py); a tenant's back end mints tokens offline with them (any JWT
library, HS256, ``kid`` header), or asks ``POST /api/tokens`` with its API key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from cli.common import (
    JSON_OPTION,
    CreatedKey,
    container,
    create_command,
    emit_json,
    list_command,
    out,
    reports_errors,
    revoke_command,
)

if TYPE_CHECKING:
    from core.bootstrap import Container

app = typer.Typer(help="End-user tokens: signing keys per tenant, minting.", no_args_is_help=True)
keys = typer.Typer(help="Token signing keys (ids stored; secrets derived).", no_args_is_help=True)
app.add_typer(keys, name="key")


def _create(built: Container, tenant_id: str, name: str) -> CreatedKey:
    from core.tokens import create_signing_key

    master = built.settings.token_master_secret.get_secret_value().encode()
    record, secret = create_signing_key(built.signing_keys, master, tenant_id, name)
    return CreatedKey(
        {"key_id": record.key_id, "tenant_id": tenant_id, "name": record.name,
         "secret": secret, "algorithm": "HS256"},
        f"signing key {record.key_id} for tenant {tenant_id} (HS256; header kid = key id)",
        f"secret: {secret}",
    )


def _row(r: Any) -> dict[str, Any]:
    return {"key_id": r.key_id, "tenant_id": r.tenant_id, "name": r.name,
            "created_at": str(r.created_at), "active": r.active}


def _line(row: dict[str, Any]) -> str:
    state = "active" if row["active"] else "revoked"
    return f"{row['key_id']}  {row['tenant_id']}  {state}  {row['name']}"


keys.command("create")(create_command(
    _create,
    "Create a signing key and print its id and secret (give both to the tenant back end).",
    "The tenant whose tokens it signs.", "A label, e.g. the back end that mints.",
))
keys.command("list")(list_command(
    lambda built: built.signing_keys, "List signing keys (ids, tenants, state).", _row, _line,
    count=True,
))
keys.command("revoke")(revoke_command(
    lambda built: built.signing_keys,
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
        minted = mint_for_tenant(built.signing_keys, master, tenant_id, user_id,
                                 product, ttl)
    if as_json:
        emit_json({"token": minted.token, "token_id": minted.token_id,
                   "key_id": minted.key_id, "expires_at": minted.expires_at})
        return
    out.print(minted.token, soft_wrap=True)
