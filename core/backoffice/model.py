"""Value objects of the back office: roles, operators, sessions, audit entries, principals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """What an operator may do: look (viewer), work (operator), administer (admin)."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


class OperatorStatus(StrEnum):
    """A disabled operator cannot sign in, and its open sessions stop working."""

    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


class Permission(StrEnum):
    """Actions checked by the services and the web pages."""

    VIEW = "view"
    WORK = "work"  # create campaigns, change their status, generate, export own codes, void
    OVERRIDE_OWNER = "override_owner"
    OPS = "ops"  # dead letters, compensation, cache verify


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.VIEW}),
    Role.OPERATOR: frozenset({Permission.VIEW, Permission.WORK}),
    Role.ADMIN: frozenset(Permission),
}


def role_allows(role: Role, permission: Permission) -> bool:
    """Whether ``role`` carries ``permission``."""
    return permission in _GRANTS[role]


@dataclass(frozen=True)
class Operator:
    """An operator account (the password hash never leaves the store's callers)."""

    operator_id: str
    tenant_id: str | None
    email: str
    role: Role
    status: OperatorStatus
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime

    @property
    def is_platform(self) -> bool:
        """A platform operator belongs to no tenant and sees every tenant."""
        return self.tenant_id is None


@dataclass(frozen=True)
class StoredSession:
    """A session row: who, its CSRF token and its clocks (naive UTC)."""

    token_hash: str
    operator_id: str
    csrf_token: str
    ip: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Principal:
    """The signed-in operator as every page and action sees it (from the session only)."""

    operator_id: str
    email: str
    tenant_id: str | None
    role: Role
    csrf_token: str
    token_hash: str
    ip: str = ""

    @property
    def is_platform(self) -> bool:
        """Whether this operator sees every tenant."""
        return self.tenant_id is None

    def can(self, permission: Permission) -> bool:
        """Whether the operator's role carries ``permission``."""
        return role_allows(self.role, permission)


@dataclass(frozen=True)
class AuditEntry:
    """One recorded operator action."""

    id: int
    at: datetime
    tenant_id: str | None
    operator_id: str | None
    operator_email: str
    action: str
    target: str
    detail: str
    ip: str


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page filters on (all optional); ``before_id`` pages backwards."""

    action: str | None = None
    operator_email: str | None = None
    ip: str | None = None
    before_id: int | None = None
    limit: int = 50
