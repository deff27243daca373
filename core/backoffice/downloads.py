"""Exports as browser downloads: the owner is the signed-in operator; overriding the owner
rule takes the admin role and a reason, recorded in the audit log.

The file is written by ``core.export.export_codes`` (the one export code path, so its speed
and its guarantees apply) into a private temporary directory; the caller streams it to the
browser and then calls ``Download.discard``: no copy stays on the server, so an export
cannot be downloaded twice (a code leaves once).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.backoffice.audit import Audit, utc_now
from core.backoffice.campaigns import campaign_for, require
from core.backoffice.errors import InvalidInput
from core.backoffice.jobs import parse_count
from core.backoffice.model import Permission, Principal
from core.backoffice.ports import BackOfficeServices, OperatorStore
from core.errors import ExportRefused
from core.export import ExportFormat, ExportResult, export_codes
from core.records import ExportBatchRecord

MAX_REASON = 200
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


@dataclass(frozen=True)
class Download:
    """A committed export waiting to be streamed, then discarded."""

    result: ExportResult
    path: Path
    file_name: str
    media_type: str

    def discard(self) -> None:
        """Delete the file and its private directory."""
        shutil.rmtree(self.path.parent, ignore_errors=True)


@dataclass(frozen=True)
class ExportRequest:
    """The export form, as typed."""

    campaign_id: str
    count: str
    file_format: str
    override_owner: bool = False
    reason: str = ""


def export_for_download(services: BackOfficeServices, audit: Audit, principal: Principal,
                        form: ExportRequest) -> Download:
    """Check the form, export, audit; InvalidInput names the field that is wrong."""
    require(principal, Permission.WORK)
    campaign = campaign_for(services, principal, form.campaign_id)
    count = parse_count(form.count, services.settings.admin_export_max_codes)
    if form.file_format not in MEDIA_TYPES:
        raise InvalidInput("choose xlsx or csv", field="file_format")
    reason = form.reason.strip()
    if form.override_owner:
        require(principal, Permission.OVERRIDE_OWNER)
        if not reason:
            raise InvalidInput("an owner override needs a reason", field="reason")
        if len(reason) > MAX_REASON:
            raise InvalidInput(f"the reason may have at most {MAX_REASON} characters",
                               field="reason")
    stamp = utc_now().strftime("%Y%m%d-%H%M%S")
    name = f"{campaign.campaign_id}-{stamp}.{form.file_format}"
    directory = Path(tempfile.mkdtemp(prefix="redeemflow-export-"))
    try:
        result = export_codes(services.exporter, campaign.tenant_id, campaign.campaign_id,
                              principal.operator_id, count, ExportFormat(form.file_format),
                              directory / name, override_owner=form.override_owner)
    except ExportRefused as exc:
        shutil.rmtree(directory, ignore_errors=True)
        raise InvalidInput(str(exc), field="count") from exc
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    audit.record(principal, "export_override" if form.override_owner else "export",
                 target=campaign.campaign_id,
                 detail=f"{result.count} codes {result.file_format}; export {result.export_id};"
                        f" sha256 {result.sha256}" + (f"; reason: {reason}" if reason else ""),
                 tenant_id=campaign.tenant_id)
    return Download(result, directory / name, name, MEDIA_TYPES[form.file_format])


@dataclass(frozen=True)
class ExportView:
    """One past export: who, when, how many, the file's sha256."""

    row: ExportBatchRecord
    exported_by: str


def export_history(services: BackOfficeServices, operators: OperatorStore, principal: Principal,
                   campaign_id: str | None = None) -> list[ExportView]:
    """Past exports of the principal's scope (of one campaign when given)."""
    if campaign_id:
        campaign_for(services, principal, campaign_id)
    rows = services.views.export_history(principal.tenant_id, campaign_id or None)
    names = operators.emails([r.account_id for r in rows])
    return [ExportView(r, names.get(r.account_id, r.account_id)) for r in rows]
