"""A bulk-load benchmark's starting line: InnoDB has flushed what earlier work left dirty."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.engine import Engine


def settle(engine: Engine, timeout: float = 60.0) -> None:
    """Wait until InnoDB has flushed what earlier work left dirty, so a measurement does not
    pay for the load before it (the 128 MiB buffer pool is all dirty after 1M rows): until
    fewer than 100 pages are dirty, or the count has stopped falling for 2 s (MariaDB with
    ``innodb_max_dirty_pages_pct_lwm=0`` leaves pages dirty at idle), or ``timeout``."""
    deadline = time.monotonic() + timeout
    lowest, still_since = None, time.monotonic()
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            dirty = int(
                conn.execute(text("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'"))
                .one()[1]
            )
        if dirty < 100:
            return
        if lowest is None or dirty < lowest:
            lowest, still_since = dirty, time.monotonic()
        elif time.monotonic() - still_since >= 2.0:
            return
        time.sleep(0.5)


#: InnoDB's server-wide lock counters (``SHOW GLOBAL STATUS``) a benchmark reports per phase.
LOCK_COUNTERS = ("Innodb_row_lock_waits", "Innodb_row_lock_time", "Innodb_deadlocks")


def lock_counters(engine: Engine) -> dict[str, int]:
    """The current values of :data:`LOCK_COUNTERS` (lock time in ms): subtract two readings
    to see how often a phase's transactions waited for each other's row locks."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SHOW GLOBAL STATUS WHERE Variable_name IN :names"), {"names": LOCK_COUNTERS}
        ).all()
    return {str(name): int(value) for name, value in rows}
