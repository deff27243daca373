"""Redemption throughput and latency through real worker processes.

Measures, on its own embedded broker, database and Redis prefix:

1. sustained: N requests for N fresh single-use codes published as fast as possible to one
   worker (batched path); time from the first publish to the last result;
2. latency: requests offered at a fixed rate (default 500/s), p50/p99 from publish to result;
3. naive: the same workload as 1 through the same worker run with batches of one request
   (one Lua call, its own MySQL transaction, an awaited produce per request).

Each phase starts once InnoDB has flushed what the previous one left dirty. Every phase
also reports the CPU time it cost each process (worker, MariaDB, Redis, this run's broker,
this benchmark's own load and reader), per request, and the cores they kept busy: the
sustained figure is bound by the two cores these share. The result reader's fetches wait
5 ms on an empty partition in the latency phase and 100 ms in the throughput phases (see
``THROUGHPUT_FETCH_WAIT_MS``: on the embedded broker an idle reader is not free).

    python bench/redeem.py [--requests 20000] [--rate 500] [--seconds 10] [--partitions 8]
                           [--redis-cluster] [--json]

``--redis-cluster`` runs the same phases against a local Redis Cluster (3 masters with a
replica each, started for the run and killed after) instead of the single Redis; the
"redis" CPU is then the six cluster nodes' (replication included).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import orjson
from confluent_kafka import Consumer, TopicPartition
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._cpu import CpuMeter, pids_running
from bench._crypto import crypto_costs
from bench._innodb import lock_counters, settle
from bench._machine import cpu_probe_ms
from bench._stack import throwaway_stack
from bench.seed import seed_codes
from core.adapters.kafka.producer import EventProducer
from core.adapters.mysql.engine import database_url
from core.adapters.redis.local_cluster import LocalRedisCluster
from core.bootstrap import bootstrap
from core.settings import Settings
from core.topics import Topic
from schemas.events import RedeemRequested
from tests.e2e.harness import WorkerProcess

console = Console(stderr=True)


#: How long the result reader's fetches wait on an empty partition. Tansu holds an empty
#: fetch for the whole wait (even when records arrive meanwhile) and spends CPU on it: one
#: idle reader of the 8 result partitions cost the broker 166 ms of CPU per second at 5 ms
#: and 30 ms/s at 100 ms, on the two cores the system measured runs on (Kafka parks a
#: fetch for free). The latency phase needs every result's arrival time, so it reads with
#: 5 ms; the throughput phases only need the last one, which 100 ms may show up to 100 ms
#: late (counted against them).
LATENCY_FETCH_WAIT_MS = 5
THROUGHPUT_FETCH_WAIT_MS = 100


class ResultWatcher:
    """Reads redeem.results in a thread and stamps the arrival time of each request_id."""

    def __init__(self, settings: Settings, fetch_wait_ms: int = LATENCY_FETCH_WAIT_MS) -> None:
        self.arrived: dict[str, float] = {}
        self.arrived_wall: dict[str, float] = {}
        self.processed_at: dict[str, str] = {}  # the result's own stamp, parsed when needed
        self.outcomes: dict[str, str] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._wanted: set[str] = set()
        self._all_arrived = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap_servers,
                "group.id": f"bench-{uuid.uuid4().hex[:6]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": fetch_wait_ms,
            }
        )
        topic = settings.topic(Topic.REDEEM_RESULTS)
        parts = self._consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self._consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            # poll() returns with the first message; consume(n, t) would hold it until n
            # messages or t seconds (up to 50 ms more on every measured latency)
            first = self._consumer.poll(0.1)
            if first is None:
                continue
            for message in [first, *self._consumer.consume(2000, 0)]:
                if message.error():
                    continue
                now, wall = time.perf_counter(), time.time()
                rid = (message.key() or b"").decode()
                if rid in self.arrived:
                    continue
                result = orjson.loads(message.value())
                self.outcomes[rid] = result["outcome"]
                self.processed_at[rid] = result["processed_at"]
                self.arrived_wall[rid] = wall
                with self._lock:
                    self.arrived[rid] = now
                    self._wanted.discard(rid)
                    if not self._wanted:
                        self._all_arrived.set()

    def started_wall(self, rid: str) -> float:
        """When the worker started the batch of ``rid`` (seconds since the epoch)."""
        return _epoch(self.processed_at[rid])

    def wait_for(self, ids: list[str], timeout: float) -> bool:
        """Block until every id has a result (the reader thread says so: no polling loop
        here, which at 20,000 ids took a tenth of a core from the system measured)."""
        with self._lock:
            self._wanted = {i for i in ids if i not in self.arrived}
            if self._wanted:
                self._all_arrived.clear()
            else:
                self._all_arrived.set()
        return self._all_arrived.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


def _epoch(iso: str) -> float:
    """An ISO-8601 timestamp of a result -> seconds since the epoch."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * fraction) - 1)]


