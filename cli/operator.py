"""``redeemflow operator``: back-office accounts (create, list, disable, reset-password)."""

from __future__ import annotations

import sys
from enum import StrEnum

import typer
from rich.table import Table

from cli.common import JSON_OPTION, container, emit_json, out, reports_errors

app = typer.Typer(help="Back-office operators and their passwords.", no_args_is_help=True)


class RoleChoice(StrEnum):
    """Operator roles."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


def _password(from_stdin: bool) -> str | None:
    """The password read from stdin (first line), or None to generate one."""
    if not from_stdin:
        return None
    return sys.stdin.readline().rstrip("\r\n")


@app.command("create")
@reports_errors
def create(
    email: str = typer.Option(..., "--email"),
    role: RoleChoice = typer.Option(..., "--role"),
    tenant_id: str = typer.Option(None, "--tenant-id",
                                  help="The operator's tenant (omit: a platform operator)."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from stdin instead."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create an operator; prints a one-time password unless one is read from stdin."""
    with container() as built:
        operator, secret = built.backoffice.operators.create(
            tenant_id, email, role.value, _password(password_stdin))
    shown = None if password_stdin else secret
    if as_json:
        emit_json({"operator_id": operator.operator_id, "email": operator.email,
                   "tenant_id": operator.tenant_id, "role": operator.role.value,
                   "password": shown})
        return
    out.print(f"created {operator.role.value} {operator.email} ({operator.operator_id}) for "
              f"{operator.tenant_id or 'all tenants (platform)'}")
    if shown:
        out.print(f"one-time password: {shown}")


@app.command("list")
@reports_errors
def list_(
    tenant_id: str = typer.Option(None, "--tenant-id", help="Only this tenant's operators."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List operators."""
    with container() as built:
        operators = built.backoffice.operators.list_operators(tenant_id)
    rows = [{"operator_id": o.operator_id, "email": o.email, "tenant_id": o.tenant_id,
             "role": o.role.value, "status": o.status.value, "failed_logins": o.failed_logins,
             "locked_until": o.locked_until.isoformat() if o.locked_until else None}
            for o in operators]
    if as_json:
        emit_json(rows)
        return
    table = Table(title="operators")
    for column in ("operator_id", "email", "tenant_id", "role", "status", "locked_until"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c] or "-") for c in ("operator_id", "email", "tenant_id", "role",
                                                     "status", "locked_until")))
    out.print(table)


@app.command("disable")
@reports_errors
def disable(email: str = typer.Option(..., "--email")) -> None:
    """Disable an operator; its open sessions end at once."""
    with container() as built:
        operator = built.backoffice.operators.disable(email)
    out.print(f"disabled {operator.email}; its sessions are ended")


@app.command("reset-password")
@reports_errors
def reset_password(
    email: str = typer.Option(..., "--email"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the new password from stdin."),
) -> None:
    """Set a new password (printed once unless read from stdin), unlock, end sessions."""
    with container() as built:
        secret = built.backoffice.operators.reset_password(email, _password(password_stdin))
    out.print(f"password of {email.strip().lower()} reset; sessions ended")
    if not password_stdin:
        out.print(f"one-time password: {secret}")
