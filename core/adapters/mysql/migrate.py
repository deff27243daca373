"""Apply the schema migrations in order, creating the database when it is missing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError

from core.adapters.mysql.ddl import MIGRATIONS, Migration
from core.errors import StorageUnavailable

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INT NOT NULL PRIMARY KEY,
    description VARCHAR(255) NOT NULL,
    applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB
"""


@dataclass(frozen=True)
class UpgradeReport:
    """What an upgrade did: the database, versions applied now and the final version."""

    database: str
    created_database: bool
    applied: list[int]
    current_version: int


def ensure_database(url: URL) -> bool:
    """Create the URL's database if it does not exist; True when it was created."""
    server = create_engine(url._replace(database=None), pool_pre_ping=True)
    name = url.database
    if not name or "`" in name:
        raise StorageUnavailable(f"unusable database name {name!r}")
    try:
        with server.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :n"),
                {"n": name},
            ).first()
            if exists:
                return False
            conn.execute(
                text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
            )
            return True
    except SQLAlchemyError as exc:
        raise StorageUnavailable(f"cannot reach MySQL at {url.host}:{url.port}: {exc}") from exc
    finally:
        server.dispose()


def applied_versions(engine: Engine) -> set[int]:
    """Versions already recorded in the migration ledger."""
    with engine.begin() as conn:
        conn.execute(text(_LEDGER))
        rows = conn.execute(text("SELECT version FROM schema_migrations")).all()
    return {int(r[0]) for r in rows}


def upgrade(
    engine: Engine,
    *,
    on_step: Callable[[Migration], None] | None = None,
    target: int | None = None,
) -> UpgradeReport:
    """Bring the schema to the newest version (or to ``target``); safe to run again."""
    url = engine.url
    created = ensure_database(url)
    try:
        done = applied_versions(engine)
        applied: list[int] = []
        for migration in MIGRATIONS:
            if migration.version in done or (target is not None and migration.version > target):
                continue
            if on_step is not None:
                on_step(migration)
            _apply(engine, migration)
            applied.append(migration.version)
    except SQLAlchemyError as exc:
        raise StorageUnavailable(f"migration failed: {exc}") from exc
    current = max([*done, *applied], default=0)
    return UpgradeReport(str(url.database), created, applied, current)


def _apply(engine: Engine, migration: Migration) -> None:
    # MySQL DDL commits implicitly; the ledger row is written right after its statements.
    with engine.begin() as conn:
        for statement in migration.statements:
            conn.execute(text(statement))
        conn.execute(
            text("INSERT INTO schema_migrations (version, description) VALUES (:v, :d)"),
            {"v": migration.version, "d": migration.description},
        )
