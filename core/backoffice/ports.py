"""Ports of the back office: what its services need from storage (MySQL adapters implement
them in ``core.adapters.mysql.operator_store``, ``session_store`` and ``audit_store``)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.backoffice.model import (
    AuditEntry,
    AuditFilter,
    Operator,
    OperatorStatus,
    Role,
    StoredSession,
)


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


__all__ = ["AuditStore", "OperatorStore", "Role", "SessionStore"]
