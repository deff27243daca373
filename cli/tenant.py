"""``redeemflow tenant``: publish a tenant change event, show the local registry's row."""

from __future__ import annotations

import time

import typer

from cli.common import JSON_OPTION, console, container, emit_json, out, reports_errors
from schemas.events import TenantStatus, TenantType, TenantUpdated

app = typer.Typer(help="Tenant registry (fed by tenant.updated events).", no_args_is_help=True)


@app.command("update")
@reports_errors
def update(
    tenant_id: str = typer.Option(..., "--tenant-id"),
    name: str = typer.Option(..., "--name"),
    type_: TenantType = typer.Option(..., "--type", case_sensitive=False),
    status: TenantStatus = typer.Option(TenantStatus.ACTIVE, "--status", case_sensitive=False),
    quota: int = typer.Option(..., "--quota", min=0, help="Code quota."),
    version: int = typer.Option(None, "--version", help="Default: now in epoch ms."),
    wait: bool = typer.Option(
        False, "--wait", help="Return once a worker applied it (the registry row holds this"
        " version); exit 3 with the reason if none did within --timeout."),
    timeout: float = typer.Option(
        30.0, "--timeout", min=0.1, help="Seconds --wait waits for a worker."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Publish a TenantUpdated event to tenant.updated (applied by the tenant agent)."""

    event = TenantUpdated(tenant_id=tenant_id, name=name, type=type_, status=status,
                          code_quota=quota, version=version or time.time_ns() // 1_000_000)
    with container() as built:
        topic = built.tenants.publish_update(event, wait=wait)
        if not as_json:
            out.print(f"published {tenant_id} v{event.version} to {topic}")
        waited = None
        if wait:
            with console.status(f"waiting up to {timeout:g}s for a worker to apply "
                                f"v{event.version}", spinner="dots"):
                waited = built.tenants.wait_until_applied(tenant_id, event.version, timeout)
    if as_json:
        summary: dict[str, object] = {"topic": topic, "event": event.model_dump(mode="json")}
        if waited is not None:
            summary.update(applied=True, stored_version=waited.tenant.version,
                           superseded=waited.superseded, seconds=round(waited.seconds, 3))
        emit_json(summary)
    elif waited is not None:
        newer = f" (superseded by v{waited.tenant.version})" if waited.superseded else ""
        out.print(f"applied by a worker in {waited.seconds:.1f}s{newer}: {tenant_id} is "
                  f"{waited.tenant.status}, quota {waited.tenant.code_quota:,}")


@app.command("show")
@reports_errors
def show(tenant_id: str = typer.Option(..., "--tenant-id"), as_json: bool = JSON_OPTION) -> None:
    """Print the tenant as the local registry has it."""
    from core.errors import UnknownTenant

    with container() as built:
        tenant = built.tenants.get(tenant_id)
    if tenant is None:
        raise UnknownTenant(f"tenant {tenant_id} is not registered")
    if as_json:
        emit_json({**tenant.__dict__, "updated_at": tenant.updated_at.isoformat()})
        return
    for field, value in tenant.__dict__.items():
        out.print(f"{field:>13}: {value}")
