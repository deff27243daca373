"""HTTP load on the gateway: many concurrent clients redeeming fresh codes end to end.

Starts, on its own embedded broker, throwaway database and Redis prefix: one worker process
and one gateway process (uvicorn, one event loop); seeds one campaign with ``--requests``
single-use codes; then ``--concurrency`` clients (one keep-alive connection each,
``bench/_http.py``) each POST /api/redeem in a loop until every code was sent. Prints
requests/s and latency percentiles of the whole request-reply (HTTP -> Kafka -> worker ->
Kafka -> HTTP) and the status counts.

    python bench/gateway.py [--requests 5000] [--concurrency 64] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._http import HttpError, KeepAliveClient
from bench._stack import throwaway_stack
from core.adapters.mysql.apikey_store import ApiKeyStore
from core.apikeys import issue_key
from core.bootstrap import bootstrap
from core.settings import Settings
from tests.e2e.gateway_support import GatewayProcess, warm_up
from tests.e2e.harness import WorkerProcess
from tests.integration.redeem_support import seed_campaign


def stack() -> contextlib.AbstractContextManager[Settings]:
    """Broker, database and Redis prefix that exist only inside the block."""
    return throwaway_stack(partitions=8)


async def load(url: str, key: str, codes: list[str], concurrency: int) -> dict[str, object]:
    """Send one request per code from ``concurrency`` clients; latencies and status counts."""
    queue = collections.deque(codes)
    latencies: list[float] = []
    statuses: collections.Counter[int | str] = collections.Counter()
    outcomes: collections.Counter[str] = collections.Counter()
    headers = {"x-api-key": key, "x-product-code": "APP_A"}

    async def one_client() -> None:
        client = KeepAliveClient(url, headers)
        try:
            while queue:
                code = queue.popleft()
                body = orjson.dumps({"code": code, "userId": f"u{uuid.uuid4().hex[:12]}"})
                started = time.perf_counter()
                try:
                    status, answer = await client.post_json("/api/redeem", body)
                except HttpError as exc:
                    statuses[str(exc).split(":")[0]] += 1
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
                outcomes[orjson.loads(answer).get("outcome", "?")] += 1
        finally:
            await client.close()

    began = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    return {
        "requests": len(latencies),
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(pct(0.50) * 1000, 1),
        "p90_ms": round(pct(0.90) * 1000, 1),
        "p99_ms": round(pct(0.99) * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
        "outcomes": dict(sorted(outcomes.items())),
    }


def main() -> None:
    """Parse options, run the stack and the load, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="Print one JSON document.")
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="rf-gwbench-"))
    with stack() as settings:
        with bootstrap(settings) as container:
            rule = {"perUserLimit": 1000, "rewardRules": [{"type": "COUPON", "id": "BENCH"}]}
            seeded = seed_campaign(container, count=args.requests, rule=rule)
            key = issue_key(ApiKeyStore(container.engine), seeded.tenant_id, "bench").secret_key
        worker = WorkerProcess(settings, log_dir, "bench-worker").start()
        gateway = GatewayProcess(settings, log_dir, REDEEMFLOW_LOG_LEVEL="WARNING").start()
        try:
            gateway.wait_up(path="/readyz")
            warm_up(gateway.url, key)
            report = asyncio.run(load(gateway.url, key, seeded.codes, args.concurrency))
        finally:
            gateway.stop()
            worker.stop()
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    print(
        f"gateway: {report['requests']} redemptions over HTTP, {args.concurrency} clients, "
        f"one gateway + one worker process"
    )
    print(f"  {report['requests_per_second']} requests/s  ({report['seconds']} s)")
    print(
        f"  latency p50 {report['p50_ms']} ms  p90 {report['p90_ms']} ms  "
        f"p99 {report['p99_ms']} ms  max {report['max_ms']} ms"
    )
    print(f"  statuses {report['statuses']}  outcomes {report['outcomes']}")


if __name__ == "__main__":
    main()
