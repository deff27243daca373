"""Session fixtures: a throwaway MariaDB database, a Redis key prefix and the embedded broker.

Every run gets its own database name and key prefix, so runs never see each other's rows
and tests can run in any order, twice in a row. The database is dropped and the keys are
deleted when the session ends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import create_engine, text

from core.adapters.mysql.migrate import upgrade
from core.bootstrap import Container, bootstrap
from core.settings import Settings

pytest_plugins = ["tests.plugins.kafka_fixtures"]

MYSQL_SERVER = os.environ.get("REDEEMFLOW_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306")
REDIS_URL = os.environ.get("REDEEMFLOW_TEST_REDIS", "redis://127.0.0.1:6379/0")


def unique_id(prefix: str = "t") -> str:
    """A short id unique to this call, usable as tenant/campaign/request id."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def run_id() -> str:
    """Identifies this test session in database names and key prefixes."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def database_url(run_id: str) -> Iterator[str]:
    """A freshly migrated throwaway database, dropped at the end of the session."""
    name = f"rf_test_{run_id}"
    url = f"{MYSQL_SERVER}/{name}"
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    server = create_engine(MYSQL_SERVER + "/")
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


@pytest.fixture(scope="session")
def redis_prefix(run_id: str) -> Iterator[str]:
    """A Redis key prefix owned by this session; its keys are deleted afterwards."""
    prefix = f"rft{run_id}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    batch = []
    for key in client.scan_iter(match=f"{prefix}:*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)
    client.close()


@pytest.fixture(scope="session")
def base_settings(database_url: str, redis_prefix: str) -> Settings:
    """Settings for MySQL and Redis only (no broker)."""
    return Settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        redis_key_prefix=redis_prefix,
        kafka_bootstrap_servers="127.0.0.1:1",
    )


@pytest.fixture()
def container(base_settings: Settings) -> Iterator[Container]:
    """A container over the session's database and Redis prefix."""
    with bootstrap(base_settings) as built:
        yield built
