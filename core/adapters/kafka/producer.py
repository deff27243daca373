"""The one way redeemflow writes to Kafka: an idempotent confluent-kafka producer.

Delivery errors are never swallowed: every message is tracked until its delivery report
arrives, and a failed report is raised (as :class:`~core.errors.DeliveryFailed` or
:class:`~core.errors.BrokerUnavailable`) from :meth:`EventProducer.flush`, or from the awaited
:meth:`EventProducer.send_many` / :meth:`EventProducer.produce_and_wait` calls.

Topics must exist before producing: automatic topic creation is switched off on the client
(Tansu would otherwise create any misspelt topic with default partitions), so a message for an
unknown topic fails after ``unknown_topic_timeout_ms`` instead of vanishing into a new topic.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from core.errors import BrokerUnavailable, ConfigurationError, DeliveryFailed, RedeemflowError
from core.settings import Settings

__all__ = [
    "DeliveryReport",
    "EventProducer",
    "Headers",
    "ProducedMessage",
    "kafka_client_logger",
    "translate_kafka_error",
]

_LOG = logging.getLogger(__name__)
_CLIENT_LOG = logging.getLogger("redeemflow.librdkafka")

#: Seconds a topic's partition count is remembered (see :meth:`EventProducer.partition_count`).
PARTITION_COUNT_TTL = 300.0
#: librdkafka's "no partition given": the configured partitioner chooses from the key.
_BY_KEY = -1

#: Header forms accepted by :meth:`EventProducer.produce`.
Headers = Mapping[str, bytes | str] | Sequence[tuple[str, bytes | str]]

# Permanent even when librdkafka calls them retriable: the message will never fit/arrive.
_PERMANENT_CODES = frozenset(
    {
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError._INVALID_ARG,
    }
)
# Transient: the broker is unreachable or slow; the same message may go through later.
_TRANSIENT_CODES = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
        KafkaError._QUEUE_FULL,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        KafkaError._PURGE_QUEUE,  # purged from a producer being replaced (see _FENCING_CODES)
        KafkaError._PURGE_INFLIGHT,
    }
)
# The producer instance is finished, not the broker: an idempotent producer fenced after
# its deliveries timed out (the embedded broker answers its epoch bump so), or any fatal
# error. A new producer delivers the same messages, so these are transient for the batch.
_FENCING_CODES = frozenset(
    {
        KafkaError._FATAL,
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
    }
)


def translate_kafka_error(error: KafkaError, context: str) -> RedeemflowError:
    """Map a librdkafka error onto the redeemflow hierarchy (for ``raise ... from exc``)."""
    message = f"{context}: {error.name()} ({error.str()})"
    code = error.code()
    if code in _FENCING_CODES or error.fatal():
        return BrokerUnavailable(f"{message}; the producer is replaced by a new one")
    if code in _PERMANENT_CODES:
        return DeliveryFailed(message)
    if code in _TRANSIENT_CODES or error.retriable():
        return BrokerUnavailable(message)
    return DeliveryFailed(message)


def kafka_client_logger() -> logging.Logger:
    """The logger librdkafka clients write to (instead of printing on stderr)."""
    return _CLIENT_LOG


@dataclass(frozen=True, slots=True)
class ProducedMessage:
    """One message to send: raw bytes in, the caller serialized the value (orjson)."""

    topic: str
    key: bytes | str | None
    value: bytes
    headers: Headers | None = None
    partition: int | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """Where a message was durably written."""

    topic: str
    partition: int
    offset: int


class _Batch:
    """Completion state of one awaited batch, fed by delivery callbacks from any thread.

    ``pending`` starts at the batch size plus one guard released by :meth:`enqueued`, so the
    batch cannot complete while messages are still being handed to librdkafka.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        size: int,
        on_error: Callable[[KafkaError], None],
    ) -> None:
        self.loop = loop
        self._on_error = on_error
        self.future: asyncio.Future[list[DeliveryReport]] = loop.create_future()
        self.reports: list[DeliveryReport | None] = [None] * size
        self.errors: list[KafkaError] = []
        self.refused: RedeemflowError | None = None
        self._pending = size + 1
        self._lock = threading.Lock()

    def callback(self, index: int) -> Any:
        """The delivery callback for message ``index``."""

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                self._on_error(error)
                self.errors.append(error)
            else:
                self.reports[index] = DeliveryReport(
                    message.topic() or "", message.partition() or 0, message.offset() or 0
                )
            self._release(1)

        return on_delivery

    def enqueued(self, unsent: int = 0, refused: RedeemflowError | None = None) -> None:
        """All messages were handed over, except ``unsent`` ones refused synchronously."""
        self.refused = refused
        self._release(unsent + 1)

    def _release(self, count: int) -> None:
        with self._lock:
            self._pending -= count
            done = self._pending == 0
        if done:
            self.loop.call_soon_threadsafe(self._complete)

    def _complete(self) -> None:
        """Resolve the future on its event loop (unless the awaiting task was cancelled)."""
        if self.future.done():
            return
        if self.refused is not None:
            self.future.set_exception(self.refused)
        elif self.errors:
            self.future.set_exception(_batch_error(self.errors, "send"))
        else:
            self.future.set_result([r for r in self.reports if r is not None])


