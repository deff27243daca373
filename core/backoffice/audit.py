"""The audit log: every operator action with who, when and from which address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.backoffice.model import AuditEntry, AuditFilter, Principal
from core.backoffice.ports import AuditStore

#: Actions the audit page offers as filters (the log accepts any short name).
ACTIONS = (
    "login", "login_failed", "logout", "campaign_create", "campaign_status", "generate",
    "export", "export_override", "void", "lookup", "dlq_replay", "compensation_dry_run",
    "compensation_run", "cache_verify", "operator_create", "operator_disable",
    "operator_reset_password", "denied",
)


def utc_now() -> datetime:
    """Now as naive UTC, the schema's DATETIME convention."""
    return datetime.now(UTC).replace(tzinfo=None)


class Audit:
    """Records actions and reads them back, scoped to the reader's tenant."""

    def __init__(self, store: AuditStore) -> None:
        self._store = store

    def record(self, actor: Principal | None, action: str, *, target: str = "",
               detail: str = "", ip: str = "", tenant_id: str | None = None,
               email: str = "") -> int:
        """Append one entry; the tenant defaults to the actor's."""
        return self._store.append(
            utc_now(), tenant_id if tenant_id is not None else (actor.tenant_id if actor else None),
            actor.operator_id if actor else None, actor.email if actor else email, action,
            target, detail, ip or (actor.ip if actor else ""))

    def entries(self, reader: Principal, where: AuditFilter) -> list[AuditEntry]:
        """Entries the reader may see: its tenant's, or all for a platform operator."""
        return self._store.query(reader.tenant_id, where)

    def recent_failures(self, ip: str, window_seconds: int) -> int:
        """Failed sign-ins from ``ip`` in the last ``window_seconds``."""
        return self._store.count_recent(ip, "login_failed",
                                        utc_now() - timedelta(seconds=window_seconds))
