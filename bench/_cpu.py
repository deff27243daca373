"""CPU time of the processes a benchmark phase runs on, read from ``/proc``.

On two cores the worker, MariaDB, Redis, the embedded broker and the benchmark itself share
the machine, so a phase's figure says little without where the CPU went: this splits it
per process (user + system time, children not included).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def pids_running(name: str, containing: str = "") -> list[int]:
    """Processes whose program name starts with ``name`` (``redis-server`` also matches the
    title ``redis-server 127.0.0.1:6379`` it gives itself; ``tansu`` the versioned binary)
    and whose command line contains ``containing`` (e.g. a broker's listening address)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if argv[0].rsplit("/", 1)[-1].startswith(name) and containing in " ".join(argv) + " ":
            found.append(int(entry.name))
    return found


class CpuMeter:
    """CPU seconds per named group of processes between :meth:`start` and :meth:`stop`."""

    def __init__(self, groups: Mapping[str, Iterable[int]]) -> None:
        self._groups = {name: list(pids) for name, pids in groups.items()}
        self._before: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: sum(map(cpu_seconds, pids)) for name, pids in self._groups.items()}

    def start(self) -> None:
        """Take the starting reading."""
        self._before = self._now()

    def stop(self) -> dict[str, float]:
        """CPU seconds each group used since :meth:`start`."""
        after = self._now()
        return {name: after[name] - self._before.get(name, 0.0) for name in after}


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process and its children so far: finished ones
    that were waited for (``os.times``) and live ones (a pool's worker processes)."""
    times = os.times()
    total = times.user + times.system + times.children_user + times.children_system
    me = os.getpid()
    for task in Path(f"/proc/{me}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(cpu_seconds(int(pid)) for pid in children)
    return total
