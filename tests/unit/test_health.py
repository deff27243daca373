"""Readiness over probes (core/health.py): no service needed, the probes are plain functions."""

from __future__ import annotations

import asyncio
import threading

from core.errors import CacheUnavailable
from core.health import check_readiness, off_loop


async def test_ready_only_when_every_probe_answers() -> None:
    async def pong() -> str:
        return "PONG"

    async def down() -> str:
        raise CacheUnavailable("connection refused")

    ready = await check_readiness({"redis": pong, "mysql": off_loop(lambda: "SELECT 1 ok")}, 5)
    assert ready.ready
    assert ready.as_dict()["checks"]["mysql"]["detail"] == "SELECT 1 ok"

    failing = await check_readiness({"redis": down, "mysql": off_loop(lambda: "ok")}, 5)
    assert not failing.ready
    assert failing.checks["mysql"].ok
    assert failing.checks["redis"].detail == "CacheUnavailable: connection refused"


async def test_a_hung_probe_is_not_ready_and_blocks_nothing() -> None:
    release = threading.Event()
    never = asyncio.Event()

    async def hung() -> str:
        await never.wait()
        return "never"

    try:
        result = await check_readiness(
            {"kafka": off_loop(lambda: "metadata ok" if release.wait(30) else "late"),
             "redis": hung}, 0.05)
    finally:
        release.set()  # let the probe thread finish
    assert not result.ready
    assert result.checks["kafka"].detail == "no answer within 0.05s"
    assert result.checks["redis"].detail == "no answer within 0.05s"
