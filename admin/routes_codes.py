"""A campaign's codes: masked, keyset-paged, filtered; voiding one with a reason."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from admin.web import Page, posted, signed_in
from core.backoffice import campaigns as service
from core.backoffice.errors import InvalidInput
from core.backoffice.lookup import void_row
from core.listing import STATUS_CODES, list_codes

router = APIRouter()
PAGE_SIZE = 50


@router.get("/campaigns/{campaign_id}/codes", response_class=HTMLResponse)
def codes(campaign_id: str, page: Page = Depends(signed_in), status: str = "",
          exported: str = "", after: int = 0, msg: str = "") -> Response:
    """One page of codes after row id ``after`` (keyset: deep pages cost the same)."""
    campaign = service.campaign_for(page.container, page.me, campaign_id)
    status = status if status in STATUS_CODES else ""
    exported = exported if exported in ("yes", "no") else ""
    listing = list_codes(page.container, campaign.tenant_id, campaign.campaign_id,
                         status=status or None,
                         exported=None if not exported else exported == "yes",
                         limit=PAGE_SIZE, after_id=max(0, after))
    return page.render("codes.html", c=campaign, codes=listing.codes,
                       next_after=listing.next_after_id, status=status, exported=exported,
                       after=after, statuses=list(STATUS_CODES), msg=msg[:40], error="")


@router.post("/campaigns/{campaign_id}/codes/{row_id}/void")
def void(campaign_id: str, row_id: int, page: Page = Depends(posted)) -> Response:
    """Void one never-redeemed code, with a reason."""
    try:
        result = void_row(page.container, page.office.audit, page.me, campaign_id, row_id,
                          page.field("reason", 1000))
    except InvalidInput as exc:
        campaign = service.campaign_for(page.container, page.me, campaign_id)
        listing = list_codes(page.container, campaign.tenant_id, campaign.campaign_id,
                             limit=PAGE_SIZE)
        return page.render("codes.html", status_code=422, c=campaign, codes=listing.codes,
                           next_after=listing.next_after_id, status="", exported="", after=0,
                           statuses=list(STATUS_CODES), msg="", error=str(exc))
    outcome = "voided" if result.voided else "not-voidable"
    return RedirectResponse(f"/campaigns/{campaign_id}/codes?msg={outcome}", status_code=303)
