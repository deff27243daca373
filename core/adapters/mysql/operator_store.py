"""MySQL adapter of the OperatorStore port (table ``operators``, migration 11)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core.adapters.mysql.engine import guarded
from core.backoffice.errors import OperatorExists
from core.backoffice.model import Operator, OperatorStatus, Role

T = TypeVar("T")

_COLUMNS = ("operator_id, tenant_id, email, role, status, failed_logins, locked_until,"
            " created_at")


def _operator(row: Any) -> Operator:
    return Operator(row[0], row[1], row[2], Role(row[3]), OperatorStatus(row[4]), int(row[5]),
                    row[6], row[7])


class MySQLOperatorStore:
    """Operators in MySQL; every call is its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _write(self, what: str, work: Callable[[Any], T]) -> T:
        def run() -> T:
            with self._engine.begin() as conn:
                return work(conn)

        return guarded(what, run)

    def _read(self, what: str, work: Callable[[Any], T]) -> T:
        def run() -> T:
            with self._engine.connect() as conn:
                return work(conn)

        return guarded(what, run)

    def insert(self, operator: Operator, password_hash: str) -> None:
        """Add an operator; OperatorExists when the e-mail is taken."""
        sql = text(
            "INSERT INTO operators (operator_id, tenant_id, email, role, password_hash, status,"
            " failed_logins, locked_until, created_at, updated_at) VALUES (:id, :t, :e, :r,"
            " :h, :s, 0, NULL, :now, :now)")
        params = {"id": operator.operator_id, "t": operator.tenant_id, "e": operator.email,
                  "r": operator.role.value, "h": password_hash, "s": operator.status.value,
                  "now": operator.created_at}

        def work(conn: Any) -> None:
            try:
                conn.execute(sql, params)
            except IntegrityError as exc:
                raise OperatorExists(f"an operator with e-mail {operator.email} exists") from exc

        self._write("create operator", work)

    def by_email(self, email: str) -> tuple[Operator, str] | None:
        """The operator and its password hash."""
        row = self._read("read operator", lambda c: c.execute(
            text(f"SELECT {_COLUMNS}, password_hash FROM operators WHERE email = :e"),
            {"e": email}).first())
        return (_operator(row), row[8]) if row else None

    def by_id(self, operator_id: str) -> Operator | None:
        """The operator of this id."""
        row = self._read("read operator", lambda c: c.execute(
            text(f"SELECT {_COLUMNS} FROM operators WHERE operator_id = :id"),
            {"id": operator_id}).first())
        return _operator(row) if row else None

    def list_operators(self, tenant_id: str | None) -> list[Operator]:
        """A tenant's operators, or all of them."""
        sql = f"SELECT {_COLUMNS} FROM operators"
        params: dict[str, Any] = {}
        if tenant_id is not None:
            sql += " WHERE tenant_id = :t"
            params["t"] = tenant_id
        rows = self._read("list operators", lambda c: c.execute(
            text(sql + " ORDER BY email"), params).all())
        return [_operator(r) for r in rows]

    def set_status(self, operator_id: str, status: OperatorStatus, now: datetime) -> bool:
        """Enable or disable an operator."""
        return bool(self._write("change operator", lambda c: c.execute(
            text("UPDATE operators SET status = :s, updated_at = :now WHERE operator_id = :id"),
            {"s": status.value, "now": now, "id": operator_id}).rowcount))

    def set_password(self, operator_id: str, password_hash: str, now: datetime) -> bool:
        """Replace the password hash and clear any lockout."""
        return bool(self._write("change password", lambda c: c.execute(
            text("UPDATE operators SET password_hash = :h, failed_logins = 0,"
                 " locked_until = NULL, updated_at = :now WHERE operator_id = :id"),
            {"h": password_hash, "now": now, "id": operator_id}).rowcount))

    def record_failure(self, operator_id: str, max_failures: int, lock_until: datetime,
                       now: datetime) -> int:
        """One more failed sign-in; at ``max_failures`` the account locks until ``lock_until``."""

        def work(conn: Any) -> int:
            conn.execute(text(
                "UPDATE operators SET failed_logins = failed_logins + 1,"
                " locked_until = IF(failed_logins >= :m, :until, locked_until),"
                " updated_at = :now WHERE operator_id = :id"),
                {"m": max_failures, "until": lock_until, "now": now, "id": operator_id})
            row = conn.execute(text("SELECT failed_logins FROM operators WHERE operator_id = :id"),
                               {"id": operator_id}).first()
            return int(row[0]) if row else 0

        return self._write("record failed sign-in", work)

    def record_success(self, operator_id: str, now: datetime) -> None:
        """Clear the failure count."""
        self._write("record sign-in", lambda c: c.execute(
            text("UPDATE operators SET failed_logins = 0, locked_until = NULL"
                 " WHERE operator_id = :id AND (failed_logins > 0 OR locked_until IS NOT NULL)"),
            {"id": operator_id}))

    def emails(self, operator_ids: list[str]) -> dict[str, str]:
        """E-mails of the given ids."""
        wanted = sorted(set(operator_ids))
        if not wanted:
            return {}
        marks = ", ".join(f":i{n}" for n in range(len(wanted)))
        rows = self._read("read operators", lambda c: c.execute(
            text(f"SELECT operator_id, email FROM operators WHERE operator_id IN ({marks})"),
            {f"i{n}": v for n, v in enumerate(wanted)}).all())
        return {r[0]: r[1] for r in rows}
