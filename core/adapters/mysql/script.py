"""Several SQL statements in one round trip to MySQL (the redemption hot path).

A batch commit is a handful of statements whose results nobody reads (multi-row inserts, a
joined update). Sent one by one, each costs a round trip, and in a busy worker every round
trip also waits for the executor thread to get the GIL back. A :class:`SqlScript` collects
them and sends them as one multi-statement query on a connection opened with
``CLIENT.MULTI_STATEMENTS`` (see :func:`~core.adapters.mysql.engine.build_hot_engine`).

The server stops at the first failing statement; the error of *any* statement is raised
here, translated like SQLAlchemy's own (so the caller's transaction rolls back and a lost
connection is invalidated). SQLAlchemy's own ``exec_driver_sql`` must not be used for this:
it reads only the first result and, on closing the cursor, logs and drops the error of a
later statement, so the transaction would commit half the script.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

#: Key in a pooled connection's ``info`` marking it as opened with MULTI_STATEMENTS.
MULTI_STATEMENTS = "redeemflow_multi_statements"


def allows_multi(conn: Connection) -> bool:
    """Whether ``conn`` may carry several statements in one query."""
    return bool(conn.connection.info.get(MULTI_STATEMENTS))


def marks(values: Sequence[object]) -> str:
    """``%s, %s, ...``: one driver placeholder per value (for an IN list)."""
    return ", ".join(["%s"] * len(values))


class SqlScript:
    """Statements with ``%s`` parameters, run in order in one round trip."""

    def __init__(self) -> None:
        self._statements: list[tuple[str, tuple[object, ...]]] = []

    def __len__(self) -> int:
        return len(self._statements)

    def add(self, sql: str, params: Sequence[object] = ()) -> None:
        """Append one statement."""
        self._statements.append((sql, tuple(params)))

    def add_rows(self, head: str, rows: Sequence[Sequence[object]], tail: str = "") -> None:
        """Append ``head VALUES (..), (..) tail`` for the rows (nothing when there are none)."""
        if not rows:
            return
        group = "(" + marks(rows[0]) + ")"
        values = ", ".join([group] * len(rows))
        self.add(f"{head} VALUES {values}{tail}", [v for row in rows for v in row])

    def run(self, conn: Connection) -> None:
        """Send every statement, in one round trip where the connection allows it (else one
        by one); raise the first failure, translated."""
        _execute(conn, self._statements, fetch=False)

    def rendered(self, dbapi_connection: Any) -> RenderedScript:
        """The script with its query text rendered now, by ``dbapi_connection``'s quoting
        (no I/O): the event loop's thread renders, the executor's thread only sends."""
        return RenderedScript(tuple(self._statements), render(dbapi_connection, self._statements))


@dataclass(frozen=True)
class RenderedScript:
    """A script's statements and their one multi-statement query text."""

    statements: tuple[tuple[str, tuple[object, ...]], ...]
    text: Any

    def run(self, conn: Connection) -> None:
        """As :meth:`SqlScript.run`, sending the rendered text on a multi-statement
        connection (``conn`` must use the driver that rendered it)."""
        _execute(conn, self.statements, fetch=False, text=self.text)


def fetch_sets(conn: Connection, queries: Sequence[tuple[str, Sequence[object]]]) -> list[Any]:
    """Run SELECTs, in one round trip where the connection allows it; the rows of each."""
    return _execute(conn, [(sql, tuple(params)) for sql, params in queries], fetch=True)


def _execute(
    conn: Connection,
    statements: Sequence[tuple[str, tuple[object, ...]]],
    *,
    fetch: bool,
    text: Any = None,
) -> list[Any]:
    """Run the statements in order on one cursor; with ``fetch``, the rows of each. ``text``
    is their query already rendered (else it is rendered here)."""
    if not statements:
        return []
    cursor = conn.connection.cursor()
    sets: list[Any] = []
    try:
        if not allows_multi(conn):
            for sql, params in statements:
                cursor.execute(sql, params)
                if fetch:
                    sets.append(list(cursor.fetchall()))
            return sets
        if text is None:
            text = render(conn.connection.dbapi_connection, statements)
        cursor.execute(text)
        while True:
            if fetch:
                sets.append(list(cursor.fetchall()))
            if not cursor.nextset():
                return sets
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _translated(conn, cursor, exc) from exc
    finally:
        _close(conn, cursor)


