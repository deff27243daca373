"""A faust transport whose consumer does not sit on idle fetches.

faust 0.15.3 creates its aiokafka consumer with ``fetch_max_wait_ms=1500`` hard-coded. On
the embedded Tansu broker a fetch that finds no data is held for that long even when records
arrive meanwhile, which put up to 1.5 s on every redemption at low load (measured: one
request through gateway and worker took ~700 ms; with a 20 ms wait, ~51 ms). The subclasses
below make that wait a setting (``consumer_fetch_max_wait_ms``); everything else is
faust's own transport.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport import base
from faust.transport.drivers import aiokafka as faust_aiokafka


class _QuickFetchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        app = self.consumer.app
        consumer._fetch_max_wait_ms = getattr(app, "fetch_max_wait_ms", 1500)  # read at start
        return consumer


class _QuickFetchConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _QuickFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)


class QuickFetchTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport with a short fetch wait."""

    Consumer = _QuickFetchConsumer


class QuickFetchApp(faust.App):
    """A faust App that consumes through :class:`QuickFetchTransport`."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int = 1500, **kwargs: Any) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> base.Transport:
        return QuickFetchTransport(self.conf.broker_consumer, self)
