"""Server-side sessions of signed-in operators.

The cookie carries a random token (256 bits); MySQL stores only its sha256, the operator,
a CSRF token and two clocks: a session ends ``admin_session_idle_seconds`` after its last
use and ``admin_session_max_seconds`` after sign-in, whichever comes first. Each request
re-reads the operator, so disabling an operator ends its sessions at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from core.backoffice.audit import utc_now
from core.backoffice.errors import SessionInvalid
from core.backoffice.model import Operator, OperatorStatus, Principal, StoredSession
from core.backoffice.ports import OperatorStore, SessionStore
from core.settings import Settings

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: The idle clock is written at most this often (not on every request).
_TOUCH_EVERY = timedelta(seconds=30)


def token_hash(token: str) -> str:
    """sha256 hex of a session token (what the database keeps)."""
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """Opens, resolves and closes sessions."""

    def __init__(self, store: SessionStore, operators: OperatorStore, settings: Settings) -> None:
        self._store = store
        self._operators = operators
        self._settings = settings

    def open(self, operator: Operator, ip: str) -> tuple[str, Principal]:
        """A new session for a signed-in operator: the cookie token and the principal."""
        token = secrets.token_urlsafe(32)
        now = utc_now()
        stored = StoredSession(token_hash(token), operator.operator_id, secrets.token_urlsafe(32),
                               ip, now, now,
                               now + timedelta(seconds=self._settings.admin_session_max_seconds))
        self._store.insert(stored)
        return token, _principal(operator, stored, ip)

    def resolve(self, token: str | None, ip: str = "") -> Principal:
        """The principal of a cookie token, or SessionInvalid (missing, forged, expired,
        disabled operator)."""
        if not token or not _TOKEN.match(token):
            raise SessionInvalid("not signed in")
        stored = self._store.get(token_hash(token))
        if stored is None:
            raise SessionInvalid("unknown or ended session")
        now = utc_now()
        idle = timedelta(seconds=self._settings.admin_session_idle_seconds)
        if now >= stored.expires_at or now - stored.last_seen_at >= idle:
            self._store.delete(stored.token_hash)
            raise SessionInvalid("session expired")
        operator = self._operators.by_id(stored.operator_id)
        if operator is None or operator.status is not OperatorStatus.ACTIVE:
            self._store.delete(stored.token_hash)
            raise SessionInvalid("operator disabled")
        if now - stored.last_seen_at >= _TOUCH_EVERY:
            self._store.touch(stored.token_hash, now)
        return _principal(operator, stored, ip)

    def close(self, principal: Principal) -> None:
        """Sign out: the session row is deleted."""
        self._store.delete(principal.token_hash)


def csrf_matches(principal: Principal, submitted: str | None) -> bool:
    """Whether a submitted CSRF token is the session's (constant-time)."""
    return bool(submitted) and hmac.compare_digest(principal.csrf_token.encode(),
                                                   (submitted or "").encode())


def _principal(operator: Operator, stored: StoredSession, ip: str) -> Principal:
    return Principal(operator.operator_id, operator.email, operator.tenant_id, operator.role,
                     stored.csrf_token, stored.token_hash, ip)
