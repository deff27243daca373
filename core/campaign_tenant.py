"""Which tenant a campaign id belongs to, so operators need not repeat ``--tenant-id``.

Campaign ids are unique across tenants today (the ``campaigns`` primary key), so an id alone
names one tenant; the check for several is kept so that a future per-tenant key gives a
clear error instead of acting on an arbitrary tenant's campaign.
"""

from __future__ import annotations

from core.adapters.mysql import campaign_store
from core.adapters.mysql.engine import guarded
from core.bootstrap import Container
from core.errors import AmbiguousCampaign, UnknownCampaign


def choose_tenant(campaign_id: str, tenants: list[str]) -> str:
    """The one tenant holding ``campaign_id`` (UnknownCampaign / AmbiguousCampaign else)."""
    if not tenants:
        raise UnknownCampaign(f"no tenant has a campaign {campaign_id}")
    if len(tenants) > 1:
        raise AmbiguousCampaign(
            f"campaign id {campaign_id} exists in tenants {', '.join(sorted(tenants))}; "
            "pass --tenant-id to say which"
        )
    return tenants[0]


def campaign_tenant(container: Container, campaign_id: str, tenant_id: str | None = None) -> str:
    """``tenant_id`` when given, else the tenant the campaign id belongs to.

    A given tenant is returned as is: the command's own lookup of (tenant, campaign) then
    reports a campaign the tenant does not have.
    """
    if tenant_id:
        return tenant_id

    def work() -> list[str]:
        with container.engine.connect() as conn:
            return campaign_store.tenants_of_campaign(conn, campaign_id)

    return choose_tenant(campaign_id, guarded("find the campaign's tenant", work))