def make_requests(tenant: str, campaign_codes: list[str]) -> list[RedeemRequested]:
    return [
        RedeemRequested(
            request_id=f"b{uuid.uuid4().hex}",
            tenant_id=tenant,
            product_code="APP_A",
            code=code,
            user_id=f"u{i}",
            channel="app",
        )
        for i, code in enumerate(campaign_codes)
    ]


def warm_up(
    settings: Settings, producer: EventProducer, watcher: ResultWatcher, tenant: str, code: str
) -> None:
    """Publish one request and wait for its result: the worker has joined and is warm."""
    [req] = make_requests(tenant, [code])
    producer.produce(settings.topic(Topic.REDEEM_REQUESTS), req.kafka_key(), req.to_bytes())
    producer.flush(30)
    if not watcher.wait_for([req.request_id], 90):
        raise SystemExit("worker did not answer the warm-up request")


def sustained(
    settings: Settings,
    producer: EventProducer,
    watcher: ResultWatcher,
    requests: list[RedeemRequested],
) -> dict[str, float]:
    topic = settings.topic(Topic.REDEEM_REQUESTS)
    # serialised beforehand: the upstream services' work is not the system measured
    records = [(req.kafka_key(), req.to_bytes()) for req in requests]
    start = time.perf_counter()
    for key, value in records:
        producer.produce(topic, key, value)
    producer.flush(60)
    published = time.perf_counter()
    ids = [r.request_id for r in requests]
    if not watcher.wait_for(ids, 600):
        missing = sum(1 for i in ids if i not in watcher.arrived)
        raise SystemExit(f"{missing} results missing")
    end = max(watcher.arrived[i] for i in ids)
    redeemed = sum(1 for i in ids if watcher.outcomes[i] == "REDEEMED")
    return {
        "requests": len(ids),
        "redeemed": redeemed,
        "seconds": end - start,
        "per_second": len(ids) / (end - start),
        "publish_seconds": published - start,
    }


def offered(
    settings: Settings,
    producer: EventProducer,
    watcher: ResultWatcher,
    requests: list[RedeemRequested],
    rate: float,
) -> dict[str, float]:
    topic = settings.topic(Topic.REDEEM_REQUESTS)
    sent: dict[str, float] = {}
    sent_wall: dict[str, float] = {}
    start = time.perf_counter()
    for index, req in enumerate(requests):
        due = start + index / rate
        while (now := time.perf_counter()) < due:
            time.sleep(min(due - now, 0.002))
        sent[req.request_id], sent_wall[req.request_id] = time.perf_counter(), time.time()
        producer.produce(topic, req.kafka_key(), req.to_bytes())
        producer.poll(0)
    producer.flush(60)
    ids = list(sent)
    if not watcher.wait_for(ids, 120):
        raise SystemExit("latency run: results missing")
    latencies = sorted((watcher.arrived[i] - sent[i]) * 1000 for i in ids)
    # where the time goes: publish -> the worker starts the request's batch -> result read
    started = {i: watcher.started_wall(i) for i in ids}
    to_start = [(started[i] - sent_wall[i]) * 1000 for i in ids]
    from_start = [(watcher.arrived_wall[i] - started[i]) * 1000 for i in ids]
    return {
        "requests": len(ids),
        "rate": rate,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": latencies[-1],
        "to_batch_start_p50_ms": statistics.median(to_start),
        "to_batch_start_p99_ms": _percentile(to_start, 0.99),
        "batch_start_to_result_p50_ms": statistics.median(from_start),
        "batch_start_to_result_p99_ms": _percentile(from_start, 0.99),
    }


