"""``redeemflow codes export|allocate|list|void``: hand codes out and look after them.

Registered on the ``codes`` group of ``cli/codes.py``. Commands only parse, call core and
print; full codes are printed by ``allocate`` (to the caller who asked for one) and written
by ``export``, never shown by ``list``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from cli.codes import TENANT_OPTION, app, progress_bar
from cli.common import JSON_OPTION, console, container, emit_json, out, reports_errors
from core.export import ExportFormat


class StatusFilter(StrEnum):
    """Code states an operator can filter on."""

    UNUSED = "unused"
    CLAIMED = "claimed"
    GRANTED = "granted"
    VOIDED = "voided"


class YesNo(StrEnum):
    """A yes/no filter."""

    YES = "yes"
    NO = "no"


@app.command("export")
@reports_errors
def export(
    tenant_id: str = TENANT_OPTION,
    campaign_id: str = typer.Option(..., "--campaign-id"),
    account_id: str = typer.Option(..., "--account-id", help="Who exports (seed 002 §5)."),
    count: int = typer.Option(..., "--count", min=1, help="Codes to export."),
    file_format: ExportFormat = typer.Option(ExportFormat.XLSX, "--format"),
    output: Path = typer.Option(..., "--output", help="File to create (must not exist)."),
    override_owner: bool = typer.Option(
        False, "--override-owner", help="Admins: export codes other accounts generated."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Export COUNT unexported codes to a file and mark them exported by ACCOUNT."""
    from core.export import export_codes

    with container() as built, progress_bar("export", quiet=as_json) as advance:
        tenant_id = built.campaigns.tenant_of(campaign_id, tenant_id)
        result = export_codes(built.exporter, tenant_id, campaign_id, account_id, count,
                              file_format,
                              output, override_owner=override_owner, progress=advance)
    summary = {**result.__dict__, "seconds": round(result.seconds, 3),
               "rows_per_second": round(result.rows_per_second)}
    if as_json:
        emit_json(summary)
        return
    out.print(f"exported {result.count:,} codes to {result.path} in {result.seconds:.2f}s "
              f"({result.rows_per_second:,.0f} codes/s); export {result.export_id}, "
              f"sha256 {result.sha256}" + (" (owner override)" if override_owner else ""))
    if not result.pool_synced:
        console.print("[yellow]warning:[/yellow] Redis pool not updated; allocation re-checks")


@app.command("allocate")
@reports_errors
def allocate(
    tenant_id: str = TENANT_OPTION,
    campaign_id: str = typer.Option(..., "--campaign-id"),
    user_id: str = typer.Option(..., "--user-id", help="The user the code is bound to."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Bind one pre-generated code to a user and print it."""
    from core.allocation import allocate_code

    with container() as built:
        tenant_id = built.campaigns.tenant_of(campaign_id, tenant_id)
        code = allocate_code(built.code_ports, tenant_id, campaign_id, user_id)
    if as_json:
        emit_json({"tenant_id": tenant_id, "campaign_id": campaign_id, "user_id": user_id,
                   "code": code})
        return
    out.print(code)


@app.command("list")
@reports_errors
def list_(
    tenant_id: str = TENANT_OPTION,
    campaign_id: str = typer.Option(..., "--campaign-id"),
    status: StatusFilter = typer.Option(None, "--status"),
    exported: YesNo = typer.Option(None, "--exported"),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    after_id: int = typer.Option(0, "--after-id", min=0, help="Id of the last row seen."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List a campaign's codes, masked, with who generated / exported / used them."""
    from core.listing import list_codes

    with container() as built:
        tenant_id = built.campaigns.tenant_of(campaign_id, tenant_id)
        page = list_codes(built.storage, tenant_id, campaign_id,
                          status=status.value if status else None,
                          exported=None if exported is None else exported is YesNo.YES,
                          limit=limit, after_id=after_id)
    if as_json:
        emit_json({"codes": [v.as_dict() for v in page.codes],
                   "next_after_id": page.next_after_id})
        return
    table = Table(title=f"codes of campaign {campaign_id}")
    for column in ("id", "code", "status", "used", "generated", "exported", "bound / used"):
        table.add_column(column)
    for v in page.codes:
        exported_text = f"{v.exported_by} {_when(v.exported_at)}" if v.exported else "-"
        holder = " / ".join(x for x in (v.bound_user, v.used_by and
                                        f"{v.used_by} {_when(v.used_at)}") if x) or "-"
        table.add_row(str(v.id), v.masked_code, v.status, f"{v.used}/{v.use_limit}",
                      f"{v.generated_by or '-'} {_when(v.generated_at)}", exported_text, holder)
    out.print(table)
    if page.next_after_id is not None:
        out.print(f"more: --after-id {page.next_after_id}")


@app.command("void")
@reports_errors
def void(
    tenant_id: str = typer.Option(
        None, "--tenant-id",
        help="Needed with --code or --export-batch; with --campaign-id, found from it."),
    code: str = typer.Option(None, "--code"),
    export_batch: str = typer.Option(None, "--export-batch", help="An export id."),
    campaign_id: str = typer.Option(None, "--campaign-id"),
    reason: str = typer.Option("", "--reason", help="Recorded in the codes' remark."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Void never-redeemed codes (status 3): one code, an export batch or a campaign."""
    from core.voiding import void_codes

    if sum(bool(x) for x in (code, export_batch, campaign_id)) != 1:
        raise typer.BadParameter("give exactly one of --code, --export-batch, --campaign-id")
    if not tenant_id and not campaign_id:
        raise typer.BadParameter("--tenant-id is needed with --code or --export-batch "
                                 "(codes are unique per tenant only)")
    with container() as built:
        if campaign_id:
            tenant_id = built.campaigns.tenant_of(campaign_id, tenant_id)
        result = void_codes(built.code_ports, tenant_id, code=code, export_batch_id=export_batch,
                            campaign_id=campaign_id, reason=reason)
    summary = {**result.__dict__, "campaigns": sorted(result.campaigns)}
    if as_json:
        emit_json(summary)
        return
    out.print(f"voided {result.voided:,} codes ({result.target}); left alone: "
              f"{result.already_voided:,} already voided, {result.partly_used:,} partly used, "
              f"{result.used:,} used")
    if not result.cache_synced:
        console.print("[yellow]warning:[/yellow] Redis not updated; MySQL still refuses them")


def _when(moment: object) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if hasattr(moment, "strftime") else ""
