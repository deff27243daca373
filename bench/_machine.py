"""How fast the machine is right now, so a benchmark's figures can be read against it.

The development machine is a VM whose speed drifts with its host: the same pure-Python
loop took 0.35 s at one moment and 0.52 s at another on an idle machine. A benchmark
prints this probe before and after its phases; compare figures of runs with similar probes.
"""

from __future__ import annotations

import statistics
import time

PROBE_ITERATIONS = 1_000_000


def cpu_probe_ms(repeats: int = 5) -> float:
    """Median milliseconds of a fixed pure-Python loop (one core, no I/O)."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        total = 0
        for number in range(PROBE_ITERATIONS):
            total += number
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)
