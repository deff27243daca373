"""Lua scripts are called by SHA; a server that lost them (SCRIPT FLUSH, restart) is
re-taught transparently, and only the calls that failed are sent again."""

from __future__ import annotations

import pytest

from core.adapters.redis.scripts import ScriptRunner, load_script

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


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


def test_evalsha_is_packed_as_redis_py_packs_it() -> None:
    from redis.asyncio.connection import Connection

    from core.adapters.redis.scripts import evalsha

    keys, args = ["rf:{t}:c:AB2C", "rf:{t}:n:AB2C"], [1796154157000, "APP_A", "u1", 10, "ÄB"]
    expected = b"".join(Connection().pack_commands([("EVALSHA", "f" * 40, 2, *keys, *args)]))
    assert evalsha("f" * 40, keys, args) == expected


async def test_an_error_reply_is_raised_and_the_connection_stays_usable(container) -> None:
    from redis.exceptions import ResponseError

    client = container.async_redis()
    runner = ScriptRunner(client)
    await runner.register()
    key = f"{container.keys.prefix}:{{scripts}}:err"
    await client.set(key + ":hash", "not a hash")  # HGET on a string: WRONGTYPE inside Lua
    good = ([key, key + ":u", key + ":r"], ["v", "u", "0", "1"])
    bad = ([key, key + ":hash", key + ":r"], ["v", "u", "0", ""])
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await runner.run_many("release", [good, bad, good])
    assert await runner.run_many("release", [good]) == [1], "replies were all read"
    assert await client.get(key) == "v"
    await client.delete(key, key + ":u", key + ":hash", key + ":r")
    await client.aclose()
