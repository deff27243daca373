"""Lua scripts are called by SHA; a server that lost them (SCRIPT FLUSH, restart) is
re-taught transparently, and only the calls that failed are sent again."""

from __future__ import annotations

import pytest

from core.adapters.redis.scripts import ScriptRunner, load_script

pytestmark = pytest.mark.integration


async def test_noscript_reloads_and_runs_each_call_once(container) -> None:
    client = container.async_redis()
    runner = ScriptRunner(client)
    await runner.register()
    key = f"{container.keys.prefix}:{{scripts}}:counter"
    source = load_script("release")
    await client.script_flush()
    assert await client.script_exists(source.sha) == [False]
    user_hash = f"{container.keys.prefix}:{{scripts}}:pu"
    calls = [([key, user_hash, key + ":req"], [f"v{i}", "u", "0", str(i)]) for i in range(3)]
    replies = await runner.run_many("release", calls)
    assert replies == [1, 1, 1]
    assert await client.script_exists(source.sha) == [True]
    assert await client.get(key) == "v2", "every call ran once, in order"
    assert await client.hget(user_hash, "u") == "2"
    await client.delete(key, user_hash)
    await client.aclose()
