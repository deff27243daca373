"""What the worker's Prometheus histograms say about a load run: mean batch size, the mean
time a batch spent in each pipeline stage, and the mean request -> result-published latency.
Read from its ``/metrics`` before and after the run (the difference is the run's)."""

from __future__ import annotations

import collections

import httpx

_SERIES = ("marketing_redeem_batch_size", "marketing_redeem_stage_seconds",
           "marketing_redemption_latency_seconds")


def scrape(url: str) -> dict[str, float]:
    """``name{labels}`` -> value of the histograms' ``_sum`` and ``_count`` lines."""
    found: dict[str, float] = {}
    for line in httpx.get(url, timeout=10).text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name.removesuffix("_sum").removesuffix("_count") in _SERIES and (
                name.endswith("_sum") or name.endswith("_count")):
            series, _, value = line.rpartition(" ")
            found[series] = float(value)
    return found


def summary(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Mean batch size, mean ms per stage (``stage_<name>_ms``) and mean worker latency."""
    delta = {k: v - before.get(k, 0.0) for k, v in after.items()}
    means: dict[str, float] = {}
    pairs: dict[str, dict[str, float]] = collections.defaultdict(dict)
    for series, value in delta.items():
        kind = "sum" if "_sum" in series else "count"
        pairs[series.replace("_sum", "").replace("_count", "")][kind] = value
    for series, parts in sorted(pairs.items()):
        if not parts.get("count"):
            continue
        mean = parts.get("sum", 0.0) / parts["count"]
        if series.startswith("marketing_redeem_batch_size"):
            means["batches"] = parts["count"]
            means["batch_mean"] = round(mean, 1)
        elif series.startswith("marketing_redeem_stage_seconds"):
            stage = series.split('stage="', 1)[1].split('"', 1)[0]
            means[f"stage_{stage}_ms"] = round(mean * 1000, 1)
        else:
            means["requested_to_published_ms"] = round(mean * 1000, 1)
    return means
