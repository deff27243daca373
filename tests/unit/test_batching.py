"""Batches are formed when the runner can start them, so a backlog becomes one full batch."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from consumers.batch_loop import process_batches
from core.pipeline import BatchRunner


class _Event:
    def __init__(self, offset: int) -> None:
        self.message = SimpleNamespace(
            topic="t", partition=0, offset=offset, key=b"k", value=b"%d" % offset
        )
        self.acked = False

    def ack(self) -> None:
        self.acked = True


class _Publisher:
    async def publish(self, messages: Any) -> None:  # nothing is dead-lettered here
        raise AssertionError(messages)


@pytest.mark.parametrize("gated", [True, False])
async def test_a_backlog_gathered_while_not_ready_becomes_one_batch(gated: bool) -> None:
    sizes: list[int] = []
    room = asyncio.Event()

    async def process(items: list[bytes]) -> None:
        sizes.append(len(items))

    async def ready() -> None:
        await room.wait()

    runner = BatchRunner(lambda b: b, process, _Publisher(), ready=ready if gated else None)
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=100)
    events = [_Event(i) for i in range(60)]
    loop = asyncio.ensure_future(process_batches(queue, runner, 100, 0.005, 4))
    for event in events:
        await queue.put(event)
        await asyncio.sleep(0.002)  # slower than the window: ungated, they go in pieces
    room.set()
    while sum(sizes) < len(events):
        await asyncio.sleep(0.01)
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert all(e.acked for e in events)
    assert (sizes == [60]) is gated, sizes


class _DeadLetters:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def publish(self, messages: Any) -> None:
        self.messages.extend(messages)


def _raw(offset: int, value: bytes) -> Any:
    from core.pipeline import RawEvent

    return RawEvent("redeem.requests", 3, offset, b"k", value)


async def test_half_valid_messages_are_dead_lettered_logged_and_answered(caplog) -> None:
    import orjson

    from schemas.events import RedeemRequested
    from schemas.salvage import RejectedRedeem, salvage_redeem_request

    processed: list[Any] = []

    async def process(items: list[Any]) -> None:
        processed.extend(items)

    valid = {"request_id": "r1", "tenant_id": "t1", "product_code": "P", "code": "ABCD",
             "user_id": "u1"}
    half = orjson.dumps({**valid, "request_id": "r2", "channel": "fax"})
    hopeless = orjson.dumps({"request_id": "r3", "channel": "fax"})
    publisher = _DeadLetters()
    runner = BatchRunner(
        RedeemRequested.from_bytes, process, publisher, salvage=salvage_redeem_request
    )
    with caplog.at_level("ERROR", logger="redeemflow.consumers"):
        await runner.run([_raw(10, orjson.dumps(valid)), _raw(11, half), _raw(12, hopeless)])
    assert [type(p).__name__ for p in processed] == ["RedeemRequested", "RejectedRedeem"]
    rejected = processed[1]
    assert isinstance(rejected, RejectedRedeem) and rejected.field == "channel"
    assert "channel" in rejected.message and not rejected.message.startswith("RedeemRequested")
    masked = half.replace(b'"code":"ABCD"', b'"code":"****"')
    assert [m.value for m in publisher.messages] == [masked, hopeless], "both dead-lettered"
    assert not any(b"ABCD" in m.value + m.key for m in publisher.messages), "code masked"
    lines = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert len(lines) == 2
    assert "topic=redeem.requests partition=3 offset=11 field=channel" in lines[0]
    assert "offset=12" in lines[1] and "error=" in lines[1]


async def test_a_message_failing_alone_in_processing_is_logged_once(caplog) -> None:
    async def process(items: list[bytes]) -> None:
        raise ValueError("boom")

    publisher = _DeadLetters()
    runner = BatchRunner(lambda b: b, process, publisher)
    with caplog.at_level("ERROR", logger="redeemflow.consumers"):
        await runner.run([_raw(1, b"a"), _raw(2, b"b")])
    lines = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert len(lines) == 2 and all("error=boom" in line for line in lines)
    assert len(publisher.messages) == 2


async def _turns(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_a_lone_event_is_a_batch_at_once_and_a_fetch_of_several_waits_for_more() -> None:
    from consumers.batch_loop import next_batch

    queue: asyncio.Queue[Any] = asyncio.Queue()
    lone = asyncio.ensure_future(next_batch(queue, 100, window=3600))
    await _turns()
    queue.put_nowait("alone")
    await _turns()
    assert lone.done() and lone.result() == ["alone"], "a lone event waited for the window"

    several = asyncio.ensure_future(next_batch(queue, 3, window=3600))
    await _turns()
    queue.put_nowait("a")
    queue.put_nowait("b")  # arrived together: more are likely, the window is worth waiting
    await _turns()
    assert not several.done()
    queue.put_nowait("c")
    await _turns()
    assert several.done() and several.result() == ["a", "b", "c"]
