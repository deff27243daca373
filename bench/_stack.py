"""A throwaway stack for benchmarks: embedded broker, fresh database, own Redis prefix."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import redis
from sqlalchemy import create_engine, text

from core.adapters.kafka.admin import create_topics
from core.adapters.kafka.broker import EmbeddedBroker
from core.adapters.mysql.migrate import upgrade
from core.settings import Settings

MYSQL_SERVER = "mysql+pymysql://root@127.0.0.1:3306"
REDIS_URL = "redis://127.0.0.1:6379/0"


@contextlib.contextmanager
def throwaway_stack(partitions: int = 8, **overrides: object) -> Iterator[Settings]:
    """Settings for a broker, database and Redis prefix that exist only inside the block."""
    run = uuid.uuid4().hex[:8]
    database = f"rf_bench_{run}"
    with EmbeddedBroker() as broker:
        settings = Settings(
            kafka_bootstrap_servers=broker.bootstrap_servers,
            database_url=f"{MYSQL_SERVER}/{database}",
            redis_url=REDIS_URL,
            redis_key_prefix=f"rfb{run}",
            topic_partitions=partitions,
            consumer_group=f"bench-{run}",
            **overrides,  # type: ignore[arg-type]
        )
        engine = create_engine(settings.database_url)
        upgrade(engine)
        engine.dispose()
        create_topics(settings)
        try:
            yield settings
        finally:
            _drop(database, settings.redis_key_prefix)


def _drop(database: str, prefix: str) -> None:
    server = create_engine(MYSQL_SERVER + "/")
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{database}`"))
    server.dispose()
    client = redis.Redis.from_url(REDIS_URL)
    batch = []
    for key in client.scan_iter(match=f"{prefix}:*", count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)
    client.close()
