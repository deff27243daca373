"""HTTP load shapes for ``bench/gateway.py``: closed loop (N clients back to back) and open
loop (a fixed request rate, latency measured from each request's scheduled start, so a slow
answer is not hidden by the client waiting for it: no coordinated omission)."""

from __future__ import annotations

import asyncio
import collections
import statistics
import time
import uuid
from collections.abc import Callable

import orjson

from bench._http import HttpError, KeepAliveClient


class Tally:
    """Latencies, statuses and outcomes of one load run."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: collections.Counter[int | str] = collections.Counter()
        self.outcomes: collections.Counter[str] = collections.Counter()

    async def send(self, client: KeepAliveClient, code: str, started: float) -> None:
        """POST one redemption of ``code`` (a distinct Idempotency-Key each) and count it."""
        body = orjson.dumps({"code": code, "userId": f"u{uuid.uuid4().hex[:12]}"})
        try:
            status, answer = await client.post_json(
                "/api/redeem", body, {"Idempotency-Key": uuid.uuid4().hex}
            )
        except HttpError as exc:
            self.statuses[str(exc).split(":")[0]] += 1
            return
        self.latencies.append(time.perf_counter() - started)
        self.statuses[status] += 1
        self.outcomes[orjson.loads(answer).get("outcome", "?")] += 1

    def report(self, elapsed: float, **extra: object) -> dict[str, object]:
        """Throughput, percentiles (ms) and counts."""
        lat = sorted(self.latencies) or [0.0]
        pct: Callable[[float], float] = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
        return {
            "requests": len(self.latencies),
            **extra,
            "seconds": round(elapsed, 3),
            "requests_per_second": round(len(self.latencies) / elapsed, 1),
            "p50_ms": round(pct(0.50) * 1000, 1),
            "p90_ms": round(pct(0.90) * 1000, 1),
            "p99_ms": round(pct(0.99) * 1000, 1),
            "max_ms": round(lat[-1] * 1000, 1),
            "mean_ms": round(statistics.fmean(lat) * 1000, 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=str)},
            "outcomes": dict(sorted(self.outcomes.items())),
        }


async def closed_loop(
    url: str, headers: dict[str, str], codes: list[str], concurrency: int
) -> dict[str, object]:
    """``concurrency`` clients, each sending its next request as soon as it has an answer."""
    queue, tally = collections.deque(codes), Tally()

    async def one_client() -> None:
        client = KeepAliveClient(url, headers)
        try:
            while queue:
                await tally.send(client, queue.popleft(), time.perf_counter())
        finally:
            await client.close()

    began = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return tally.report(time.perf_counter() - began, concurrency=concurrency)


async def open_loop(
    url: str, headers: dict[str, str], codes: list[str], rate: float, connections: int
) -> dict[str, object]:
    """One request every ``1/rate`` s over up to ``connections`` keep-alive connections;
    a request waiting for a free connection counts that wait in its latency."""
    pool: asyncio.Queue[KeepAliveClient] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(KeepAliveClient(url, headers))
    tally, tasks = Tally(), []

    async def one(code: str, scheduled: float) -> None:
        client = await pool.get()
        try:
            await tally.send(client, code, scheduled)
        finally:
            pool.put_nowait(client)

    began = time.perf_counter()
    for index, code in enumerate(codes):
        scheduled = began + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(code, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    while not pool.empty():
        await pool.get_nowait().close()
    return tally.report(elapsed, offered_per_second=rate, connections=connections)
