"""Operator listing of a campaign's codes: masked, with who generated / exported / used.

Seed 002 §3: the back office never shows full codes (someone who sees an unexported code
could give it away, or redeem another person's exported one). Rows carry ``masked_code``
only; full codes leave the system through exports alone. Pages are keyset-paginated by
row id (``after_id``), so deep pages cost the same as the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.codes.status import CODE_STATUS_NAMES
from core.errors import UnknownCampaign
from core.masking import mask_code
from core.records import CodeQuery, CodeRecord
from core.service_ports import Storage

STATUS_NAMES = CODE_STATUS_NAMES
STATUS_CODES = {name: code for code, name in STATUS_NAMES.items()}
MAX_PAGE = 1_000


@dataclass(frozen=True)
class CodeView:
    """One listed code: masked, its state, and the people and times seed 002 tracks."""

    id: int
    masked_code: str
    status: str
    used: int
    use_limit: int
    exported: bool
    generated_by: str | None
    generated_at: datetime
    exported_by: str | None
    exported_at: datetime | None
    export_batch_id: str | None
    bound_user: str | None
    allocated_at: datetime | None
    used_by: str | None
    used_at: datetime | None
    valid_from: datetime | None
    expired_at: datetime | None
    remark: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (times as ISO strings)."""
        return {k: v.isoformat() if isinstance(v, datetime) else v
                for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class CodePage:
    """A page of codes and the ``after_id`` of the next page (None at the end)."""

    codes: list[CodeView]
    next_after_id: int | None


def list_codes(
    store: Storage,
    tenant_id: str,
    campaign_id: str,
    *,
    status: str | None = None,
    exported: bool | None = None,
    limit: int = 50,
    after_id: int = 0,
) -> CodePage:
    """One page of a campaign's codes, masked, filtered by status name and export flag."""
    if status is not None and status not in STATUS_CODES:
        raise ValueError(f"status must be one of {', '.join(STATUS_CODES)}")
    size = max(1, min(limit, MAX_PAGE))

    with store.read("list codes") as tx:
        if not tx.campaign_exists(tenant_id, campaign_id):
            raise UnknownCampaign(f"tenant {tenant_id} has no campaign {campaign_id}")
        rows = tx.list_codes(CodeQuery(tenant_id, campaign_id, after_id, size,
                                       STATUS_CODES.get(status or ""), exported))
    views = [_view(r) for r in rows]
    return CodePage(views, views[-1].id if len(views) == size else None)


def _view(row: CodeRecord) -> CodeView:
    return CodeView(
        id=row.row_id, masked_code=mask_code(row.code if row.mask is None else row.mask),
        status=STATUS_NAMES.get(row.status, str(row.status)), used=row.used_count,
        use_limit=row.use_limit, exported=bool(row.export_status),
        generated_by=row.gen_account_id, generated_at=row.gen_time,
        exported_by=row.export_account_id, exported_at=row.export_time,
        export_batch_id=row.export_batch_id, bound_user=row.bound_user,
        allocated_at=row.allocated_at, used_by=row.act_user_id, used_at=row.act_time,
        valid_from=row.valid_from, expired_at=row.expired_at, remark=row.remark,
    )
