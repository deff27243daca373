"""The worker's consumer hands a message to its callback without tasks when it can, and
keeps faust's behaviour (a stuck delivery is abandoned when flow is suspended) when not;
its thread stops the aiokafka consumer on the thread's own loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from mode.threads import QueueServiceThread

from consumers.app import create_faust_app
from consumers.transport import run_eagerly
from core.settings import Settings


async def _returns(value: object) -> object:
    return value


async def _waits_for(future: asyncio.Future[Any], log: list[str]) -> object:
    try:
        value = await future
    except ValueError as exc:
        log.append(f"caught {exc}")
        return "recovered"
    except asyncio.CancelledError:
        log.append("cancelled")
        raise
    log.append("resumed")
    return value


async def test_a_coroutine_that_never_suspends_finishes_in_place() -> None:
    finished, value = run_eagerly(_returns(42))
    assert (finished, value) == (True, 42)


@pytest.mark.parametrize(("outcome", "expected"), [("value", "ok"), ("error", "recovered")])
async def test_a_suspended_coroutine_is_completed_by_awaiting_what_is_returned(
    outcome: str, expected: str
) -> None:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    log: list[str] = []
    finished, rest = run_eagerly(_waits_for(future, log))
    assert not finished and log == []
    task = asyncio.ensure_future(rest)
    await asyncio.sleep(0)
    if outcome == "value":
        future.set_result("ok")
    else:
        future.set_exception(ValueError("bad"))
    assert await task == expected
    assert log == (["resumed"] if outcome == "value" else ["caught bad"])


async def test_cancelling_the_rest_cancels_the_coroutine_and_what_it_waits_for() -> None:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    log: list[str] = []
    _, rest = run_eagerly(_waits_for(future, log))
    task = asyncio.ensure_future(rest)
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["cancelled"] and future.cancelled()


async def test_bare_yields_are_passed_through() -> None:
    async def sleeps_twice() -> str:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return "done"

    finished, rest = run_eagerly(sleeps_twice())
    assert not finished
    assert await rest == "done"


def _consumer() -> Any:
    app = create_faust_app(Settings(kafka_bootstrap_servers="127.0.0.1:1"), web_port=0)
    return app.consumer  # built, not started: nothing connects


async def test_the_fetch_loops_callback_runs_without_any_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _consumer()
    started: list[object] = []
    real = asyncio.ensure_future
    monkeypatch.setattr(
        asyncio, "ensure_future", lambda *a, **k: started.append(a) or real(*a, **k)
    )
    results = await consumer.wait_first(_returns("handled"), consumer.suspend_flow.wait())
    assert results.results == ["handled"] and not results.stopped
    assert started == []


async def test_a_stuck_delivery_is_still_abandoned_when_flow_is_suspended() -> None:
    consumer = _consumer()
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    log: list[str] = []
    waiting = asyncio.ensure_future(
        consumer.wait_first(_waits_for(future, log), consumer.suspend_flow.wait())
    )
    await asyncio.sleep(0.01)
    assert not waiting.done()
    consumer.stop_flow()  # a rebalance: faust must be able to move on
    results = await asyncio.wait_for(waiting, 2)
    await asyncio.sleep(0)
    assert results.results == [True]  # suspend_flow.wait() won; the delivery was abandoned
    assert log == ["cancelled"] and future.cancelled()


def test_the_app_keeps_no_per_message_statistics() -> None:
    from consumers.transport import PerMessageQuietMonitor

    app = create_faust_app(Settings(kafka_bootstrap_servers="127.0.0.1:1"), web_port=0)
    assert isinstance(app.monitor, PerMessageQuietMonitor)
    app.monitor.on_message_in(None, 0, None)  # type: ignore[arg-type]
    assert app.monitor.messages_received_total == 0


async def test_raw_bytes_events_carry_the_records_own_bytes() -> None:
    from types import SimpleNamespace

    from consumers.transport import RawBytesSchema

    app = create_faust_app(Settings(kafka_bootstrap_servers="127.0.0.1:1"), web_port=0)
    decode = RawBytesSchema().compile(app)
    record = SimpleNamespace(key=b"T_1:ABC", value=b'{"x":1}', headers=[("h", b"v")])
    event = await decode(record, propagate=True)
    assert (event.key, event.value, event.message) == (b"T_1:ABC", b'{"x":1}', record)


class _StoppableConsumer:
    """Stands in for the aiokafka consumer: records on which loop ``stop`` runs, and stops
    only when told (``release``); as aiokafka's, a second ``stop`` returns at once."""

    def __init__(self) -> None:
        self.stops: list[asyncio.AbstractEventLoop] = []
        self.release = threading.Event()
        self._closed = False

    async def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.stops.append(asyncio.get_running_loop())
        while not self.release.is_set():
            await asyncio.sleep(0.005)


def _consumer_thread_with_own_loop() -> tuple[Any, asyncio.AbstractEventLoop, threading.Thread]:
    thread = _consumer()._thread
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    thread.thread_loop = loop
    return thread, loop, runner


async def test_closing_in_a_rebalance_stops_the_consumer_on_its_own_loop_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """faust closes the consumer from the app's loop when a rebalance starts after shutdown
    began; the consumer's stop must run on the consumer thread's loop (running it on the
    app's loop hung the worker on SIGTERM), and only once."""
    monkeypatch.setattr(QueueServiceThread, "on_thread_stop", _nothing)
    thread, loop, runner = _consumer_thread_with_own_loop()
    fake = thread._consumer = _StoppableConsumer()
    try:
        thread.close()
        thread.close()  # the assignment that follows the revocation closes again
        finishing = asyncio.run_coroutine_threadsafe(thread.on_thread_stop(), loop)
        await asyncio.sleep(0.05)
        assert fake.stops == [loop]
        assert not finishing.done()  # the thread waits for the stop close began
        fake.release.set()
        await asyncio.wrap_future(finishing)
        assert fake.stops == [loop]
    finally:
        fake.release.set()
        loop.call_soon_threadsafe(loop.stop)
        runner.join(5)
        loop.close()


async def _nothing(*_args: Any) -> None:
    return None
