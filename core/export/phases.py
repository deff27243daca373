"""Where an export's time goes, phase by phase (for ``bench/export.py``).

An export first checks and numbers itself (``preflight``: campaign, enough codes, the
export's number), then repeats, per chunk: ``lock`` (read and lock rows: server work),
``handoff`` (give them to the sink: inline, that runs ``reveal``, opening each seal, and
``write``, formatting the file), ``mark`` (the UPDATE: server work) and ``pool`` (leave the
Redis pool); then ``drain``, ``fsync+hash`` and ``audit``; ``transaction`` spans it all.
For each phase the clock adds the wall seconds and the calling thread's CPU seconds: wall
minus CPU of ``lock`` and ``mark`` is time spent waiting on MariaDB. The cost is two clock
reads per phase per chunk (a few hundred per million codes), so it is always on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class PhaseClock:
    """Wall and thread-CPU seconds per named phase, summed over an export."""

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block under ``name`` (added to what the phase had)."""
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall
            self.cpu[name] = self.cpu.get(name, 0.0) + time.thread_time() - cpu

    def figures(self) -> dict[str, dict[str, float]]:
        """``{phase: {"wall_s": .., "cpu_s": ..}}``, rounded to milliseconds."""
        return {name: {"wall_s": round(self.wall[name], 3), "cpu_s": round(self.cpu[name], 3)}
                for name in self.wall}
