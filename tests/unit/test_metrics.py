"""A processed batch is counted by outcome, once per result, with one latency per request."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from core.metrics import observe_batch
from schemas.base import utc_now
from schemas.events import RedeemOutcome, RedeemRequested, RedeemResult


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels or None) or 0.0


def test_a_batch_is_counted_by_outcome_with_one_latency_per_request() -> None:
    outcomes = [RedeemOutcome.REDEEMED] * 3 + [RedeemOutcome.RATE_LIMITED] * 2
    sent = utc_now() - timedelta(seconds=2)
    requests = [
        RedeemRequested(request_id=f"m{i}", tenant_id="T_m", product_code="APP_A", code="X",
                        user_id="u", channel="app", requested_at=sent)
        for i in range(len(outcomes))
    ]
    results = [
        RedeemResult(request_id=r.request_id, tenant_id="T_m", user_id="u", outcome=o)
        for r, o in zip(requests, outcomes, strict=True)
    ]
    before = {
        "redeemed": _sample("marketing_redemptions_total", outcome="REDEEMED"),
        "limited": _sample("marketing_redemptions_total", outcome="RATE_LIMITED"),
        "hits": _sample("marketing_rate_limit_hits_total"),
        "latencies": _sample("marketing_redemption_latency_seconds_count"),
        "slow": _sample("marketing_redemption_latency_seconds_bucket", le="1.0"),
    }
    observe_batch(requests, results)
    assert _sample("marketing_redemptions_total", outcome="REDEEMED") - before["redeemed"] == 3
    assert _sample("marketing_redemptions_total", outcome="RATE_LIMITED") - before["limited"] == 2
    assert _sample("marketing_rate_limit_hits_total") - before["hits"] == 2
    assert _sample("marketing_redemption_latency_seconds_count") - before["latencies"] == 5
    assert _sample("marketing_redemption_latency_seconds_bucket", le="1.0") == before["slow"]


def test_generated_codes_are_read_at_scrape_time_cached_and_kept_when_mysql_fails() -> None:
    from prometheus_client import CollectorRegistry

    from core.errors import StorageUnavailable
    from core.metrics import GeneratedCodes

    stored = {"RANDOM_NUM": 5}
    reads: list[int] = []
    now = [100.0]

    def read() -> dict[str, int]:
        reads.append(1)
        if stored.get("fail"):
            raise StorageUnavailable("MySQL down")
        return dict(stored)

    registry = CollectorRegistry()
    registry.register(GeneratedCodes(read, max_age=5.0, clock=lambda: now[0]))
    assert reads == [], "registering must not read MySQL"

    def value() -> float | None:
        return registry.get_sample_value("marketing_codes_generated_total",
                                         {"code_type": "RANDOM_NUM"})

    assert value() == 5
    stored["RANDOM_NUM"] = 9
    assert value() == 5 and len(reads) == 1, "cached for max_age"
    now[0] += 5
    assert value() == 9
    stored["fail"] = 1
    now[0] += 5
    assert value() == 9 and len(reads) == 3, "a failed read keeps the last value"