#: Parameter types that share one memo: a value of one of them is never equal to a value of
#: another (unlike 1, 1.0 and True), so a hit is always its own literal.
_DISTINCT = frozenset({str, int, type(None), datetime, bytes})

#: Characters the server's string escaping changes (``mysql_real_escape_string``).
_NEEDS_ESCAPE = re.compile(r"[\x00\n\r\\'\"\x1a]")


class _Literals(dict[Any, Any]):
    """value -> the driver's literal of it, rendered on first use; looked up in C
    (``map(literals.__getitem__, params)``), so a repeated value costs no Python call."""

    def __init__(self, quote: Any, literal: Any) -> None:
        super().__init__()
        self._quote, self._literal = quote, literal

    def __missing__(self, value: Any) -> Any:
        text = self[value] = self._quote(value) if type(value) is str else self._literal(value)
        return text


def render(dbapi_connection: Any, statements: Sequence[tuple[str, Sequence[object]]]) -> Any:
    """The statements as one query, ``;``-separated, each ``%s`` bound to the driver's own
    literal of its parameter: the text the driver's ``mogrify`` gives (a test compares them
    on both drivers), built faster. Each distinct value is rendered once per script (the
    timestamp, tenant and campaign repeated on every row cost a dict lookup in C), strings
    (most parameters) take the shortest path, and the query is encoded once instead of per
    statement. Bytes for mysqlclient, str for pymysql."""
    literal = dbapi_connection.literal
    quote = _string_quoter(dbapi_connection)
    literals = _Literals(quote, literal)

    def bind(params: Sequence[object]) -> tuple[Any, ...]:
        if _DISTINCT.issuperset(map(type, params)):
            return tuple(map(literals.__getitem__, params))
        # e.g. a bool or float beside an int: not remembered (no hot-path statement has one)
        return tuple(map(literal, params))

    if isinstance(literal(""), bytes):
        encoding = dbapi_connection.encoding
        return b";\n".join(sql.encode(encoding) % bind(params) for sql, params in statements)
    return ";\n".join(sql % bind(params) for sql, params in statements)


def _string_quoter(dbapi_connection: Any) -> Any:
    """The driver's literal for a ``str``: for mysqlclient, the text itself in quotes when
    it is ASCII without a character the server escapes (identifiers, JSON of them: nearly
    every parameter), else its C ``string_literal`` of the encoded text (what its
    ``literal`` does for a str, without the type dispatch in Python); for other drivers
    their own ``literal``."""
    string_literal = getattr(dbapi_connection, "string_literal", None)
    encoding = getattr(dbapi_connection, "encoding", None)
    if string_literal is None or not isinstance(dbapi_connection.literal(""), bytes):
        return dbapi_connection.literal
    needs_escape = _NEEDS_ESCAPE.search

    def quote(text: str) -> bytes:
        if text.isascii() and needs_escape(text) is None:
            return b"'%s'" % text.encode()
        return string_literal(text.encode(encoding or "utf8"))

    return quote


def _close(conn: Connection, cursor: Any) -> None:
    """Close a cursor; on a connection already lost (and invalidated) that may fail too."""
    try:
        cursor.close()
    except conn.dialect.loaded_dbapi.Error:
        if not conn.invalidated:
            raise


def _translated(conn: Connection, cursor: Any, exc: Any) -> SQLAlchemyError:
    """The SQLAlchemy error for a driver error; a dead connection is invalidated."""
    dialect = conn.dialect
    disconnect = dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
    error = DBAPIError.instance(
        "<sql script>",
        None,
        exc,
        dialect.loaded_dbapi.Error,
        connection_invalidated=disconnect,
        dialect=dialect,
    )
    if disconnect:
        conn.invalidate(exc)
    return error
