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
class CodeRecord:
    """Everything the support lookup shows about one code (the caller masks the code)."""

    row_id: int
    tenant_id: str
    campaign_id: str
    code: str
    status: int
    use_limit: int
    used_count: int
    gen_batch_id: str
    gen_account_id: str | None
    gen_time: datetime
    export_status: int
    export_account_id: str | None
    export_time: datetime | None
    export_batch_id: str | None
    bound_user: str | None
    allocated_at: datetime | None
    act_user_id: str | None
    act_time: datetime | None
    remark: str | None
    mask: str | None = None
    """The stored masked code (None: a row not migrated yet, whose ``code`` is plain)."""


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



@dataclass(frozen=True)
class ExportRow:
    """One export in the history."""

    export_id: str
    tenant_id: str
    campaign_id: str
    account_id: str
    owner_override: bool
    code_count: int
    file_format: str
    file_sha256: str | None
    created_at: datetime

