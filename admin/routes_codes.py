"""A campaign's codes: masked, keyset-paged, filtered; voiding one with a reason."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from admin.web import Page, posted, signed_in
from core.backoffice import campaigns as service
from core.backoffice.codes import codes_page
from core.backoffice.errors import InvalidInput
from core.backoffice.lookup import void_row
from core.listing import STATUS_CODES

router = APIRouter()
PAGE_SIZE = 50


@router.get("/campaigns/{campaign_id}/codes", response_class=HTMLResponse)
def codes(campaign_id: str, page: Page = Depends(signed_in), status: str = "",
          exported: str = "", after: int = 0, msg: str = "") -> Response:
    """One page of codes after row id ``after`` (keyset: deep pages cost the same)."""
    status = status if status in STATUS_CODES else ""
    exported = exported if exported in ("yes", "no") else ""
    return _codes(page, campaign_id, status, exported, after, msg=msg[:40])


def _codes(page: Page, campaign_id: str, status: str = "", exported: str = "", after: int = 0,
           msg: str = "", error: str = "", code: int = 200) -> Response:
    campaign = service.campaign_for(page.office.services, page.me, campaign_id)
    listing = codes_page(page.office.services, page.office.operator_store, page.me, campaign_id,
                         status=status or None,
                         exported=None if not exported else exported == "yes",
                         after_id=after, limit=PAGE_SIZE)
    return page.render("codes.html", status_code=code, c=campaign, codes=listing.codes,
                       names=listing, next_after=listing.next_after_id, status=status,
                       exported=exported, after=after, statuses=list(STATUS_CODES), msg=msg,
                       error=error)


@router.post("/campaigns/{campaign_id}/codes/{row_id}/void")
def void(campaign_id: str, row_id: int, page: Page = Depends(posted)) -> Response:
    """Void one never-redeemed code, with a reason."""
    try:
        result = void_row(page.office.services, page.office.audit, page.me, campaign_id, row_id,
                          page.field("reason", 1000))
    except InvalidInput as exc:
        return _codes(page, campaign_id, error=str(exc), code=422)
    page.office.counts.forget()
    outcome = "voided" if result.voided else "not-voidable"
    return RedirectResponse(f"/campaigns/{campaign_id}/codes?msg={outcome}", status_code=303)
