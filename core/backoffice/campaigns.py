"""Campaigns as the back office sees them: scoped lists, create from a form, status changes.

The tenant always comes from the principal; a platform operator (no tenant) sees every
tenant's campaigns and names the tenant when creating one. A campaign of another tenant is
reported exactly like a missing one (UnknownCampaign), so its existence does not leak.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from core.adapters.mysql import backoffice_store as views
from core.adapters.mysql.campaign_store import CampaignRecord, get_campaign
from core.adapters.mysql.engine import guarded
from core.backoffice.audit import Audit
from core.backoffice.counts import CountsCache
from core.backoffice.errors import AccessDenied, InvalidInput
from core.backoffice.model import Permission, Principal
from core.bootstrap import Container
from core.errors import UnknownCampaign
from schemas.campaign import CampaignOutcome, CampaignStatus, CreateCampaignRequest

MAX_RULE_BYTES = 16_384
_FIELD_OF_OUTCOME = {
    CampaignOutcome.UNKNOWN_TENANT: "tenant_id",
    CampaignOutcome.TENANT_SUSPENDED: "tenant_id",
    CampaignOutcome.QUOTA_EXCEEDED: "tenant_id",
    CampaignOutcome.INVALID_RULE: "rule",
    CampaignOutcome.CONFLICT: "campaign_id",
}


def require(principal: Principal, permission: Permission) -> None:
    """AccessDenied unless the principal's role carries ``permission``."""
    if not principal.can(permission):
        raise AccessDenied(f"the {principal.role.value} role may not do this")


def list_campaigns(container: Container, principal: Principal, *, status: str | None = None,
                   search: str | None = None, limit: int = 200) -> list[views.CampaignRow]:
    """The principal's campaigns, newest first."""
    if status and status not in CampaignStatus.__members__:
        raise InvalidInput("unknown status", field="status")

    def work() -> list[views.CampaignRow]:
        with container.engine.connect() as conn:
            return views.list_campaigns(conn, principal.tenant_id, status=status or None,
                                        search=(search or "")[:64] or None, limit=limit)

    return guarded("list campaigns", work)


def campaign_for(container: Container, principal: Principal, campaign_id: str) -> CampaignRecord:
    """A campaign the principal may see, else UnknownCampaign (also for other tenants')."""
    if not campaign_id or len(campaign_id) > 32:
        raise UnknownCampaign("no such campaign")

    def work() -> CampaignRecord | None:
        with container.engine.connect() as conn:
            return get_campaign(conn, campaign_id, tenant_id=principal.tenant_id)

    campaign = guarded("read campaign", work)
    if campaign is None:
        raise UnknownCampaign("no such campaign")
    return campaign


def tenant_choices(container: Container, principal: Principal) -> list[str]:
    """Tenants the principal may act for: its own, or every tenant for a platform operator."""
    if principal.tenant_id is not None:
        return [principal.tenant_id]

    def work() -> list[str]:
        with container.engine.connect() as conn:
            return views.tenant_ids(conn)

    return guarded("list tenants", work)


def create_from_form(container: Container, audit: Audit, principal: Principal,
                     form: Mapping[str, str]) -> CampaignRecord:
    """Create a campaign (no codes yet) from the form; InvalidInput names the bad field."""
    require(principal, Permission.WORK)
    tenant_id = principal.tenant_id or form.get("tenant_id", "").strip()
    request = _request(form, tenant_id, principal.operator_id)
    result = container.campaigns.create(request)
    if result.outcome is not CampaignOutcome.CREATED:
        raise InvalidInput(result.message or result.outcome.value,
                           field=_FIELD_OF_OUTCOME.get(result.outcome, "campaign_id"))
    audit.record(principal, "campaign_create", target=request.campaign_id,
                 detail=f"name {request.name!r}", tenant_id=tenant_id)
    return campaign_for(container, principal, request.campaign_id)


def _request(form: Mapping[str, str], tenant_id: str, account_id: str) -> CreateCampaignRequest:
    if not tenant_id:
        raise InvalidInput("choose a tenant", field="tenant_id")
    raw_rule = form.get("rule", "")
    if len(raw_rule.encode()) > MAX_RULE_BYTES:
        raise InvalidInput(f"the rule may have at most {MAX_RULE_BYTES:,} bytes", field="rule")
    try:
        rule: Any = orjson.loads(raw_rule or "null")
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the rule is not valid JSON: {exc}", field="rule") from exc
    if not isinstance(rule, dict):
        raise InvalidInput("the rule must be a JSON object", field="rule")
    campaign_id = form.get("campaign_id", "").strip() or f"c{secrets.token_hex(8)}"
    try:
        return CreateCampaignRequest.model_validate({
            "campaign_id": campaign_id, "tenant_id": tenant_id,
            "product_code": form.get("product_code", "").strip(), "name": form.get("name", ""),
            "rule": rule, "code_count": 0, "account_id": account_id,
            "status": form.get("status") or CampaignStatus.ACTIVE})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first.get("loc", ())]
        field = loc[0] if loc else "campaign_id"
        where = ".".join(loc[1:])
        message = first.get("msg", "invalid")
        raise InvalidInput(f"{where}: {message}" if field == "rule" and where else message,
                           field=field) from exc


def change_status(container: Container, audit: Audit, principal: Principal, campaign_id: str,
                  status: str) -> CampaignRecord:
    """Pause, resume (ACTIVE) or end a campaign the principal may see."""
    require(principal, Permission.WORK)
    if status not in ("PAUSED", "ACTIVE", "ENDED"):
        raise InvalidInput("status must be PAUSED, ACTIVE or ENDED", field="status")
    campaign = campaign_for(container, principal, campaign_id)
    if campaign.status == "ENDED":
        raise InvalidInput("an ended campaign cannot change", field="status")
    updated = container.campaigns.set_status(campaign.tenant_id, campaign.campaign_id, status)
    audit.record(principal, "campaign_status", target=campaign.campaign_id,
                 detail=f"{campaign.status} -> {status}", tenant_id=campaign.tenant_id)
    return updated


def campaign_counts(container: Container, principal: Principal, campaign: CampaignRecord,
                    cache: CountsCache) -> tuple[views.CampaignCounts, datetime]:
    """A campaign's codes by fate and when they were counted (through ``cache``)."""
    campaign_for(container, principal, campaign.campaign_id)

    def work() -> list[views.CampaignCounts]:
        with container.engine.connect() as conn:
            return views.campaign_counts(conn, campaign.tenant_id, campaign.campaign_id)

    rows, at = cache.get((campaign.tenant_id, campaign.campaign_id),
                         lambda: guarded("count codes", work))
    empty = views.CampaignCounts(campaign.tenant_id, campaign.campaign_id, 0, 0, 0, 0, 0, 0)
    return (rows[0] if rows else empty), at
