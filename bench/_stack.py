"""A throwaway stack for benchmarks: embedded broker, fresh database, own Redis prefix."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text

from core.adapters.kafka.admin import create_topics
from core.adapters.kafka.broker import EmbeddedBroker
from core.adapters.mysql.engine import database_url
from core.adapters.mysql.migrate import upgrade
from core.adapters.redis.client import sync_client
from core.settings import Settings, load_settings

MYSQL_SERVER = "mysql+pymysql://root@127.0.0.1:3306"
REDIS_URL = "redis://127.0.0.1:6379/0"


@contextlib.contextmanager
def throwaway_stack(partitions: int = 8, **overrides: object) -> Iterator[Settings]:
    """Settings for a broker, database and Redis prefix that exist only inside the block;
    ``overrides`` replace any setting (e.g. limits, batch size, key prefix)."""
    run = uuid.uuid4().hex[:8]
    database = f"rf_bench_{run}"
    with EmbeddedBroker() as broker:
        fields: dict[str, object] = {
            "database_url": f"{MYSQL_SERVER}/{database}",
            "redis_url": REDIS_URL,
            "redis_key_prefix": f"rfb{run}",
            "topic_partitions": partitions,
            "consumer_group": f"bench-{run}",
            **overrides,
            "kafka_bootstrap_servers": broker.bootstrap_servers,
        }
        settings = Settings(**fields)  # type: ignore[arg-type]
        engine = create_engine(settings.database_url)
        upgrade(engine)
        engine.dispose()
        create_topics(settings)
        try:
            yield settings
        finally:
            drop_own(settings)


def own_settings(database: str, redis_key_prefix: str) -> Settings:
    """The environment's settings with a database of their own (on the same server) and a
    Redis key prefix of their own (benchmarks that set up and drop their own)."""
    base = load_settings()
    url = database_url(base)._replace(database=database)
    return Settings(**{**base.model_dump(), "database_url": url.render_as_string(False),
                       "redis_key_prefix": redis_key_prefix})


def drop_own(settings: Settings) -> None:
    """Drop the database and delete the Redis keys the settings own (see ``own_settings``)."""
    _drop_database(settings)
    delete_prefix(settings.redis_url, settings.redis_key_prefix)


def delete_prefix(redis_url: str, prefix: str) -> int:
    """Delete every key of one prefix (and only those; never FLUSHDB); how many. A cluster
    URL scans every master and deletes slot by slot."""
    client = sync_client(Settings(redis_url=redis_url))
    deleted, batch = 0, []
    for key in client.scan_iter(match=f"{prefix}:*", count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            deleted += client.delete(*batch)
            batch.clear()
    if batch:
        deleted += client.delete(*batch)
    client.close()
    return deleted


def _drop_database(settings: Settings) -> None:
    server = create_engine(database_url(settings)._replace(database=None))
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{database_url(settings).database}`"))
    server.dispose()
