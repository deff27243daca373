"""Lua scripts registered once and called by SHA; a NOSCRIPT reply reloads and retries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

SCRIPT_NAMES = ("claim", "release", "load_code")


@dataclass(frozen=True)
class LuaScript:
    """A script's source and SHA1 (what EVALSHA calls it by)."""

    name: str
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


def load_script(name: str) -> LuaScript:
    """Read a packaged Lua script."""
    source = resources.files("core.adapters").joinpath("redis_lua", f"{name}.lua").read_text()
    return LuaScript(name, source)


class ScriptRunner:
    """Runs packaged scripts with EVALSHA, singly or pipelined.

    A script lost from the server (restart, SCRIPT FLUSH) answers NOSCRIPT; that command did
    not run, so it is loaded again and only the commands that failed are sent again.
    """

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._scripts = {name: load_script(name) for name in SCRIPT_NAMES}

    async def register(self) -> None:
        """Load every script once (at start-up)."""
        for script in self._scripts.values():
            await self._client.script_load(script.source)

    async def run_many(
        self, name: str, calls: list[tuple[list[str], list[Any]]]
    ) -> list[Any]:
        """Run one script for each (keys, args) in one pipeline; replies in order."""
        script = self._scripts[name]
        replies: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        for _attempt in range(3):
            async with self._client.pipeline(transaction=False) as pipe:
                for i in pending:
                    keys, args = calls[i]
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
                results = await pipe.execute(raise_on_error=False)
            retry = []
            for i, result in zip(pending, results, strict=True):
                if isinstance(result, NoScriptError):
                    retry.append(i)
                elif isinstance(result, Exception):
                    raise result
                else:
                    replies[i] = result
            if not retry:
                return replies
            await self._client.script_load(script.source)
            pending = retry
        raise NoScriptError(f"script {name} could not be loaded")
