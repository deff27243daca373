"""The gateway's producer side: publish a RedeemRequested, await its RedeemResult.

Request ids are scoped to the tenant: the ``Idempotency-Key`` of a request becomes
``gw-`` + sha256(tenant, key)[:40], so the same key sent twice by one tenant is the same
request (redeemed at most once, same answer), while two tenants using the same key never
share a request id. Without a key the
request id is a fresh uuid.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from concurrent.futures import Executor

from core.adapters.kafka.producer import EventProducer, ProducedMessage
from core.adapters.mysql.apikey_store import OutcomeReader, RecordedOutcome
from core.adapters.redis.pending_marks import PendingMarks
from core.errors import DeliveryFailed, RedeemflowError
from core.logging_setup import mask_code
from core.redemption.model import OUTCOME_MESSAGES
from producers.gateway.models import PENDING_MESSAGE, RedeemAnswer
from producers.gateway.results import ResultListener
from schemas.events import RedeemOutcome, RedeemRequested, RedeemResult

log = logging.getLogger("redeemflow.gateway")

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


def request_id_for(
    tenant_id: str, idempotency_key: str | None, end_user: str | None = None
) -> str:
    """The request id of a call: derived from (tenant, key) when a key is given, and from
    (tenant, end user, key) for a bearer token, so one user's key never names another
    user's request."""
    if idempotency_key is None:
        return f"gw-{uuid.uuid4().hex}"
    scope = tenant_id if end_user is None else f"{tenant_id}\nuser:{end_user}"
    digest = hashlib.sha256(f"{scope}\n{idempotency_key}".encode()).hexdigest()
    return f"gw-{digest[:40]}"


def answer_from_result(result: RedeemResult) -> RedeemAnswer:
    """The HTTP answer of a decided request (NOT_FOUND always has the generic message)."""
    return RedeemAnswer(
        request_id=result.request_id,
        outcome=result.outcome,
        message=OUTCOME_MESSAGES[result.outcome],
        redemption_id=result.redemption_id,
        grant_ids=list(result.grant_ids),
    )


def answer_from_record(record: RecordedOutcome) -> RedeemAnswer:
    """The HTTP answer of an outcome read back from ``request_outcomes``."""
    outcome = RedeemOutcome(record.outcome)
    return RedeemAnswer(
        request_id=record.request_id,
        outcome=outcome,
        message=OUTCOME_MESSAGES[outcome],
        redemption_id=record.redemption_id,
        grant_ids=record.grant_ids,
    )


def pending_answer(request_id: str) -> RedeemAnswer:
    """The 202 answer: the request is on its way, its result is not here yet."""
    return RedeemAnswer(request_id=request_id, outcome="PENDING", message=PENDING_MESSAGE)


class Publisher:
    """Publishes the requests of one event-loop turn as one awaited batch.

    Every request arriving while the loop handles a burst of connections is appended to the
    current batch; the batch is handed to librdkafka once, after the turn, and one delivery
    future completes it (one thread hop instead of one per request). A failed batch fails
    each of its callers (503: they retry with the same Idempotency-Key; the worker decides a
    request id once, so a message of the batch that did arrive is not redeemed twice).
    """

    def __init__(self, producer: EventProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self._batch: list[ProducedMessage] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def publish(self, key: str, value: bytes) -> None:
        """Send one message with the others of this turn; returns once it is durable."""
        loop = asyncio.get_running_loop()
        if not self._batch:
            loop.call_soon(self._flush)
        self._batch.append(ProducedMessage(self._topic, key, value))
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        await waiter

    def _flush(self) -> None:
        batch, waiters = self._batch, self._waiters
        self._batch, self._waiters = [], []
        task = asyncio.get_running_loop().create_task(self._send(batch, waiters))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(
        self, batch: list[ProducedMessage], waiters: list[asyncio.Future[None]]
    ) -> None:
        error: RedeemflowError = DeliveryFailed("publishing the batch failed unexpectedly")
        try:
            await self._producer.send_many(batch)
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        except RedeemflowError as exc:  # each caller answers 503 and may retry
            error = exc
        finally:  # also when send_many failed in an unforeseen way: no caller hangs
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(error)


class Redeemer:
    """Publishes requests (awaiting durable delivery) and waits a bounded time for results."""

    def __init__(
        self,
        producer: EventProducer,
        listener: ResultListener,
        outcomes: OutcomeReader,
        executor: Executor,
        marks: PendingMarks,
        *,
        topic: str,
        timeout: float,
    ) -> None:
        self._publisher = Publisher(producer, topic)
        self._listener = listener
        self._outcomes = outcomes
        self._executor = executor
        self._marks = marks
        self._timeout = timeout

    async def redeem(self, request: RedeemRequested) -> RedeemAnswer:
        """Publish ``request`` and answer its result, or PENDING after the timeout.

        Raises BrokerUnavailable / DeliveryFailed when the request could not be published.
        """
        known = self._listener.recent(request.request_id)
        if known is not None and known.tenant_id == request.tenant_id:
            return answer_from_result(known)  # the request id already says whose it is
        future = self._listener.expect(request.request_id, request.tenant_id)
        try:
            await self._publisher.publish(request.kafka_key(), request.to_bytes())
            if log.isEnabledFor(logging.DEBUG):
                log.debug("published redeem request code=%s", mask_code(request.code))
            result = await asyncio.wait_for(asyncio.shield(future), self._timeout)
        except TimeoutError:
            log.info("no result within %.1fs: answering PENDING", self._timeout)
            await self._marks.mark(request.tenant_id, request.request_id)
            return pending_answer(request.request_id)
        finally:
            self._listener.forget(request.request_id, future)
        return answer_from_result(result)

    async def lookup(
        self, tenant_id: str, request_id: str, end_user: str | None = None
    ) -> RedeemAnswer | None:
        """A request's answer from the LRU, else MySQL; PENDING if published lately.

        With ``end_user`` (a bearer token) only that user's decided requests are shown."""
        known = self._listener.recent(request_id)
        if known is not None:
            mine = known.tenant_id == tenant_id and end_user in (None, known.user_id)
            return answer_from_result(known) if mine else None
        loop = asyncio.get_running_loop()
        record = await loop.run_in_executor(
            self._executor, self._outcomes.find, tenant_id, request_id
        )
        if record is not None:
            return answer_from_record(record) if end_user in (None, record.user_id) else None
        if self._listener.watching(request_id) == tenant_id:
            return pending_answer(request_id)
        if await self._marks.marked(tenant_id, request_id):  # published by another process
            return pending_answer(request_id)
        return None

