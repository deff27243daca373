"""Which tenant a campaign id belongs to, so operators need not repeat ``--tenant-id``.

Campaign ids are unique across tenants today (the ``campaigns`` primary key), so an id alone
names one tenant; the check for several is kept so that a future per-tenant key gives a
clear error instead of acting on an arbitrary tenant's campaign. The lookup itself is
``Campaigns.tenant_of``. ``read_campaign`` reads a tenant's campaign or raises UnknownCampaign.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import AmbiguousCampaign, UnknownCampaign

if TYPE_CHECKING:
    from core.records import CampaignRecord
    from core.service_ports import Storage


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


def read_campaign(store: Storage, tenant_id: str, campaign_id: str) -> CampaignRecord:
    """A tenant's campaign (UnknownCampaign when it has none of that id)."""
    with store.read("read campaign") as tx:
        campaign = tx.get_campaign(campaign_id, tenant_id=tenant_id)
    if campaign is None:
        raise UnknownCampaign(f"tenant {tenant_id} has no campaign {campaign_id}")
    return campaign
