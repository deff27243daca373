"""Ports of the back office: what its services need from storage (MySQL adapters implement
them in ``core.adapters.mysql.operator_store``, ``session_store``, ``audit_store`` and
``backoffice_views``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from core.backoffice.model import (
    AuditEntry,
    AuditFilter,
    Operator,
    OperatorStatus,
    Role,
    StoredSession,
)
from core.backoffice.rows import (
    CampaignCounts,
    CampaignRow,
    RedemptionRow,
)
from core.records import CodeQuery, CodeRecord, ExportBatchRecord
from core.service_ports import CodePorts, EventSink, Storage
from core.streams import TopicReader

if TYPE_CHECKING:
    from core.campaigns import Campaigns
    from core.compensation.service import Compensator
    from core.export.service import Exporter
    from core.generation import Generation
    from core.settings import Settings


class OperatorStore(Protocol):
    """Operator accounts."""

    def insert(self, operator: Operator, password_hash: str) -> None:
        """Add an operator; raises OperatorExists when the e-mail is taken."""
        ...

    def by_email(self, email: str) -> tuple[Operator, str] | None:
        """The operator and its password hash, by e-mail (case-folded)."""
        ...

    def by_id(self, operator_id: str) -> Operator | None:
        """The operator of this id."""
        ...

    def list_operators(self, tenant_id: str | None) -> list[Operator]:
        """Operators of a tenant, or every operator when ``tenant_id`` is None."""
        ...

    def set_status(self, operator_id: str, status: OperatorStatus, now: datetime) -> bool:
        """Enable or disable; False when there is no such operator."""
        ...

    def set_password(self, operator_id: str, password_hash: str, now: datetime) -> bool:
        """Replace the hash and clear the lockout; False when there is no such operator."""
        ...

    def record_failure(self, operator_id: str, max_failures: int, lock_until: datetime,
                       now: datetime) -> int:
        """Count a failed sign-in; lock the account at ``max_failures``. Returns the count."""
        ...

    def record_success(self, operator_id: str, now: datetime) -> None:
        """Reset the failure count after a successful sign-in."""
        ...

    def emails(self, operator_ids: list[str]) -> dict[str, str]:
        """E-mail addresses of the given operator ids (those that exist)."""
        ...


class SessionStore(Protocol):
    """Server-side sessions, keyed by the sha256 of the cookie token."""

    def insert(self, session: StoredSession) -> None:
        """Store a new session."""
        ...

    def get(self, token_hash: str) -> StoredSession | None:
        """The session of this token hash."""
        ...

    def touch(self, token_hash: str, now: datetime) -> None:
        """Move the idle clock forward."""
        ...

    def delete(self, token_hash: str) -> None:
        """End one session."""
        ...

    def delete_for(self, operator_id: str) -> int:
        """End every session of an operator; how many there were."""
        ...


class AuditStore(Protocol):
    """The append-only audit log."""

    def append(self, at: datetime, tenant_id: str | None, operator_id: str | None,
               operator_email: str, action: str, target: str, detail: str, ip: str) -> int:
        """Record an action; returns its id."""
        ...

    def query(self, tenant_id: str | None, where: AuditFilter) -> list[AuditEntry]:
        """Newest first, filtered; a tenant sees only its own entries (None: all)."""
        ...

    def count_recent(self, ip: str, action: str, since: datetime) -> int:
        """How many ``action`` entries came from ``ip`` since ``since`` (login throttle)."""
        ...


class BackOfficeViews(Protocol):
    """The read views of the back office's pages (scoped by tenant; None: every tenant)."""

    def list_campaigns(
        self, tenant_id: str | None, *, status: str | None, search: str | None, limit: int
    ) -> list[CampaignRow]:
        """Campaigns newest first, filtered by status and a name/id substring."""
        ...

    def tenant_ids(self) -> list[str]:
        """Every tenant of the registry (the platform operator's choices)."""
        ...

    def campaign_counts(
        self, tenant_id: str | None, campaign_id: str | None = None
    ) -> list[CampaignCounts]:
        """Per campaign: generated, exported, allocated, redeemed, voided, left (one scan of the
        scope's codes by primary key; the dashboard of a tenant with 1M codes reads 1M rows)."""
        ...

    def campaign_names(self, tenant_id: str | None) -> dict[str, str]:
        """campaign_id -> name for the scope."""
        ...

    def redemptions_per_bucket(
        self, tenant_id: str | None, since: datetime, bucket_format: str
    ) -> dict[str, int]:
        """Redemptions since ``since``, counted per DATE_FORMAT bucket."""
        ...

    def outcome_mix(self, tenant_id: str | None, since: datetime) -> dict[str, int]:
        """Request outcomes since ``since`` by outcome."""
        ...

    def find_code(self, tenant_id: str, code: str, plain: str = "") -> CodeRecord | None:
        """A tenant's code by its lookup value, or by ``plain`` (its canonical spelling) for
        a row not migrated yet (the unique key (tenant_id, code))."""
        ...

    def code_by_row(self, tenant_id: str, campaign_id: str, row_id: int) -> CodeRecord | None:
        """A campaign's code by row id (the primary key)."""
        ...

    def redemptions_of(self, tenant_id: str, code: str, plain: str = "") -> list[RedemptionRow]:
        """The code's redemptions by its lookup value (or ``plain``: rows not migrated yet;
        index (tenant_id, code))."""
        ...

    def recorded_grants(self, redemption_ids: list[str]) -> dict[str, datetime]:
        """grant_id -> when its reward record was written, for the given redemptions."""
        ...

    def export_history(
        self, tenant_id: str | None, campaign_id: str | None, limit: int = 100
    ) -> list[ExportBatchRecord]:
        """Exports newest first (index (tenant_id, campaign_id))."""
        ...

    def codes_window(self, query: CodeQuery) -> list[CodeRecord]:
        """The codes ``query`` selects within its ``upto_id``: a bounded stretch of the
        primary key, so a filter that matches few rows never reads the whole campaign."""
        ...

    def code_id_range(self, tenant_id: str, campaign_id: str) -> tuple[int, int]:
        """The campaign's lowest and highest code row ids ((0, 0) without codes; two probes of
        the primary key)."""
        ...



@dataclass(frozen=True)
class BackOfficeServices:
    """What the back office's pages call (built by ``core.bootstrap``): storage and its read
    views, the domain services, settings, and the ops actions."""

    store: Storage
    views: BackOfficeViews
    campaigns: Campaigns
    generation: Generation
    exporter: Exporter
    code_ports: CodePorts
    settings: Settings
    compensator: Callable[[], Compensator]
    """A Compensator publishing on the deployment's broker."""
    cache_mismatches: Callable[[str, int], list[str]]
    """Up to ``limit`` differences between a tenant's Redis entries and MySQL."""
    topic_reader: TopicReader
    """Reads the dead-letter topics."""
    event_sink: EventSink
    """Replays dead letters."""


__all__ = [
    "AuditStore",
    "BackOfficeServices",
    "BackOfficeViews",
    "OperatorStore",
    "Role",
    "SessionStore",
]
