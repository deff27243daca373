"""MySQL adapter of the AuditStore port (table ``audit_log``, migration 11): append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.adapters.mysql.engine import guarded
from core.backoffice.model import AuditEntry, AuditFilter


class MySQLAuditStore:
    """The audit log in MySQL; pages newest first by id (keyset on the primary key)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(self, at: datetime, tenant_id: str | None, operator_id: str | None,
               operator_email: str, action: str, target: str, detail: str, ip: str) -> int:
        """Record one action; returns its id."""

        def work() -> int:
            with self._engine.begin() as conn:
                result = conn.execute(text(
                    "INSERT INTO audit_log (at, tenant_id, operator_id, operator_email, action,"
                    " target, detail, ip) VALUES (:at, :t, :o, :e, :a, :g, :d, :ip)"),
                    {"at": at, "t": tenant_id, "o": operator_id, "e": operator_email[:254],
                     "a": action[:32], "g": target[:128], "d": detail[:4000], "ip": ip[:45]})
                return int(result.lastrowid or 0)

        return guarded("write audit log", work)

    def query(self, tenant_id: str | None, where: AuditFilter) -> list[AuditEntry]:
        """Newest first; ``tenant_id`` None reads every tenant's entries."""
        clauses, params = ["1 = 1"], {"n": max(1, min(where.limit, 500))}
        for column, value in (("tenant_id", tenant_id), ("action", where.action),
                              ("operator_email", where.operator_email), ("ip", where.ip)):
            if value is not None:
                clauses.append(f"{column} = :{column}")
                params[column] = value  # type: ignore[assignment]
        if where.before_id is not None:
            clauses.append("id < :before")
            params["before"] = where.before_id

        def work() -> list[Any]:
            with self._engine.connect() as conn:
                return list(conn.execute(text(
                    "SELECT id, at, tenant_id, operator_id, operator_email, action, target,"
                    f" COALESCE(detail, ''), ip FROM audit_log WHERE {' AND '.join(clauses)}"
                    " ORDER BY id DESC LIMIT :n"), params).all())

        return [AuditEntry(int(r[0]), *r[1:]) for r in guarded("read audit log", work)]

    def count_recent(self, ip: str, action: str, since: datetime) -> int:
        """Entries of ``action`` from ``ip`` since ``since``."""

        def work() -> int:
            with self._engine.connect() as conn:
                row = conn.execute(text(
                    "SELECT COUNT(*) FROM audit_log WHERE ip = :ip AND action = :a"
                    " AND at >= :since"), {"ip": ip, "a": action, "since": since}).one()
            return int(row[0])

        return guarded("count audit entries", work)
