"""Rows of the back office's read views (campaign lists, dashboard counts, code lookup,
export history), as plain records: the ``BackOfficeViews`` port returns them and the MySQL
adapter (``core.adapters.mysql.backoffice_store``) builds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class CampaignRow:
    """A campaign in the list."""

    campaign_id: str
    tenant_id: str
    name: str
    product_code: str
    status: str
    valid_from: datetime
    valid_until: datetime | None
    created_by: str
    created_at: datetime



@dataclass(frozen=True)
class CampaignCounts:
    """A campaign's codes by fate (the dashboard's table)."""

    tenant_id: str
    campaign_id: str
    generated: int
    exported: int
    allocated: int
    redeemed: int
    voided: int
    left: int



@dataclass(frozen=True)
class RedemptionRow:
    """A redemption of the looked-up code and its grants."""

    redemption_id: str
    request_id: str
    user_id: str
    channel: str
    status: int
    grants_json: Any
    claimed_at: datetime
    granted_at: datetime | None
