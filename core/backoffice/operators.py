"""Operator accounts: create, list, disable, reset a password, and sign in (throttled).

Sign-in failures all raise the same SignInFailed message (unknown e-mail, wrong password,
locked, disabled, throttled address) and are written to the audit log with their real
reason. ``admin_login_max_failures`` consecutive failures lock the account for
``admin_lockout_seconds``; ``admin_ip_max_failures`` failures from one address within
``admin_ip_window_seconds`` refuse that address, whatever account it tries.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from core.backoffice.audit import Audit, utc_now
from core.backoffice.errors import InvalidInput, SignInFailed, UnknownOperator
from core.backoffice.model import Operator, OperatorStatus, Principal, Role
from core.backoffice.passwords import (
    hash_password,
    one_time_password,
    verify_password,
)
from core.backoffice.ports import OperatorStore, SessionStore
from core.settings import Settings

_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,180}\.[A-Za-z]{2,24}$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$")


def clean_email(raw: str) -> str:
    """The e-mail, trimmed and lower-cased, or InvalidInput."""
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidInput("not a valid e-mail address", field="email")
    return email


class Operators:
    """The operator accounts service."""

    def __init__(self, store: OperatorStore, sessions: SessionStore, audit: Audit,
                 settings: Settings) -> None:
        self._store = store
        self._sessions = sessions
        self._audit = audit
        self._settings = settings

    def create(self, tenant_id: str | None, email: str, role: Role | str,
               password: str | None = None, actor: Principal | None = None
               ) -> tuple[Operator, str]:
        """A new ACTIVE operator and its password (generated when none is given)."""
        if tenant_id is not None and not _TENANT.match(tenant_id):
            raise InvalidInput("not a valid tenant id", field="tenant_id")
        try:
            role = Role(role)
        except ValueError as exc:
            raise InvalidInput("role must be admin, operator or viewer", field="role") from exc
        secret = password if password is not None else one_time_password()
        operator = Operator(f"op-{secrets.token_hex(6)}", tenant_id, clean_email(email), role,
                            OperatorStatus.ACTIVE, 0, None, utc_now())
        self._store.insert(operator, hash_password(secret))
        self._audit.record(actor, "operator_create", target=operator.email,
                           detail=f"role {role.value}", tenant_id=tenant_id)
        return operator, secret

    def list_operators(self, tenant_id: str | None) -> list[Operator]:
        """A tenant's operators, or all of them (None)."""
        return self._store.list_operators(tenant_id)

    def get(self, email: str) -> Operator:
        """The operator of an e-mail address."""
        found = self._store.by_email(clean_email(email))
        if found is None:
            raise UnknownOperator(f"no operator {email.strip().lower()}")
        return found[0]

    def by_id(self, operator_id: str) -> Operator | None:
        """The operator of an id, if any."""
        return self._store.by_id(operator_id)

    def disable(self, email: str, actor: Principal | None = None) -> Operator:
        """Disable an operator and end its open sessions at once."""
        operator = self.get(email)
        self._store.set_status(operator.operator_id, OperatorStatus.DISABLED, utc_now())
        self._sessions.delete_for(operator.operator_id)
        self._audit.record(actor, "operator_disable", target=operator.email,
                           tenant_id=operator.tenant_id)
        return operator

    def reset_password(self, email: str, password: str | None = None,
                       actor: Principal | None = None) -> str:
        """Set a new password (generated when none is given), unlock, end open sessions."""
        operator = self.get(email)
        secret = password if password is not None else one_time_password()
        self._store.set_password(operator.operator_id, hash_password(secret), utc_now())
        self._sessions.delete_for(operator.operator_id)
        self._audit.record(actor, "operator_reset_password", target=operator.email,
                           tenant_id=operator.tenant_id)
        return secret

    def authenticate(self, email: str, password: str, ip: str) -> Operator:
        """The operator these credentials sign in, or SignInFailed (audited either way)."""
        settings = self._settings
        address = email.strip().lower()[:254]
        if self._audit.recent_failures(ip, settings.admin_ip_window_seconds) >= \
                settings.admin_ip_max_failures:
            self._fail(address, ip, None, "address throttled")
        found = self._store.by_email(address)
        operator, digest = found if found else (None, None)
        matches = verify_password(digest, password)
        now = utc_now()
        if operator is None:
            self._fail(address, ip, None, "unknown e-mail")
        assert operator is not None
        if operator.locked_until is not None and operator.locked_until > now:
            self._fail(address, ip, operator, "account locked")
        if not matches:
            count = self._store.record_failure(
                operator.operator_id, settings.admin_login_max_failures,
                now + timedelta(seconds=settings.admin_lockout_seconds), now)
            locked = count >= settings.admin_login_max_failures
            self._fail(address, ip, operator,
                       "wrong password" + (f"; account locked after {count} failures"
                                           if locked else f" ({count} in a row)"))
        if operator.status is not OperatorStatus.ACTIVE:
            self._fail(address, ip, operator, "operator disabled")
        self._store.record_success(operator.operator_id, now)
        return operator

    def _fail(self, email: str, ip: str, operator: Operator | None, reason: str) -> None:
        self._audit.record(None, "login_failed", target=email, detail=reason, ip=ip,
                           tenant_id=operator.tenant_id if operator else None, email=email)
        raise SignInFailed(reason)
