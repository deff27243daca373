"""MySQL table ``token_signing_keys``: the ids and state of end-user token signing keys.

No secret is stored (core/tokens.py derives it). Blocking (SQLAlchemy Core): the gateway
calls it from an executor. Driver errors leave as ``StorageUnavailable`` (``guarded``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.adapters.mysql.engine import guarded
from core.errors import NotFound
from core.tokens import SigningKeyRecord

_COLUMNS = "key_id, tenant_id, name, created_at, revoked_at"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _record(row: Any) -> SigningKeyRecord:
    return SigningKeyRecord(str(row[0]), str(row[1]), str(row[2]), row[3], row[4])


class SigningKeyTable:
    """Signing key ids per tenant (create, find, list, revoke)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def insert(self, key_id: str, tenant_id: str, name: str) -> SigningKeyRecord:
        """Store a new key id."""
        now = _now()

        def work() -> None:
            with self._engine.begin() as conn:
                conn.execute(
                    text("INSERT INTO token_signing_keys (key_id, tenant_id, name, created_at)"
                         " VALUES (:i, :t, :n, :now)"),
                    {"i": key_id, "t": tenant_id, "n": name, "now": now},
                )

        guarded("create token signing key", work)
        return SigningKeyRecord(key_id, tenant_id, name, now, None)

    def _one(self, what: str, sql: str, params: dict[str, object]) -> SigningKeyRecord | None:
        def work() -> SigningKeyRecord | None:
            with self._engine.connect() as conn:
                row = conn.execute(text(sql), params).first()
            return _record(row) if row is not None else None

        return guarded(what, work)

    def find(self, key_id: str) -> SigningKeyRecord | None:
        """The key with this id (revoked or not), or None."""
        return self._one("look up token signing key",
                         f"SELECT {_COLUMNS} FROM token_signing_keys WHERE key_id = :i",
                         {"i": key_id})

    def newest_active(self, tenant_id: str) -> SigningKeyRecord | None:
        """The tenant's newest active key, or None."""
        return self._one("find token signing key",
                         f"SELECT {_COLUMNS} FROM token_signing_keys WHERE tenant_id = :t"
                         " AND revoked_at IS NULL ORDER BY created_at DESC, key_id LIMIT 1",
                         {"t": tenant_id})

    def list_keys(self, tenant_id: str | None = None) -> list[SigningKeyRecord]:
        """Every key (of one tenant when given), oldest first."""
        where = " WHERE tenant_id = :t" if tenant_id else ""

        def work() -> list[SigningKeyRecord]:
            with self._engine.connect() as conn:
                rows = conn.execute(text(
                    f"SELECT {_COLUMNS} FROM token_signing_keys{where}"
                    " ORDER BY created_at, key_id"), {"t": tenant_id}).all()
            return [_record(r) for r in rows]

        return guarded("list token signing keys", work)

    def revoke(self, key_id: str) -> SigningKeyRecord:
        """Revoke a key (idempotent); NotFound for an unknown id."""

        def work() -> None:
            with self._engine.begin() as conn:
                conn.execute(text("UPDATE token_signing_keys SET revoked_at = :now"
                                  " WHERE key_id = :i AND revoked_at IS NULL"),
                             {"i": key_id, "now": _now()})

        guarded("revoke token signing key", work)
        record = self.find(key_id)
        if record is None:
            raise NotFound(f"no token signing key {key_id}")
        return record
