"""MySQL reads and writes of the HTTP gateway: API keys and recorded request outcomes.

Blocking (SQLAlchemy Core): the gateway calls it from an executor, never on the event loop.
Driver errors leave as ``StorageUnavailable`` / ``PermanentError`` (``engine.guarded``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.adapters.mysql.engine import guarded
from core.apikeys import ApiKeyRecord
from core.errors import NotFound

_COLUMNS = "key_id, tenant_id, name, created_at, revoked_at"


@dataclass(frozen=True)
class RecordedOutcome:
    """A request's outcome as the worker recorded it in ``request_outcomes``."""

    request_id: str
    tenant_id: str
    outcome: str
    redemption_id: str | None
    grant_ids: list[str]
    processed_at: datetime
    user_id: str | None = None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(str(row[0]), str(row[1]), str(row[2]), row[3], row[4])


class ApiKeyStore:
    """The ``api_keys`` table (hashes only)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def insert(self, key_id: str, key_hash: str, tenant_id: str, name: str) -> ApiKeyRecord:
        """Store a new key's hash for ``tenant_id``."""
        now = _now()

        def work() -> None:
            with self._engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO api_keys (key_id, key_hash, tenant_id, name, created_at)"
                        " VALUES (:i, :h, :t, :n, :now)"
                    ),
                    {"i": key_id, "h": key_hash, "t": tenant_id, "n": name, "now": now},
                )

        guarded("create API key", work)
        return ApiKeyRecord(key_id, tenant_id, name, now, None)

    def find_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The key whose hash is ``key_hash`` (revoked or not), or None."""

        def work() -> ApiKeyRecord | None:
            with self._engine.connect() as conn:
                row = conn.execute(
                    text(f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = :h"), {"h": key_hash}
                ).first()
            return _record(row) if row is not None else None

        return guarded("look up API key", work)

    def list_keys(self, tenant_id: str | None = None) -> list[ApiKeyRecord]:
        """Every key (of one tenant when given), oldest first."""
        where = " WHERE tenant_id = :t" if tenant_id else ""

        def work() -> list[ApiKeyRecord]:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    text(f"SELECT {_COLUMNS} FROM api_keys{where} ORDER BY created_at, key_id"),
                    {"t": tenant_id},
                ).all()
            return [_record(r) for r in rows]

        return guarded("list API keys", work)

    def revoke(self, key_id: str) -> ApiKeyRecord:
        """Revoke a key (idempotent); raises NotFound for an unknown key id."""

        def work() -> ApiKeyRecord | None:
            with self._engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE api_keys SET revoked_at = :now"
                        " WHERE key_id = :i AND revoked_at IS NULL"
                    ),
                    {"i": key_id, "now": _now()},
                )
                row = conn.execute(
                    text(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = :i"), {"i": key_id}
                ).first()
            return _record(row) if row is not None else None

        record = guarded("revoke API key", work)
        if record is None:
            raise NotFound(f"no API key {key_id}")
        return record


class OutcomeReader:
    """Reads ``request_outcomes`` for the gateway's ``GET /api/redeem/{request_id}``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def find(self, tenant_id: str, request_id: str) -> RecordedOutcome | None:
        """The tenant's recorded outcome of ``request_id`` (another tenant's is None)."""

        def work() -> RecordedOutcome | None:
            with self._engine.connect() as conn:
                row = conn.execute(
                    text(
                        "SELECT request_id, tenant_id, outcome, redemption_id, grant_ids_json,"
                        " processed_at, user_id FROM request_outcomes"
                        " WHERE request_id = :r AND tenant_id = :t"
                    ),
                    {"r": request_id, "t": tenant_id},
                ).first()
            if row is None:
                return None
            grants = row[4]
            parsed = orjson.loads(grants) if isinstance(grants, str | bytes) else grants
            return RecordedOutcome(row[0], row[1], row[2], row[3], list(parsed or []), row[5],
                                   row[6])

        return guarded("read request outcome", work)
