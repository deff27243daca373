"""Dashboard, campaigns (list, create, detail, status) and background generation."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from admin.charts import bar_chart, outcome_shares
from admin.web import Page, posted, signed_in
from core.backoffice import campaigns as service
from core.backoffice.dashboard import dashboard
from core.backoffice.errors import InvalidInput
from core.generation import stored_rule
from schemas.campaign import CampaignStatus

router = APIRouter()

EXAMPLE_RULE = """{
  "codeType": "RANDOM_ALPHANUM",
  "length": 12,
  "validDays": 30,
  "useLimit": 1,
  "perUserLimit": 1,
  "rewardRules": [{"type": "COUPON", "id": "NEW_USER_10OFF"}]
}"""


@router.get("/", response_class=HTMLResponse)
def home(page: Page = Depends(signed_in)) -> Response:
    """The dashboard of the operator's tenant (every tenant for a platform operator)."""
    figures = dashboard(page.office.services, page.me, page.office.counts)
    return page.render("dashboard.html", d=figures,
                       day=bar_chart(figures.last_24h, 3, slice(11, 16)),
                       month=bar_chart(figures.last_30d, 5, slice(5, 10)),
                       outcomes=outcome_shares(figures.outcomes))


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns(page: Page = Depends(signed_in), status: str = "", q: str = "") -> Response:
    """Campaigns with a status filter and a name/id search."""
    status = status if status in CampaignStatus.__members__ else ""
    rows = service.list_campaigns(page.office.services, page.me, status=status, search=q[:64])
    return page.render("campaigns.html", rows=rows, status=status, q=q[:64],
                       statuses=list(CampaignStatus.__members__))


@router.get("/campaigns/new", response_class=HTMLResponse)
def new_campaign(page: Page = Depends(signed_in)) -> Response:
    """The creation form."""
    return _form(page, {"rule": EXAMPLE_RULE}, {})


def _form(page: Page, values: dict[str, str], errors: dict[str, str],
          status: int = 200) -> Response:
    return page.render("campaign_new.html", status_code=status, values=values, errors=errors,
                       tenants=service.tenant_choices(page.office.services, page.me),
                       statuses=["ACTIVE", "DRAFT", "PAUSED"])


@router.post("/campaigns/new")
def create_campaign(page: Page = Depends(posted)) -> Response:
    """Create the campaign or show the form again with the bad field marked."""
    fields = ("campaign_id", "name", "product_code", "rule", "status", "tenant_id")
    values = {name: page.field(name, 20_000) for name in fields}
    try:
        campaign = service.create_from_form(page.office.services, page.office.audit, page.me,
                                            values)
    except InvalidInput as exc:
        return _form(page, values, {exc.field: str(exc)}, 422)
    return RedirectResponse(f"/campaigns/{campaign.campaign_id}", status_code=303)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_detail(campaign_id: str, page: Page = Depends(signed_in)) -> Response:
    """Rule, window, rewards and counts of one campaign."""
    campaign = service.campaign_for(page.office.services, page.me, campaign_id)
    counts, counted_at = service.campaign_counts(page.office.services, page.me, campaign,
                                                 page.office.counts)
    rule = stored_rule(campaign)
    return page.render("campaign.html", c=campaign, counts=counts, counted_at=counted_at,
                       code_rule=rule,
                       rewards=campaign.rule.get("rewardRules") or [],
                       jobs=[j for j in page.office.jobs.recent(page.me)
                             if j.campaign_id == campaign.campaign_id][:5])


@router.post("/campaigns/{campaign_id}/status")
def campaign_status(campaign_id: str, page: Page = Depends(posted)) -> Response:
    """Pause, resume or end."""
    service.change_status(page.office.services, page.office.audit, page.me, campaign_id,
                          page.field("status", 16))
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.get("/campaigns/{campaign_id}/generate", response_class=HTMLResponse)
def generate_form(campaign_id: str, page: Page = Depends(signed_in)) -> Response:
    """Count + optional code rule."""
    campaign = service.campaign_for(page.office.services, page.me, campaign_id)
    return page.render("generate.html", c=campaign, values={"count": "10000", "rule": ""},
                       errors={})


@router.post("/campaigns/{campaign_id}/generate")
def generate(campaign_id: str, page: Page = Depends(posted)) -> Response:
    """Start a background generation and show its progress."""
    values = {"count": page.field("count", 20), "rule": page.field("rule", 5000)}
    try:
        job = page.office.jobs.start(page.me, campaign_id, values["count"], values["rule"])
    except InvalidInput as exc:
        campaign = service.campaign_for(page.office.services, page.me, campaign_id)
        return page.render("generate.html", status_code=422, c=campaign, values=values,
                           errors={exc.field: str(exc)})
    return RedirectResponse(f"/jobs/{job.job_id}", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, page: Page = Depends(signed_in)) -> Response:
    """The live progress bar of a generation job."""
    return page.render("job.html", job=page.office.jobs.get(page.me, job_id))


@router.get("/jobs/{job_id}/progress")
def job_progress(job_id: str, page: Page = Depends(signed_in)) -> Response:
    """What the progress bar polls."""
    return JSONResponse(page.office.jobs.get(page.me, job_id).as_dict())
