"""Blocking work off the event loop: the one helper every async service uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")


async def run_blocking(executor: Executor | None, func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` on ``executor`` (the loop's default one for None), awaited, so
    blocking MySQL or sync Redis calls never stall the event loop."""
    return await asyncio.get_running_loop().run_in_executor(executor, partial(func, *args))
