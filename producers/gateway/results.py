"""Request-reply over ``redeem.results``: one background consumer per gateway process.

The listener reads every partition of ``redeem.results`` from the high watermark it finds at
start (manual assignment, no consumer group membership, nothing committed), in a thread.
Only results for request ids this process published (``watch``) are decoded; they are handed
to the event loop, which completes the futures of waiting HTTP requests and keeps the result
in a bounded LRU so ``GET /api/redeem/{requestId}`` can answer after a 202.

A listener that cannot reach the broker keeps retrying in its thread; ``ready`` says when it
reads (``/readyz`` reports it).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from typing import Any

from core.adapters.kafka.reader import PartitionReader
from core.errors import RedeemflowError
from core.settings import Settings
from core.topics import Topic
from schemas.base import MessageDecodeError
from schemas.events import RedeemResult

log = logging.getLogger("redeemflow.gateway.results")

_RETRY_SECONDS = 2.0
_WATCH_LIMIT = 200_000


class ResultListener:
    """Background reader of ``redeem.results`` dispatching to waiting futures by request id."""

    def __init__(self, settings: Settings, cache_size: int | None = None) -> None:
        self._settings = settings
        self._topic = settings.topic(Topic.REDEEM_RESULTS)
        self._cache_size = cache_size or settings.gateway_result_cache_size
        self._waiters: dict[str, list[asyncio.Future[RedeemResult]]] = {}
        self._recent: OrderedDict[str, RedeemResult] = OrderedDict()
        # written on the event loop only; the reader thread only calls .get, one atomic step
        # under the GIL (str keys): no lock, which the loop had to wait for while the reader
        # held it across a GIL switch (seen in py-spy under load)
        self._watched: OrderedDict[str, str] = OrderedDict()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle (event loop thread) ---------------------------------------------------

    def start(self) -> None:
        """Start the reader thread (returns at once; see :attr:`ready`)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="gateway-results", daemon=True)
        self._thread.start()

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until the listener reads the topic (or ``timeout``)."""
        return await asyncio.to_thread(self._ready.wait, timeout)

    async def stop(self) -> None:
        """Stop the thread and close the consumer; pending waiters are cancelled."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10.0)
        for futures in self._waiters.values():
            for future in futures:
                future.cancel()
        self._waiters.clear()

    @property
    def ready(self) -> bool:
        """Whether partitions are assigned at their end offsets and being read."""
        return self._ready.is_set()

    @property
    def pending(self) -> int:
        """How many request ids have a waiter now."""
        return len(self._waiters)

    # -- request side (event loop thread) ------------------------------------------------

    def recent(self, request_id: str) -> RedeemResult | None:
        """A result seen lately, if still in the LRU."""
        return self._recent.get(request_id)

    def watching(self, request_id: str) -> str | None:
        """The tenant of ``request_id`` if this process published it lately, else None."""
        return self._watched.get(request_id)

    def expect(self, request_id: str, tenant_id: str) -> asyncio.Future[RedeemResult]:
        """Register interest in a result before publishing its request."""
        self._watched[request_id] = tenant_id
        self._watched.move_to_end(request_id)
        while len(self._watched) > _WATCH_LIMIT:
            self._watched.popitem(last=False)
        loop = self._loop or asyncio.get_running_loop()  # the loop start() ran on
        future: asyncio.Future[RedeemResult] = loop.create_future()
        self._waiters.setdefault(request_id, []).append(future)
        return future

    def forget(self, request_id: str, future: asyncio.Future[RedeemResult]) -> None:
        """Drop a waiter that gave up (the id stays watched, so its result is kept)."""
        futures = self._waiters.get(request_id, [])
        if future in futures:
            futures.remove(future)
        if not futures:
            self._waiters.pop(request_id, None)

    def _deliver(self, results: list[RedeemResult]) -> None:
        for result in results:
            self._recent[result.request_id] = result
            self._recent.move_to_end(result.request_id)
            for future in self._waiters.pop(result.request_id, []):
                if not future.done():
                    future.set_result(result)
        while len(self._recent) > self._cache_size:
            self._recent.popitem(last=False)

    # -- reader thread --------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._reader() as reader:
                    log.info("results listener reading %d partition(s) of %s",
                             len(reader.ends), self._topic)
                    self._ready.set()
                    self._read(reader)
            except RedeemflowError as exc:
                log.warning("results listener: %s; retrying in %.0fs", exc, _RETRY_SECONDS)
            except Exception:  # the listener must outlive any one failure
                log.exception("results listener failed; retrying in %.0fs", _RETRY_SECONDS)
            finally:
                self._ready.clear()
            self._stop.wait(_RETRY_SECONDS)

    def _reader(self) -> PartitionReader:
        return PartitionReader(
            self._settings.kafka_bootstrap_servers, self._topic, start="end", name="gateway",
            config={"enable.partition.eof": False,
                    "fetch.wait.max.ms": self._settings.consumer_fetch_max_wait_ms},
        )

    def _read(self, reader: PartitionReader) -> None:
        loop = self._loop
        assert loop is not None
        while not self._stop.is_set():
            batch = reader.poll(0.1)  # returns as soon as one record is there
            found = [r for r in (self._decode(m) for m in batch) if r is not None]
            if found and not loop.is_closed():
                loop.call_soon_threadsafe(self._deliver, found)

    def _decode(self, message: Any) -> RedeemResult | None:
        key = (message.key() or b"").decode("utf-8", "replace")
        if self.watching(key) is None:
            return None
        try:
            return RedeemResult.from_bytes(message.value() or b"")
        except MessageDecodeError:
            log.warning("undecodable result for a watched request")
            return None
