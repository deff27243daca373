"""Ops for admins: dead letters (list, replay), compensation (dry run, run), cache verify."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from admin.web import Page, need, posted, signed_in
from core.backoffice import campaigns as service
from core.backoffice import ops
from core.backoffice.errors import InvalidInput
from core.backoffice.model import Permission
from core.errors import RetryableError

router = APIRouter()


def _ops_page(page: Page, status: int = 200, **values: object) -> Response:
    base: dict[str, object] = {"topic": "", "letters": None, "report": None, "mismatches": None,
                               "error": "", "notice": "", "tenant_id": ""}
    return page.render("ops.html", status_code=status, topics=ops.TOPICS,
                       tenants=service.tenant_choices(page.office.services, page.me),
                       **{**base, **values})


@router.get("/ops", response_class=HTMLResponse)
def ops_home(page: Page = Depends(signed_in), topic: str = "") -> Response:
    """The ops page; with ``topic``, that topic's dead letters."""
    need(page, Permission.OPS)
    if not topic:
        return _ops_page(page)
    try:
        letters = ops.dead_letters(page.office.services, page.me, topic)
    except (InvalidInput, RetryableError) as exc:
        return _ops_page(page, 422, topic=topic[:40], error=str(exc)[:300])
    return _ops_page(page, topic=topic, letters=letters)


@router.post("/ops/replay", response_class=HTMLResponse)
def replay(page: Page = Depends(posted)) -> Response:
    """Re-publish the chosen dead letters."""
    need(page, Permission.OPS)
    topic = page.field("topic", 40)
    refs = [r for r in (page.form.getlist("ref") if page.form else []) if isinstance(r, str)]
    try:
        count = ops.replay_letters(page.office.services, page.office.audit, page.me, topic, refs)
    except (InvalidInput, RetryableError) as exc:
        return _ops_page(page, 422, topic=topic, error=str(exc)[:300])
    return _ops_page(page, topic=topic, notice=f"replayed {count}")


@router.post("/ops/compensation", response_class=HTMLResponse)
def compensation(page: Page = Depends(posted)) -> Response:
    """Dry run first, then run; the report is shown."""
    need(page, Permission.OPS)
    report = ops.compensate(page.office.services, page.office.audit, page.me,
                            dry_run=page.field("dry_run", 2) == "1")
    return _ops_page(page, report=report)


@router.post("/ops/cache-verify", response_class=HTMLResponse)
def cache_verify(page: Page = Depends(posted)) -> Response:
    """Compare Redis with MySQL for a tenant."""
    need(page, Permission.OPS)
    tenant = page.field("tenant_id", 30)
    try:
        problems = ops.verify_cache(page.office.services, page.office.audit, page.me, tenant)
    except InvalidInput as exc:
        return _ops_page(page, 422, error=str(exc), tenant_id=tenant)
    return _ops_page(page, mismatches=problems, tenant_id=tenant)
