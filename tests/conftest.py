"""Session fixtures: a throwaway MariaDB database, a Redis key prefix and the embedded broker.

Every run gets its own database name and key prefix, so runs never see each other's rows
and tests can run in any order, twice in a row. The database is dropped and the keys are
deleted when the session ends.

Tests marked ``redis_cluster`` run twice: against the single Redis and against a real local
Redis Cluster (three masters with a replica each, started once per session, killed after).
``--redis-cluster=off`` (or ``REDEEMFLOW_TEST_REDIS_CLUSTER=off``) skips the cluster runs,
``only`` runs just them.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _pytest.mark.expression import Expression

from core.settings import Settings

if TYPE_CHECKING:
    from core.adapters.redis.local_cluster import LocalRedisCluster
    from core.bootstrap import Container

pytest_plugins = ["tests.plugins.kafka_fixtures"]

MYSQL_SERVER = os.environ.get("REDEEMFLOW_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306")
REDIS_URL = os.environ.get("REDEEMFLOW_TEST_REDIS", "redis://127.0.0.1:6379/0")


CLUSTER_MODES = {"both": ["single", "cluster"], "off": ["single"], "only": ["cluster"]}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--redis-cluster",
        choices=sorted(CLUSTER_MODES),
        default=os.environ.get("REDEEMFLOW_TEST_REDIS_CLUSTER", "both"),
        help="run tests marked redis_cluster against a local Redis Cluster too (both),"
        " not (off), or only there (only)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "redis_cluster: run against the single Redis and a local Redis Cluster"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests under tests/integration are ``integration`` and under tests/e2e are ``e2e``,
    marked or not: the unit tier (``-m "not integration and not e2e"``) must run with no
    service up, so a test that needs one cannot slip into it by a forgotten mark."""
    for item in items:
        parts = item.path.parts
        if "integration" in parts and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)
        elif "e2e" in parts and item.get_closest_marker("e2e") is None:
            item.add_marker(pytest.mark.e2e)


#: The folders whose every test carries the mark of the folder's name (see
#: pytest_collection_modifyitems).
TIER_FOLDERS = ("integration", "e2e")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip importing tests/integration or tests/e2e when ``-m`` deselects all of it anyway.

    Every test there carries the folder's mark, so when no combination of the other marks a
    test may carry lets the expression select a test with that mark, none of the folder would
    run: not collecting it spares the unit tier importing the drivers those tests use.
    """
    mark = collection_path.name
    markexpr = config.getoption("markexpr", "")
    if mark not in TIER_FOLDERS or collection_path.parent != Path(__file__).parent \
            or not markexpr:
        return None
    return None if _may_select(markexpr, mark) else True


def _may_select(markexpr: str, mark: str) -> bool:
    """Whether ``markexpr`` is true for some test marked ``mark`` (any other marks free)."""
    expression = Expression.compile(markexpr)
    names = sorted(set(re.findall(r"[\w.]+", markexpr)) - {"and", "or", "not", mark})
    for values in itertools.product((False, True), repeat=len(names)):
        marks = {mark, *(name for name, on in zip(names, values, strict=True) if on)}
        if expression.evaluate(marks.__contains__):
            return True
    return False


def pytest_collection_finish(session: pytest.Session) -> None:
    """Unload hypothesis' pytest plugin when no collected test imported hypothesis.

    The plugin imports the whole of hypothesis at the end of every run (its terminal summary
    lists the files hypothesis' observability wrote), about a second when bytecode is not
    cached, which was a fifth of the unit tier. With no hypothesis test collected nothing can
    have been written, and the plugin has nothing else to do; a run with property tests keeps
    it.
    """
    if "hypothesis" not in sys.modules:
        manager = session.config.pluginmanager
        plugin = manager.get_plugin("hypothesispytest")
        if plugin is not None:
            manager.unregister(plugin)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``redis_mode`` (so ``base_settings``) for tests marked redis_cluster."""
    if "redis_mode" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "redis_cluster"
    ):
        modes = CLUSTER_MODES[metafunc.config.getoption("--redis-cluster")]
        metafunc.parametrize("redis_mode", modes, indirect=True, scope="session")


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
    from sqlalchemy import create_engine, text

    from core.adapters.mysql.migrate import upgrade

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
    import redis

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
def redis_mode(request: pytest.FixtureRequest) -> str:
    """``single`` (the machine's Redis) or ``cluster`` (the session's local cluster)."""
    return str(getattr(request, "param", "single"))


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalRedisCluster]:
    """A local Redis Cluster for the session: 3 masters, 1 replica each, fast failover."""
    from core.adapters.redis.local_cluster import LocalRedisCluster

    with LocalRedisCluster(masters=3, replicas=1) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def base_settings(
    database_url: str, redis_prefix: str, redis_mode: str, request: pytest.FixtureRequest
) -> Settings:
    """Settings for MySQL and Redis only (no broker); Redis is a cluster in cluster mode."""
    url = REDIS_URL
    if redis_mode == "cluster":
        url = request.getfixturevalue("redis_cluster").url
    return Settings(
        database_url=database_url,
        redis_url=url,
        redis_key_prefix=redis_prefix,
        kafka_bootstrap_servers="127.0.0.1:1",
    )


@pytest.fixture()
def container(base_settings: Settings) -> Iterator[Container]:
    """A container over the session's database and Redis prefix."""
    from core.bootstrap import bootstrap

    with bootstrap(base_settings) as built:
        yield built
