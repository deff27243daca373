"""Prometheus metric objects of redeemflow (seed 000 §七), registered once at import.

Labels are bounded on purpose: a label per campaign (as in the seed's Go sample) would grow
the series count without limit, so codes are counted per code type only.
"""

from __future__ import annotations

from prometheus_client import Counter

CODES_GENERATED = Counter(
    "marketing_codes_generated",
    "Total generated redemption codes, persisted in MySQL and Redis",
    ["code_type"],
)
"""Incremented by the batch writer once per committed chunk (``_total`` is added on export)."""

CAMPAIGNS_CREATED = Counter(
    "marketing_campaign_requests",
    "Campaign creation requests by outcome",
    ["outcome"],
)
"""Incremented once per handled CreateCampaignRequest."""

# -- redemption, worker and gateway metrics (appended; listed in docs/gateway.md) -----------
# Labels stay bounded: outcomes, actions, reasons, contract topic names, route templates and
# HTTP status codes only; never codes, users, tenants or request ids.

import logging  # noqa: E402 - appended section keeps the file above untouched
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter as Counter_  # noqa: E402 - prometheus_client's Counter is taken
from collections.abc import Sequence  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

from prometheus_client import Gauge, Histogram, start_http_server  # noqa: E402

if TYPE_CHECKING:
    from core.settings import Settings
    from schemas.events import RedeemRequested, RedeemResult

_METRICS_LOG = logging.getLogger("redeemflow.metrics")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REDEMPTIONS = Counter(
    "marketing_redemptions", "Redemption requests answered by the worker, by outcome", ["outcome"]
)
REDEMPTION_LATENCY = Histogram(
    "marketing_redemption_latency_seconds",
    "End to end: request requested_at -> its result published by the worker",
    buckets=_LATENCY_BUCKETS,
)
REDEEM_BATCH_SIZE = Histogram(
    "marketing_redeem_batch_size",
    "Requests per redemption batch",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
REDEEM_STAGE_SECONDS = Histogram(
    "marketing_redeem_stage_seconds",
    "Time one redemption batch spent in a pipeline stage"
    " (claim, lock, commit, grants, acks, record)",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
RATE_LIMIT_HITS = Counter(
    "marketing_rate_limit_hits", "Redemption requests refused by a rate limit or throttle"
)
DLQ_MESSAGES = Counter(
    "marketing_dlq_messages",
    "Messages sent to a dead-letter topic, by reason",
    ["reason"],
)
COMPENSATION_ACTIONS = Counter(
    "marketing_compensation_actions",
    "Compensation actions taken (marked_granted, regranted, released_in_cache, failed)",
    ["action"],
)
CONSUMER_LAG = Gauge(
    "marketing_consumer_lag",
    "Messages on a consumed topic not yet committed by the worker group",
    ["topic"],
)
GATEWAY_REQUESTS = Counter(
    "marketing_gateway_requests", "HTTP requests answered by the gateway", ["route", "status"]
)
GATEWAY_LATENCY = Histogram(
    "marketing_gateway_request_seconds",
    "HTTP request duration in the gateway",
    ["route"],
    buckets=_LATENCY_BUCKETS,
)
GATEWAY_PENDING = Gauge(
    "marketing_gateway_pending_results", "Gateway requests waiting for their redeem result"
)


def observe_batch(requests: Sequence[RedeemRequested], results: Sequence[RedeemResult]) -> None:
    """Count one processed batch: its size, outcomes, rate-limit hits, end-to-end latency.

    Called by the redemption service once the batch's results are published.
    """
    REDEEM_BATCH_SIZE.observe(len(requests))
    now = time.time()
    outcomes = Counter_(result.outcome.value for result in results)
    for outcome, count in outcomes.items():  # one labelled increment per outcome, not per result
        REDEMPTIONS.labels(outcome=outcome).inc(count)
    if outcomes["RATE_LIMITED"]:
        RATE_LIMIT_HITS.inc(outcomes["RATE_LIMITED"])
    observe = REDEMPTION_LATENCY.observe
    for request in requests[: len(results)]:
        observe(max(0.0, now - request.requested_at.timestamp()))


def observe_stage(stage: str, seconds: float) -> None:
    """Record the time a redemption batch spent in one pipeline ``stage``."""
    REDEEM_STAGE_SECONDS.labels(stage=stage).observe(seconds)


def observe_dead_letters(count: int, reason: str = "invalid_message") -> None:
    """Count messages dead-lettered (reason: ``invalid_message`` or ``processing_error``)."""
    if count:
        DLQ_MESSAGES.labels(reason=reason).inc(count)


def observe_compensation(action: str, count: int = 1) -> None:
    """Count compensation actions (``marked_granted``, ``regranted``, ...)."""
    if count:
        COMPENSATION_ACTIONS.labels(action=action).inc(count)


def start_metrics_server(settings: Settings) -> bool:
    """Serve ``/metrics`` on ``metrics_host:metrics_port`` (0 disables); False if not started.

    A port already taken (two workers on one host) is logged, not fatal: the worker's job is
    redemption, metrics are best effort.
    """
    if settings.metrics_port == 0:
        return False
    try:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    except OSError as exc:
        _METRICS_LOG.error("metrics server not started on port %d: %s", settings.metrics_port, exc)
        return False
    _METRICS_LOG.info("metrics on http://%s:%d/metrics", settings.metrics_host,
                      settings.metrics_port)
    return True


def start_lag_sampler(settings: Settings, group: str) -> threading.Thread:
    """A daemon thread setting ``marketing_consumer_lag`` every ``consumer_lag_interval``."""
    from core.health import consumer_lag
    from core.topics import CONSUMED_TOPICS

    names = {settings.topic(t): t.value for t in CONSUMED_TOPICS}

    def sample_forever() -> None:
        while True:
            try:
                lags = consumer_lag(settings.kafka_bootstrap_servers, group, names)
                for full, lag in lags.items():
                    CONSUMER_LAG.labels(topic=names[full]).set(lag)
            except Exception as exc:  # noqa: BLE001 - sampling must never kill the worker
                _METRICS_LOG.warning("consumer lag not sampled: %s", exc)
            time.sleep(settings.consumer_lag_interval_seconds)

    thread = threading.Thread(target=sample_forever, name="redeemflow-lag", daemon=True)
    thread.start()
    return thread


def start_worker_metrics(settings: Settings, group: str) -> None:
    """The worker's hook: ``/metrics`` server plus the consumer-lag sampler."""
    if start_metrics_server(settings):
        start_lag_sampler(settings, group)
