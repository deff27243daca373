"""CPU seconds MariaDB spent on one engine's connections, read per server thread.

With ``thread_handling=one-thread-per-connection`` each client connection is one OS thread
of ``mariadbd`` (``information_schema.PROCESSLIST.TID``), whose user + system time is in
``/proc/<mariadbd>/task/<tid>/stat``. Unlike the whole server's CPU this is not disturbed by
other clients of a shared server. Not counted: InnoDB's background threads (purge, page
cleaner), which finish some of the work after the commit. Works only when the server runs
on this machine; otherwise the figure is ``None``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench._cpu import pids_running

_TICKS = os.sysconf("SC_CLK_TCK")
_TID_SQL = "SELECT TID FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()"


def _thread_cpu(server: int, tid: int) -> float | None:
    try:
        fields = Path(f"/proc/{server}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


class ServerCpu:
    """Attach to engines before they are used; :meth:`seconds` since each connection's
    first checkout (connections stay pooled, so their threads live until the engine goes)."""

    def __init__(self, *engines: Engine) -> None:
        servers = pids_running("mariadbd") or pids_running("mysqld")
        self._server = servers[0] if len(servers) == 1 else None
        self._start: dict[int, float] = {}
        self._failed = self._server is None
        for engine in engines:
            event.listen(engine, "checkout", self._seen)

    def _seen(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if self._failed or self._server is None:
            return
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(_TID_SQL)
            row = cursor.fetchone()
        finally:
            cursor.close()
        tid = int(row[0]) if row and row[0] is not None else None
        cpu = _thread_cpu(self._server, tid) if tid is not None else None
        if tid is None or cpu is None:
            self._failed = True
            return
        self._start.setdefault(tid, cpu)

    def seconds(self) -> float | None:
        """Server CPU of the connections seen so far (None when it cannot be read)."""
        if self._failed or self._server is None:
            return None
        total = 0.0
        for tid, start in self._start.items():
            now = _thread_cpu(self._server, tid)
            if now is None:
                return None
            total += now - start
        return total
