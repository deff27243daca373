"""Readiness: probe each backing service under its own short timeout, report all of them.

A probe is an awaitable check that returns what it saw or raises; ``core.bootstrap``
builds the Kafka, MySQL and Redis probes from the adapters (``readiness_probes``). Each
check runs under the timeout given (``readiness_timeout_seconds``) and blocking ones run on
a small dedicated thread pool (``off_loop``), so a hung service never blocks the event loop
or starves the default executor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from core.executor import run_blocking

Probe = Callable[[], Awaitable[str]]
"""A readiness check: what it saw (``"PONG"``...), or raises with the reason."""

_PROBES = ThreadPoolExecutor(4, thread_name_prefix="redeemflow-probe")


@dataclass(frozen=True)
class CheckResult:
    """One dependency's probe: ok or not, why, and how long it took."""

    ok: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class Readiness:
    """Every check of a readiness probe; ready when all passed."""

    checks: dict[str, CheckResult] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        """Whether every dependency answered in time."""
        return all(c.ok for c in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"ready": bool, "checks": {name: {...}}}``."""
        return {
            "ready": self.ready,
            "checks": {
                name: {"ok": c.ok, "detail": c.detail, "seconds": round(c.seconds, 4)}
                for name, c in self.checks.items()
            },
        }


async def _timed(probe: Callable[[], Awaitable[str]], timeout: float) -> CheckResult:
    started = time.monotonic()
    try:
        detail = await asyncio.wait_for(probe(), timeout)
        return CheckResult(True, detail, time.monotonic() - started)
    except TimeoutError:
        return CheckResult(False, f"no answer within {timeout}s", time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - any failure is "not ready", with its reason
        return CheckResult(False, f"{type(exc).__name__}: {exc}"[:300], time.monotonic() - started)


def off_loop(blocking: Callable[[], str]) -> Probe:
    """A probe running the blocking check ``blocking`` on the probes' own thread pool."""
    return lambda: run_blocking(_PROBES, blocking)


async def check_readiness(probes: Mapping[str, Probe], timeout: float) -> Readiness:
    """Run every probe at once, each under ``timeout`` seconds."""
    results = await asyncio.gather(*(_timed(p, timeout) for p in probes.values()))
    return Readiness(dict(zip(probes, results, strict=True)))


__all__ = ["CheckResult", "Probe", "Readiness", "check_readiness", "off_loop"]
