"""A faust transport whose consumer does not sit on idle fetches.

faust 0.15.3 creates its aiokafka consumer with ``fetch_max_wait_ms=1500`` hard-coded. On
the embedded Tansu broker a fetch that finds no data is held for that long even when records
arrive meanwhile, which put up to 1.5 s on every redemption at low load (measured: one
request through gateway and worker took ~700 ms; with a 20 ms wait, ~51 ms). The subclasses
below make that wait a setting (``consumer_fetch_max_wait_ms``), and space the fetches
(``consumer_fetch_min_interval_ms``, :mod:`consumers.fetch_spacing`).

faust's fetch loop also hands every message to the topic's callback through
``Service.wait_first(callback, suspend_flow.wait())``, so that a rebalance can abandon a
message whose delivery is stuck. That starts four tasks per message (the callback and three
watchers: flow suspended, service stopped, service crashed): 33 µs per message on uvloop,
about a tenth of a busy worker's time. The callback almost never waits (channels take
messages with ``put_nowait`` and pause the partition when full), so the consumer below runs
it eagerly, without a task, up to its first suspension; only a callback that does wait goes
on as a task raced against the watchers, exactly as before.

faust's own sensor, the Monitor, also runs on every message and event (in, out, acked) to
keep statistics for faust's web ``/stats`` page, which redeemflow does not serve (its
metrics are Prometheus', :mod:`core.metrics`): the app gets a Monitor whose per-message
hooks do nothing. Agents reading raw bytes take them through :class:`RawBytesSchema`,
which hands the record's key and value to the event as they are, instead of passing each
through faust's serializer registry and the raw codec (the same bytes, ~5 % of a busy
worker's time). The consumer thread also stops its aiokafka consumer on its own loop when
a rebalance begins after shutdown did (faust did it on the app's loop, and a SIGTERM during
the worker's first group join then hung it until killed). Everything else is faust's own
transport.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any

import faust
from faust.sensors import Monitor
from faust.transport import base
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults

from consumers.fetch_spacing import space_fetches


def run_eagerly(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """Step ``coro`` until it first suspends: ``(True, result)`` when it finished without
    suspending (no task, no loop iteration), else ``(False, awaitable)`` whose awaiting
    completes it, with cancellation and exceptions passed through to ``coro``."""
    try:
        waiting_on = coro.send(None)
    except StopIteration as stop:
        return True, stop.value
    return False, _resume(coro, waiting_on)


async def _resume(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    """Drive a coroutine suspended on ``waiting_on`` (a future, or None for a bare yield as
    in ``asyncio.sleep(0)``) the way a task would, from this coroutine's own task."""
    while True:
        failure: BaseException | None = None
        try:
            if waiting_on is None:
                await asyncio.sleep(0)
            else:
                waiting_on._asyncio_future_blocking = False  # taken over, as a task does
                await waiting_on
        except BaseException as exc:  # noqa: BLE001 - cancellation too: it belongs to coro
            failure = exc
        try:
            waiting_on = coro.send(None) if failure is None else coro.throw(failure)
        except StopIteration as stop:
            return stop.value


class _QuickFetchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    _stopping_consumer: concurrent.futures.Future[None] | None = None

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        app = self.consumer.app
        consumer._fetch_max_wait_ms = getattr(app, "fetch_max_wait_ms", 1500)  # read at start
        space_fetches(consumer, getattr(app, "fetch_min_interval_ms", 0))
        return consumer

    def close(self) -> None:
        """Stop the aiokafka consumer on its own thread's loop, once.

        faust calls this from the app's loop when a rebalance starts after shutdown began
        (a SIGTERM during the first group join, say). faust's own version closes the
        consumer's client and coordinator on the app's loop, though both live on this
        thread's loop: the client's metadata task was cancelled from the wrong thread while
        the join waited for metadata, and the worker hung on SIGTERM until it was killed."""
        if self._consumer is None or self._stopping_consumer is not None:
            return
        self._stopping_consumer = asyncio.run_coroutine_threadsafe(
            self._consumer.stop(), self.thread_loop
        )

    async def on_thread_stop(self) -> None:
        """Stop as faust does, then wait for a stop :meth:`close` began (faust's own
        ``consumer.stop()`` returns at once when one is under way)."""
        await super().on_thread_stop()
        if self._stopping_consumer is not None:
            await asyncio.wrap_future(self._stopping_consumer)


class _QuickFetchConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _QuickFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        """faust's fetch loop calls this once per message with ``(callback(message),
        suspend_flow.wait())``: run the callback eagerly and skip the watchers when it
        does not suspend; otherwise (and for any other call) race as mode does."""
        interrupted = self.suspend_flow.is_set() or self._stopped.is_set() or self._crashed.is_set()
        if timeout is not None or len(coros) != 2 or interrupted:
            return await super().wait_first(*coros, timeout=timeout)
        handle, flow = coros
        if not asyncio.iscoroutine(handle):
            return await super().wait_first(*coros)
        finished, outcome = run_eagerly(handle)
        if not finished:
            return await super().wait_first(outcome, flow)
        if asyncio.iscoroutine(flow):
            flow.close()  # never started: nothing to cancel
        return WaitResults([handle], [outcome], False)


class QuickFetchTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport with a short fetch wait."""

    Consumer = _QuickFetchConsumer


class RawBytesSchema(faust.Schema):
    """Events whose key and value are the record's own bytes, undecoded."""

    def compile(self, app: Any, **_options: Any) -> Any:
        """A decode function with nothing to decode (so no decode error to route)."""
        create_event = app.create_event

        async def decode(message: Any, *, propagate: bool = False) -> Any:
            return create_event(message.key, message.value, message.headers, message)

        return decode


class PerMessageQuietMonitor(Monitor):
    """faust's Monitor without its per-message bookkeeping (rebalances and commits are
    still tracked): nothing reads those statistics, and they cost every message."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        """Not counted."""

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        """Not counted."""

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        """Not counted."""

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        """Not counted."""

    def track_tp_end_offset(self, tp: Any, offset: int) -> None:
        """Not tracked."""


class QuickFetchApp(faust.App):
    """A faust App that consumes through :class:`QuickFetchTransport`, with a
    :class:`PerMessageQuietMonitor` unless given another monitor."""

    def __init__(
        self,
        *args: Any,
        fetch_max_wait_ms: int = 1500,
        fetch_min_interval_ms: int = 0,
        **kwargs: Any,
    ) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.fetch_min_interval_ms = fetch_min_interval_ms
        kwargs.setdefault("monitor", PerMessageQuietMonitor())
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> base.Transport:
        return QuickFetchTransport(self.conf.broker_consumer, self)
