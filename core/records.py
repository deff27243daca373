"""Records the domain and its storage ports exchange: rows of tenants, campaigns, generation
batches and codes, as plain frozen dataclasses (no driver types), defined here so that domain
modules never import an adapter to name them. The MySQL adapters build and read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

#: Generation batch states (``code_batches.status``).
RUNNING, DONE, ROLLED_BACK = "RUNNING", "DONE", "ROLLED_BACK"


@dataclass(frozen=True)
class TenantRecord:
    """One row of the tenant registry."""

    tenant_id: str
    name: str
    type: str
    status: str
    code_quota: int
    codes_issued: int
    version: int
    updated_at: datetime



@dataclass(frozen=True)
class CampaignRecord:
    """One campaign row; ``rule`` is the stored rule JSON (a dict); times are naive UTC."""

    campaign_id: str
    tenant_id: str
    tenant_name: str | None
    tenant_type: str | None
    product_code: str
    name: str
    status: str
    rule: dict[str, Any]
    request_hash: str
    use_limit: int
    per_user_limit: int
    valid_from: datetime
    valid_until: datetime | None
    codes_requested: int
    created_by: str
    created_at: datetime
    updated_at: datetime



@dataclass(frozen=True)
class BatchRecord:
    """One generation batch: how many codes were asked for and how many are committed."""

    batch_id: str
    tenant_id: str
    campaign_id: str
    requested: int
    inserted: int
    status: str
    account_id: str | None
    created_at: datetime
    finished_at: datetime | None
    rule: dict[str, Any] | None = None
    """The code rule JSON the batch generates with (None: its campaign's rule)."""



@dataclass(frozen=True)
class RowTemplate:
    """The columns every code row of one chunk shares (naive UTC times)."""

    tenant_id: str
    product_code: str
    campaign_id: str
    batch_id: str
    use_limit: int
    account_id: str | None
    gen_time: datetime
    valid_from: datetime | None
    expired_at: datetime | None
    key_id: str | None = None
    """Key id of the rows' sealed codes (None: ``insert_code_rows`` of plaintext codes)."""



@dataclass(frozen=True)
class BoundCode:
    """A code just bound to a user (what the Redis entry needs, and its seal)."""

    code: str
    """The stored ``code``: its lookup (or the plaintext of a row not migrated yet)."""
    campaign_id: str
    use_limit: int
    key_id: str | None = None
    sealed: str | None = None



@dataclass(frozen=True)
class CodeQuery:
    """Which of a campaign's codes a listing reads, in id order: ids above ``after_id`` (a
    keyset page), at most ``limit``, up to ``upto_id`` when given (a bounded stretch of the
    primary key), with this ``status`` and export state when given."""

    tenant_id: str
    campaign_id: str
    after_id: int = 0
    limit: int = 50
    status: int | None = None
    exported: bool | None = None
    upto_id: int | None = None


@dataclass(frozen=True)
class CodeRecord:
    """One code row as an operator sees it, in listings and the support lookup (the caller
    masks the code)."""

    row_id: int
    tenant_id: str
    campaign_id: str
    code: str
    """The stored ``code``: its lookup (or the plaintext of a row not migrated yet)."""
    status: int
    use_limit: int
    used_count: int
    gen_batch_id: str
    gen_account_id: str | None
    gen_time: datetime
    export_status: int
    export_account_id: str | None
    """Who exported it, when, in which export: its export's row (the code keeps its number)."""
    export_time: datetime | None
    export_batch_id: str | None
    bound_user: str | None
    allocated_at: datetime | None
    act_user_id: str | None
    act_time: datetime | None
    valid_from: datetime | None
    expired_at: datetime | None
    remark: str | None
    mask: str | None
    """The stored masked code (None: a row not migrated yet, whose ``code`` is plain)."""


@dataclass(frozen=True)
class VoidTarget:
    """The codes a void addresses: ``by`` "code" (``value`` its lookup, ``plain`` the code
    itself for a row not migrated yet), "campaign" (``value`` its id) or "export" (``value``
    the export id); ``campaign_id`` narrows the scan when known (an export's campaign)."""

    tenant_id: str
    by: str
    value: str
    campaign_id: str | None = None
    plain: str | None = None


@dataclass(frozen=True)
class VoidCandidate:
    """A locked, voidable code (status 0, never redeemed)."""

    row_id: int
    code: str
    campaign_id: str
    use_limit: int
    bound_user: str | None



class ExportRow(NamedTuple):
    """One code as written to an export file (times UTC, ``YYYY-MM-DD HH:MM:SS`` text).

    A named tuple, not a dataclass: an export builds a million of them, and a frozen
    dataclass costs several times more to create."""

    row_id: int
    code: str
    """The stored ``code`` column: a lookup (or, for a row not migrated yet, the code)."""
    valid_from: str | None
    expired_at: str | None
    key_id: str | None = None
    sealed: str | None = None



@dataclass(frozen=True)
class ExportMark:
    """What marking locked codes exported writes on them: the export's number (``seq`` of its
    ``export_batches`` row, where who and when are kept: migration 15); the campaign's rows
    only."""

    tenant_id: str
    campaign_id: str
    seq: int


@dataclass(frozen=True)
class ExportBatchRecord:
    """The audit row of one export."""

    export_id: str
    tenant_id: str
    campaign_id: str
    account_id: str
    owner_override: bool
    code_count: int
    file_format: str
    file_name: str
    file_sha256: str | None
    created_at: datetime
    seq: int = 0
    """The export's number, kept on each of its codes as ``export_seq`` (migration 15)."""



@dataclass(frozen=True)
class CachedCode:
    """The state of one code as its cache entry holds it (allocation and voiding rewrite
    entries with these)."""

    code: str
    campaign_id: str
    use_limit: int
    used: int
    status: int
    bound_user: str
