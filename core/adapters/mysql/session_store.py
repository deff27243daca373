"""MySQL adapter of the SessionStore port (table ``operator_sessions``, migration 11)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.adapters.mysql.engine import guarded
from core.backoffice.model import StoredSession


class MySQLSessionStore:
    """Back-office sessions; the cookie token is stored only as its sha256."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def insert(self, session: StoredSession) -> None:
        """Store a new session."""

        def work() -> None:
            with self._engine.begin() as conn:
                conn.execute(text(
                    "INSERT INTO operator_sessions (token_hash, operator_id, csrf_token, ip,"
                    " created_at, last_seen_at, expires_at) VALUES (:h, :o, :c, :ip, :cr, :ls,"
                    " :ex)"),
                    {"h": session.token_hash, "o": session.operator_id, "c": session.csrf_token,
                     "ip": session.ip[:45], "cr": session.created_at, "ls": session.last_seen_at,
                     "ex": session.expires_at})

        guarded("create session", work)

    def get(self, token_hash: str) -> StoredSession | None:
        """The session of this token hash."""

        def work() -> StoredSession | None:
            with self._engine.connect() as conn:
                row = conn.execute(text(
                    "SELECT token_hash, operator_id, csrf_token, ip, created_at, last_seen_at,"
                    " expires_at FROM operator_sessions WHERE token_hash = :h"),
                    {"h": token_hash}).first()
            return StoredSession(*row) if row else None

        return guarded("read session", work)

    def touch(self, token_hash: str, now: datetime) -> None:
        """Move the idle clock forward."""
        self._run("touch session", "UPDATE operator_sessions SET last_seen_at = :now"
                  " WHERE token_hash = :h", {"now": now, "h": token_hash})

    def delete(self, token_hash: str) -> None:
        """End one session."""
        self._run("end session", "DELETE FROM operator_sessions WHERE token_hash = :h",
                  {"h": token_hash})

    def delete_for(self, operator_id: str) -> int:
        """End every session of an operator."""
        return self._run("end sessions", "DELETE FROM operator_sessions WHERE operator_id = :o",
                         {"o": operator_id})

    def _run(self, what: str, sql: str, params: dict[str, object]) -> int:
        def work() -> int:
            with self._engine.begin() as conn:
                return int(conn.execute(text(sql), params).rowcount)

        return guarded(what, work)