def run_worker_phase(
    settings: Settings,
    tenant: str,
    codes: list[str],
    log_dir: Path,
    batch: int,
    phase,
    fetch_wait_ms: int = THROUGHPUT_FETCH_WAIT_MS,
) -> dict[str, float]:
    _settle(settings)
    # the naive path is one request at a time: batches of one, none overlapping
    update: dict[str, object] = {"redeem_batch_size": batch}
    if batch == 1:
        update["redeem_batches_in_flight"] = 1
    worker_settings = settings.model_copy(update=update)
    worker = WorkerProcess(worker_settings, log_dir, f"worker-b{batch}").start()
    watcher = ResultWatcher(settings, fetch_wait_ms)
    engine = create_engine(database_url(settings))
    try:
        with EventProducer(settings, linger_ms=2) as producer:
            warm_up(settings, producer, watcher, tenant, codes[0])
            assert worker.process is not None
            meter = CpuMeter(_processes(settings, worker.process.pid))
            before = lock_counters(engine)
            meter.start()
            started = time.perf_counter()
            figures = phase(producer, watcher, codes[1:])
            cpu, wall = meter.stop(), time.perf_counter() - started
            after = lock_counters(engine)
            figures["cpu_us_per_request"] = {
                name: seconds / figures["requests"] * 1e6 for name, seconds in cpu.items()
            }
            figures["cores_busy"] = sum(cpu.values()) / wall
            for key, counter in (
                ("row_lock_waits", "Innodb_row_lock_waits"),
                ("row_lock_wait_ms", "Innodb_row_lock_time"),
                ("deadlocks", "Innodb_deadlocks"),
            ):
                figures[key] = after[counter] - before[counter]
            return figures
    finally:
        engine.dispose()
        watcher.close()
        worker.stop()


def _processes(settings: Settings, worker_pid: int) -> dict[str, list[int]]:
    """The processes whose CPU a phase is split into (this one runs the load and the
    reader); the broker is the one listening on this run's address."""
    listener = f"tcp://{settings.kafka_bootstrap_servers} "
    return {
        "worker": [worker_pid],
        "mysql": pids_running("mariadbd"),
        "redis": [
            pid
            for host, port in settings.redis_cluster_nodes
            for pid in pids_running("redis-server", f"{host}:{port} ")
        ],
        "broker": pids_running("tansu", listener),
        "bench": [os.getpid()],
    }


