"""Build the SQLAlchemy engine and translate driver errors into the error hierarchy."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from core.errors import PermanentError, StorageUnavailable
from core.settings import Settings

T = TypeVar("T")

#: MySQL error numbers worth a retry: deadlock, lock wait timeout, gone away, lost, can't connect.
RETRYABLE_MYSQL_ERRORS = frozenset({1205, 1213, 2003, 2006, 2013, 2055, 1040, 1053})


def database_url(settings: Settings) -> URL:
    """The parsed ``database_url`` of ``settings``."""
    return make_url(settings.database_url)


def build_engine(settings: Settings) -> Engine:
    """An engine with a bounded pool, pre-ping and LOCAL INFILE allowed for bulk loads."""
    return _pooled(settings, database_url(settings), pre_ping=True, local_infile=True)


def _pooled(
    settings: Settings,
    url: URL,
    *,
    pre_ping: bool,
    reset_on_return: str | None = "rollback",
    **connect_args: Any,
) -> Engine:
    """An engine on ``url`` with the deployment's pool size and a 30-minute recycle."""
    return create_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        pool_reset_on_return=reset_on_return,
        connect_args={"charset": "utf8mb4", **connect_args},
    )


#: The client capability flag CLIENT_MULTI_STATEMENTS (the same bit in pymysql and mysqlclient).
_CLIENT_MULTI_STATEMENTS = 1 << 16


def build_hot_engine(settings: Settings) -> Engine:
    """The redemption hot path's engine: connections may carry several statements in one
    query (:mod:`core.adapters.mysql.script`), and are not pinged on checkout (a dead one
    fails its batch, is invalidated and the batch is retried on a fresh connection).

    Nor are they rolled back on return to the pool: SQLAlchemy does that after every
    ``engine.begin()`` block, even one that has just committed, which was a third of the
    hot path's round trips. Every use here ends its own transaction (``begin()`` commits or
    rolls back; closing a ``connect()`` block rolls back the transaction it began), so a
    returned connection never carries one; a test checks it."""
    from core.adapters.mysql.script import MULTI_STATEMENTS

    engine = _pooled(
        settings,
        hot_path_url(settings),
        pre_ping=False,
        reset_on_return=None,
        client_flag=_CLIENT_MULTI_STATEMENTS,
    )

    @event.listens_for(engine, "connect")
    def _mark(dbapi_connection: Any, record: Any) -> None:
        record.info[MULTI_STATEMENTS] = True

    return engine


def build_bulk_engine(settings: Settings) -> Engine:
    """The engine of bulk reads and writes (exports, generation's loads): ``database_url``
    with the driver of ``export_mysql_driver``, the C driver (mysqlclient) when installed.
    pymysql decodes each row in pure Python, which was a fifth of an export's CPU
    (docs/performance.md), and sends a LOAD DATA LOCAL file 16 KiB at a time from Python,
    each packet waiting for the GIL that generation's threads protecting the next chunks
    hold; mysqlclient sends the whole file from C with the GIL released."""
    url = driver_url(database_url(settings), settings.export_mysql_driver)
    return _pooled(settings, url, pre_ping=True, local_infile=True)


def hot_path_url(settings: Settings) -> URL:
    """``database_url`` with the hot path's driver (``hot_path_mysql_driver``)."""
    return driver_url(database_url(settings), settings.hot_path_mysql_driver)


def driver_url(url: URL, choice: str) -> URL:
    """``url`` with driver ``choice``: ``pymysql``, ``mysqldb``, or ``auto`` (mysqldb when
    mysqlclient is installed, else the driver ``url`` names)."""
    if choice == "auto":
        choice = "mysqldb" if importlib.util.find_spec("MySQLdb") is not None else ""
    return url.set(drivername=f"mysql+{choice}") if choice else url


def is_retryable(exc: BaseException) -> bool:
    """Whether a SQLAlchemy/driver error is transient."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = getattr(exc, "orig", None)
    args = getattr(orig, "args", ())
    code = args[0] if args and isinstance(args[0], int) else None
    if code in RETRYABLE_MYSQL_ERRORS:
        return True
    return isinstance(exc, OperationalError) and code is None


def translate(exc: SQLAlchemyError, what: str) -> Exception:
    """The redeemflow error for a SQLAlchemy error raised while doing ``what``."""
    if is_retryable(exc):
        return StorageUnavailable(f"{what}: {exc.__class__.__name__}: {getattr(exc, 'orig', exc)}")
    if isinstance(exc, IntegrityError):
        return PermanentError(f"{what}: integrity error: {exc.orig}")
    return StorageUnavailable(f"{what}: {exc}")


def guarded(what: str, work: Callable[[], T]) -> T:
    """Run ``work`` and translate any SQLAlchemy error into the error hierarchy."""
    try:
        return work()
    except SQLAlchemyError as exc:
        raise translate(exc, what) from exc


@contextmanager
def guarded_connection(engine: Engine, what: str, *, begin: bool = False) -> Iterator[Connection]:
    """A connection of ``engine`` for the block (in a transaction committed at its end when
    ``begin``), any SQLAlchemy error inside translated into the error hierarchy: the one
    edge where the adapters' connections meet ``core.errors``."""
    try:
        with engine.begin() if begin else engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise translate(exc, what) from exc


def ping(engine: Engine) -> str:
    """Readiness of MySQL: ``SELECT 1`` answered (blocking; raises what the driver raises)."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1")).scalar_one()
    return "SELECT 1 ok"