class EventProducer:
    """Idempotent producer (``acks=all``) with surfaced delivery errors.

    ``produce`` is non-blocking; ``flush`` raises if any delivery failed since the previous
    flush. The async methods await durable delivery of a batch without blocking the event loop:
    a background thread polls the client and completes the futures via
    ``loop.call_soon_threadsafe``. Thread-safe; use one per process.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        client_id: str = "redeemflow",
        linger_ms: int = 5,
        message_timeout_ms: int = 30_000,
        unknown_topic_timeout_ms: int = 5_000,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        config: dict[str, Any] = {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
            "message.timeout.ms": message_timeout_ms,
            "allow.auto.create.topics": False,
            "topic.metadata.propagation.max.ms": unknown_topic_timeout_ms,
            "error_cb": self._on_client_error,
            "logger": _CLIENT_LOG,
            **(extra_config or {}),
        }
        self._config = config
        try:
            self._producer = Producer(config)
        except KafkaException as exc:
            raise ConfigurationError(f"invalid producer configuration: {exc}") from exc
        self._renewal_due = threading.Event()
        self._lock = threading.Lock()
        self._failures: list[KafkaError] = []
        self._closed = False
        self._poller: threading.Thread | None = None
        self._stop_polling = threading.Event()
        self._partitions: dict[str, tuple[int, float]] = {}

    # -- synchronous API -------------------------------------------------------------

    def produce(
        self,
        topic: str,
        key: bytes | str | None,
        value: bytes,
        headers: Headers | None = None,
    ) -> None:
        """Queue one message (non-blocking); a failed delivery is raised by :meth:`flush`."""
        self._enqueue(ProducedMessage(topic, key, value, headers), self._record_failure)

    def poll(self, timeout: float = 0.0) -> int:
        """Serve delivery reports; the number of events handled."""
        return int(self._producer.poll(timeout))

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every queued message; raise if any delivery failed since the last flush.

        Raises BrokerUnavailable when messages are still in flight after ``timeout``, or when
        only transient failures happened; DeliveryFailed when any failure was permanent.
        """
        remaining = self._producer.flush(timeout)
        self._raise_failures()
        if remaining:
            raise BrokerUnavailable(f"{remaining} message(s) still undelivered after {timeout}s")

    def close(self, timeout: float = 30.0) -> None:
        """Flush (raising delivery failures) and stop the background poller; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush(timeout)
        finally:
            self._stop_polling.set()
            if self._poller is not None:
                self._poller.join(timeout=5.0)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- asynchronous API ------------------------------------------------------------

    async def produce_and_wait(
        self,
        topic: str,
        key: bytes | str | None,
        value: bytes,
        headers: Headers | None = None,
    ) -> DeliveryReport:
        """Send one message and await its durable delivery."""
        (report,) = await self.send_many([ProducedMessage(topic, key, value, headers)])
        return report

    async def send_many(self, messages: Iterable[ProducedMessage]) -> list[DeliveryReport]:
        """Send a batch and await durable delivery of all of it (reports in input order).

        Raises DeliveryFailed / BrokerUnavailable (as :meth:`flush`) if any message failed;
        the others of the batch may have been written, so consumers must be idempotent.
        """
        return await (await self.enqueue_many(messages))

    async def enqueue_many(
        self, messages: Iterable[ProducedMessage]
    ) -> asyncio.Future[list[DeliveryReport]]:
        """Hand a batch to librdkafka, in order, after every message enqueued before; the
        future resolves as :meth:`send_many` returns (reports, or its errors). Waits only
        while librdkafka's local queue is full."""
        batch_messages = list(messages)
        if not batch_messages:
            done: asyncio.Future[list[DeliveryReport]] = asyncio.get_running_loop().create_future()
            done.set_result([])
            return done
        batch = _Batch(asyncio.get_running_loop(), len(batch_messages), self._note_error)
        self._ensure_poller()
        for index, message in enumerate(batch_messages):
            callback = batch.callback(index)
            try:
                try:  # the usual case, without a coroutine per message
                    self._produce_now(message, callback)
                except BufferError:
                    await self._enqueue_async(message, callback)
            except RedeemflowError as exc:
                batch.enqueued(len(batch_messages) - index, exc)
                break
        else:
            batch.enqueued()
        return batch.future

    async def partition_count(self, topic: str) -> int | None:
        """How many partitions ``topic`` has, asked again after ``PARTITION_COUNT_TTL``
        seconds (partitions can be added); None when the broker does not know it, so the
        caller falls back to partitioning by key."""
        known = self._partitions.get(topic)
        if known is None or time.monotonic() - known[1] > PARTITION_COUNT_TTL:
            count = await asyncio.to_thread(self._read_partition_count, topic)
            if not count:
                return None
            known = (count, time.monotonic())
            self._partitions[topic] = known
        return known[0]

    def _read_partition_count(self, topic: str) -> int:
        try:
            metadata = self._producer.list_topics(topic, timeout=5.0)
        except KafkaException:
            return 0
        described = metadata.topics.get(topic)
        if described is None or described.error is not None:
            return 0
        return len(described.partitions)

    async def aclose(self, timeout: float = 30.0) -> None:
        """:meth:`close` without blocking the event loop."""
        await asyncio.to_thread(self.close, timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- internals -------------------------------------------------------------------

    def _enqueue(self, message: ProducedMessage, callback: Any, wait: float = 5.0) -> None:
        """Hand a message to librdkafka, serving reports while the local queue is full."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self._produce_now(message, callback)
                return
            except BufferError as exc:
                if time.monotonic() > deadline:
                    raise BrokerUnavailable("producer queue full: broker not keeping up") from exc
                self._producer.poll(0.05)

    async def _enqueue_async(self, message: ProducedMessage, callback: Any) -> None:
        """Like :meth:`_enqueue`, but waits for queue space by sleeping, not by blocking."""
        for _ in range(200):
            try:
                self._produce_now(message, callback)
                return
            except BufferError:
                await asyncio.sleep(0.025)
        raise BrokerUnavailable("producer queue full: broker not keeping up")

    def _produce_now(self, message: ProducedMessage, callback: Any) -> None:
        """One ``Producer.produce`` call; a synchronous refusal becomes our error."""
        if self._closed:
            raise DeliveryFailed("producer is closed")
        if self._renewal_due.is_set():
            self._renew()
        headers = _headers(message.headers)
        try:
            self._producer.produce(
                message.topic,
                message.value,
                message.key,
                _BY_KEY if message.partition is None else message.partition,
                headers=headers,
                on_delivery=callback,
            )
        except KafkaException as exc:
            error = exc.args[0]
            self._note_error(error)  # when fenced, the batch's retry goes to a new producer
            raise translate_kafka_error(error, f"produce to {message.topic}") from exc

    def _on_client_error(self, error: KafkaError) -> None:
        """librdkafka's error callback: log; after a fatal error, replace the producer."""
        _on_client_error(error)
        self._note_error(error)

    def _note_error(self, error: KafkaError) -> None:
        """Any error of this producer (delivery or client): a fenced or fatally failed
        producer is replaced before its next message."""
        if error.fatal() or error.code() in _FENCING_CODES:
            self._renewal_due.set()

    def _renew(self) -> None:
        """Replace a fenced or fatally failed librdkafka producer with a new one (a new
        producer id). What the old one still holds is purged: those deliveries fail with a
        transient error, so their batches are retried on the new producer."""
        with self._lock:
            if not self._renewal_due.is_set():
                return
            old, self._producer = self._producer, Producer(self._config)
            self._renewal_due.clear()
        _LOG.warning("kafka producer fenced or failed: replaced by a new one")
        threading.Thread(target=_retire, args=(old,), name="redeemflow-producer-retire").start()

    def _record_failure(self, error: KafkaError | None, message: Message) -> None:
        """Delivery callback of :meth:`produce`: remember failures for the next flush."""
        if error is not None:
            _LOG.debug("delivery to %s failed: %s", message.topic(), error.str())
            self._note_error(error)
            with self._lock:
                self._failures.append(error)

    def _raise_failures(self) -> None:
        """Raise (and forget) the failures collected since the previous flush."""
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            raise _batch_error(failures, "flush")

    def _ensure_poller(self) -> None:
        """Start the background thread that serves delivery callbacks (once)."""
        with self._lock:
            if self._poller is None:
                self._poller = threading.Thread(
                    target=self._poll_forever, name="redeemflow-producer-poll", daemon=True
                )
                self._poller.start()

    def _poll_forever(self) -> None:
        """Background thread body: serve callbacks until :meth:`close`."""
        while not self._stop_polling.is_set():
            self._producer.poll(0.05)


def _retire(producer: Producer) -> None:
    """Purge a replaced producer and serve the purged messages' delivery reports (their
    batches fail transiently), off the caller's thread."""
    producer.purge()
    producer.flush(5.0)


def _batch_error(errors: list[KafkaError], context: str) -> RedeemflowError:
    """One exception for several failed deliveries: permanent wins over transient."""
    translated = [translate_kafka_error(e, f"{context}: delivery failed") for e in errors]
    chosen = next((e for e in translated if isinstance(e, DeliveryFailed)), translated[0])
    summary = f"{len(errors)} message(s) not delivered; first: {chosen}"
    return type(chosen)(summary)


def _headers(headers: Headers | None) -> list[tuple[str, str | bytes | None]] | None:
    """Headers as the list of pairs librdkafka takes (order and duplicates preserved)."""
    if headers is None:
        return None
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def _on_client_error(error: KafkaError) -> None:
    """librdkafka's global error callback: log (message-level errors surface elsewhere)."""
    level = logging.ERROR if error.fatal() else logging.WARNING
    if error.code() == KafkaError._TRANSPORT:
        level = logging.DEBUG  # one per reconnect attempt; _ALL_BROKERS_DOWN says it once
    _LOG.log(level, "kafka client error: %s", error.str())