def _settle(settings: Settings) -> None:
    """Start each phase once InnoDB has flushed what the one before left dirty (seeding, or
    20,000 redemptions), so a phase does not pay for its predecessor's writes."""
    engine = create_engine(database_url(settings))
    try:
        settle(engine)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--naive-requests", type=int, default=3_000)
    parser.add_argument(
        "--partitions", type=int, default=8, help="partitions per topic (the deployment default)"
    )
    parser.add_argument(
        "--redis-cluster", action="store_true", help="use a local 3-master Redis Cluster"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        redis_url = None
        if args.redis_cluster:
            console.print("starting a local Redis Cluster (3 masters, 3 replicas) ...")
            redis_url = stack.enter_context(LocalRedisCluster(masters=3, replicas=1)).url
        run(args, redis_url)


def run(args: argparse.Namespace, redis_url: str | None) -> None:
    """Seed, run the three phases, print the table (or JSON)."""
    latency_n = int(args.rate * args.seconds)
    total = args.requests + latency_n + args.naive_requests + 3
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"redeemflow-bench-{uuid.uuid4().hex[:6]}"
    log_dir.mkdir(parents=True)
    probe_before = cpu_probe_ms()
    overrides: dict[str, object] = {"user_failed_attempts_per_hour": 10**9}
    if redis_url:
        overrides["redis_url"] = redis_url
    with throwaway_stack(partitions=args.partitions, **overrides) as settings:
        with bootstrap(settings) as container:
            console.print(f"seeding {total:,} codes ...")
            tenant, codes = seed_codes(container, total)
        fast_codes = codes[: args.requests + 1]
        lat_codes = codes[args.requests + 1 : args.requests + 2 + latency_n]
        naive_codes = codes[args.requests + 2 + latency_n :]
        console.print("batched worker: sustained run ...")
        fast = run_worker_phase(
            settings,
            tenant,
            fast_codes,
            log_dir,
            1000,
            lambda p, w, c: sustained(settings, p, w, make_requests(tenant, c)),
        )
        console.print(f"batched worker: latency at {args.rate:.0f}/s offered ...")
        lat = run_worker_phase(
            settings,
            tenant,
            lat_codes,
            log_dir,
            1000,
            lambda p, w, c: offered(settings, p, w, make_requests(tenant, c), args.rate),
            fetch_wait_ms=LATENCY_FETCH_WAIT_MS,
        )
        console.print("naive worker (batch of 1) ...")
        naive = run_worker_phase(
            settings,
            tenant,
            naive_codes,
            log_dir,
            1,
            lambda p, w, c: sustained(settings, p, w, make_requests(tenant, c)),
        )
    report = {
        "redis": "cluster (3 masters + 3 replicas)" if redis_url else "single",
        "cpu_probe_ms": {"before": probe_before, "after": cpu_probe_ms()},
        "sustained": fast,
        "latency": lat,
        "naive": naive,
        "speedup_vs_naive": fast["per_second"] / naive["per_second"],
        # per request, in the worker: one lookup HMAC and one keyed fingerprint HMAC
        "crypto_per_request_us": 2 * crypto_costs(settings.code_protector, tenant,
                                                  20_000)["lookup_us"],
    }
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table(
        title=f"redeemflow redemption benchmark (1 worker, 2 cores, Redis {report['redis']})"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("goal", justify="right")
    table.add_row("sustained redemptions/s", f"{fast['per_second']:,.0f}", ">= 3,000")
    table.add_row("  lookup + fingerprint HMACs per request (µs)",
                  f"{report['crypto_per_request_us']:.2f}", "")
    table.add_row("  requests / redeemed", f"{fast['requests']:,} / {fast['redeemed']:,}", "")
    table.add_row(f"p50 latency at {args.rate:.0f}/s (ms)", f"{lat['p50_ms']:.1f}", "")
    table.add_row(f"p99 latency at {args.rate:.0f}/s (ms)", f"{lat['p99_ms']:.1f}", "<= 100")
    table.add_row(
        "  publish -> batch start p50/p99",
        f"{lat['to_batch_start_p50_ms']:.0f} / {lat['to_batch_start_p99_ms']:.0f}",
        "",
    )
    table.add_row(
        "  batch start -> result read p50/p99",
        f"{lat['batch_start_to_result_p50_ms']:.0f} / {lat['batch_start_to_result_p99_ms']:.0f}",
        "",
    )
    for name, figures in (("sustained", fast), ("latency", lat)):
        table.add_row(
            f"  {name}: row lock waits / ms / deadlocks",
            f"{figures['row_lock_waits']:,} / {figures['row_lock_wait_ms']:,} / "
            f"{figures['deadlocks']}",
            "",
        )
    split = fast["cpu_us_per_request"]
    table.add_row(
        "  sustained CPU µs/req: " + "/".join(split),
        " / ".join(f"{v:.0f}" for v in split.values()),
        "",
    )
    table.add_row("  sustained: cores busy", f"{fast['cores_busy']:.2f} of 2", "")
    table.add_row("naive path redemptions/s", f"{naive['per_second']:,.0f}", "")
    table.add_row("batched / naive", f"{report['speedup_vs_naive']:.1f}x", ">= 3x")
    probe = report["cpu_probe_ms"]
    table.add_row(
        "machine: CPU probe before / after (ms)",
        f"{probe['before']:.0f} / {probe['after']:.0f}",
        "",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
