"""A bulk-load benchmark's starting line: InnoDB has flushed what earlier work left dirty."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.engine import Engine


def settle(engine: Engine, timeout: float = 60.0) -> None:
    """Wait until InnoDB's dirty pages are flushed (or ``timeout``), so a measurement does
    not pay for the load before it (the 128 MiB buffer pool is all dirty after 1M rows)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            dirty = conn.execute(
                text("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
            ).one()[1]
        if int(dirty) < 100:
            return
        time.sleep(0.5)
