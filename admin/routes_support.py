"""Support lookup, export (download and history) and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.background import BackgroundTask

from admin.web import Page, posted, signed_in
from core.backoffice import campaigns as service
from core.backoffice.audit import ACTIONS
from core.backoffice.downloads import ExportRequest, export_for_download, export_history
from core.backoffice.errors import InvalidInput
from core.backoffice.lookup import lookup
from core.backoffice.model import AuditFilter
from core.errors import NotFound

router = APIRouter()


def _lookup_page(page: Page, status: int = 200, **values: object) -> Response:
    base: dict[str, object] = {"history": None, "error": "", "field": "", "tenant_id": ""}
    return page.render("lookup.html", status_code=status,
                       tenants=service.tenant_choices(page.office.services, page.me),
                       **{**base, **values})


@router.get("/lookup", response_class=HTMLResponse)
def lookup_form(page: Page = Depends(signed_in)) -> Response:
    """The lookup form (a POST, so the code stays out of URLs and access logs)."""
    return _lookup_page(page)


@router.post("/lookup", response_class=HTMLResponse)
def lookup_code(page: Page = Depends(posted)) -> Response:
    """The typed code's history, masked; the typed code is not echoed back."""
    tenant = page.field("tenant_id", 30)
    try:
        history = lookup(page.office.services, page.office.operator_store, page.office.audit,
                         page.me, tenant, page.field("code", 200))
    except InvalidInput as exc:
        return _lookup_page(page, 422, error=str(exc), field=exc.field, tenant_id=tenant)
    except NotFound:
        return _lookup_page(page, 404, error="not_found", field="code", tenant_id=tenant)
    return _lookup_page(page, history=history, tenant_id=tenant)


def _export_page(page: Page, status: int = 200, values: dict[str, str] | None = None,
                 errors: dict[str, str] | None = None) -> Response:
    return page.render("exports.html", status_code=status,
                       campaigns=service.list_campaigns(page.office.services, page.me, limit=500),
                       history=export_history(page.office.services, page.office.operator_store,
                                              page.me),
                       values=values or {"count": "1000", "file_format": "xlsx",
                                         "campaign_id": page.request.query_params.get(
                                             "campaign", "")[:32]},
                       errors=errors or {})


@router.get("/exports", response_class=HTMLResponse)
def exports(page: Page = Depends(signed_in)) -> Response:
    """The export form and the export history."""
    return _export_page(page)


@router.post("/exports")
def export(page: Page = Depends(posted)) -> Response:
    """Export and stream the file; the server keeps no copy."""
    values = {name: page.field(name, 1000) for name in
              ("campaign_id", "count", "file_format", "reason")}
    request = ExportRequest(values["campaign_id"], values["count"], values["file_format"],
                            page.field("override_owner", 5) == "1", values["reason"])
    try:
        download = export_for_download(page.office.services, page.office.audit, page.me, request)
    except InvalidInput as exc:
        return _export_page(page, 422, values, {exc.field: str(exc)})
    page.office.counts.forget()
    return FileResponse(download.path, media_type=download.media_type,
                        filename=download.file_name, background=BackgroundTask(download.discard))


@router.get("/audit", response_class=HTMLResponse)
def audit(page: Page = Depends(signed_in), action: str = "", email: str = "", ip: str = "",
          before: int = 0) -> Response:
    """The audit log, newest first, filtered; the principal's tenant only."""
    where = AuditFilter(action=action if action in ACTIONS else None,
                        operator_email=email.strip().lower()[:254] or None,
                        ip=ip.strip()[:45] or None, before_id=before or None, limit=50)
    entries = page.office.audit.entries(page.me, where)
    return page.render("audit.html", entries=entries, actions=ACTIONS,
                       action=where.action or "", email=where.operator_email or "",
                       ip=where.ip or "",
                       older=entries[-1].id if len(entries) == where.limit else None)
