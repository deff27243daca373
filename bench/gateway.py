"""HTTP load on the gateway: fresh codes redeemed end to end (HTTP -> Kafka -> worker ->
Kafka -> HTTP), with the CPU each process spent per request.

Starts, on its own embedded broker, throwaway database and Redis prefix: one worker process
and ``redeemflow gateway --workers N``; seeds one campaign with ``--requests`` single-use
codes; then sends one POST /api/redeem per code (a distinct Idempotency-Key each) in one of
three shapes:

- closed loop (default): ``--concurrency`` clients, one keep-alive connection each
  (``bench/_http.py``), each sending its next request when it has an answer;
- ``--rate R``: open loop at R requests/s over ``--connections`` connections; latency is
  counted from each request's scheduled start;
- ``--wrk SECONDS``: ``wrk`` with ``bench/wrk/redeem.lua`` (``--concurrency`` connections,
  ``--wrk-threads`` threads).

Prints requests/s, latency percentiles, statuses and CPU microseconds per request for the
gateway (all its processes), worker, MariaDB, Redis, broker and the load generator. On a busy
machine wall-clock figures move; CPU per request is the steadier figure.

``--stub-ms D`` runs the same closed or fixed-rate load against a stub that answers every
request after D ms (``bench/_stub.py``), no stack: what a percentile shows beyond D is the
load generator's own share (its event loop, its garbage collector, the machine).

    python bench/gateway.py [--requests 5000] [--concurrency 64] [--rate 1000]
                            [--workers 2] [--wrk 10] [--set NAME=VALUE] [--json]
                            [--stub-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import orjson
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._cpu import CpuMeter, pids_running
from bench._load import closed_loop, open_loop
from bench._stack import throwaway_stack
from bench._stub import stub_server
from bench._worker_metrics import scrape, summary
from core.adapters.kafka.broker import find_free_port
from core.adapters.mysql.apikey_store import ApiKeyStore
from core.apikeys import issue_key
from core.bootstrap import bootstrap
from core.settings import Settings
from tests.e2e.gateway_support import GatewayProcess, warm_up
from tests.e2e.harness import WorkerProcess
from tests.integration.redeem_support import seed_campaign

_WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "redeem.lua"


def stack(**overrides: object) -> contextlib.AbstractContextManager[Settings]:
    """Broker, database and Redis prefix that exist only inside the block (``overrides``:
    settings for every process, e.g. the worker's batch window)."""
    return throwaway_stack(partitions=8, **overrides)


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (a gateway's uvicorn workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(child) for child in task.read_text().split())
    return found


def run_wrk(url: str, key: str, codes: list[str], args: argparse.Namespace) -> dict[str, object]:
    """Run wrk with the redeem script; its JSON summary line, parsed."""
    with tempfile.NamedTemporaryFile("w", suffix=".codes", delete=False) as handle:
        handle.write("\n".join(codes) + "\n")
    env = {**os.environ, "API_KEY": key, "PRODUCT_CODE": "APP_A", "CODES_FILE": handle.name,
           "WRK_THREADS": str(args.wrk_threads)}
    argv = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.concurrency),
            "-d", f"{args.wrk:g}s", "--timeout", "10s", "-s", str(_WRK_SCRIPT), url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False,
                          timeout=args.wrk + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.unlink(handle.name)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    report: dict[str, object] = orjson.loads(line.removeprefix("WRK_JSON "))
    report["requests_per_second"] = round(int(report["requests"]) / float(report["seconds"]), 1)  # type: ignore[call-overload]
    report["concurrency"] = args.concurrency
    report["wrk_cpu_seconds"] = round(after.ru_utime + after.ru_stime
                                      - before.ru_utime - before.ru_stime, 3)
    return report


def quiet_collector() -> None:
    """Keep this process's own garbage collector from stalling the load.

    Everything the load generator built before the run (imports, the container, the seeded
    codes) is collected once and frozen: a full collection during the run then walks only
    what the run allocates. Without this, one full collection (every imported module and
    seeded code, ~100 ms on the shared machine) came during some runs and stopped both the
    sending and the reading of answers: the requests scheduled or answered meanwhile were
    the run's slowest, a tail of the load generator, not of the gateway."""
    gc.collect()
    gc.freeze()


def run_load(load: Coroutine[Any, Any, dict[str, object]]) -> dict[str, object]:
    """Run a load shape on uvloop, as the gateway does: the load generator shares the two
    cores with what it measures, and on asyncio's own loop it spent 1.2-1.6x the CPU per
    request (140-199 against 112-121 us at 1,000 requests/s against a stub server). What
    is measured is unchanged: latency still counts from each request's scheduled start."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(load)


def measure(gateway: GatewayProcess, worker: WorkerProcess, settings: Settings, key: str,
            codes: list[str], args: argparse.Namespace, metrics_url: str) -> dict[str, object]:
    """One load run with the CPU meter (and the worker's metrics) around it."""
    assert gateway.process is not None and worker.process is not None
    groups = {
        "gateway": descendants(gateway.process.pid),
        "worker": [worker.process.pid],
        "mysql": pids_running("mariadbd"),
        "redis": pids_running("redis-server"),
        "broker": pids_running("tansu", f"tcp://{settings.kafka_bootstrap_servers} "),
        "bench": [os.getpid()],
    }
    meter = CpuMeter(groups)
    headers = {"x-api-key": key, "x-product-code": "APP_A"}
    worker_before = scrape(metrics_url)
    quiet_collector()
    meter.start()
    started = time.perf_counter()
    if args.wrk:
        report = run_wrk(gateway.url, key, codes, args)
    elif args.rate:
        report = run_load(open_loop(gateway.url, headers, codes, args.rate, args.connections))
    else:
        report = run_load(closed_loop(gateway.url, headers, codes, args.concurrency))
    cpu, wall = meter.stop(), time.perf_counter() - started
    report["worker"] = summary(worker_before, scrape(metrics_url))
    requests = max(1, int(report["requests"]))  # type: ignore[call-overload]
    if "wrk_cpu_seconds" in report:  # the load generator, a child of this process
        cpu["bench"] += float(report.pop("wrk_cpu_seconds"))  # type: ignore[arg-type]
    report["cpu_us_per_request"] = {k: round(v / requests * 1e6) for k, v in cpu.items()}
    report["cores_busy"] = {k: round(v / wall, 2) for k, v in cpu.items()}
    report["gateway_workers"] = args.workers
    return report


def measure_stack(args: argparse.Namespace) -> dict[str, object]:
    """Seed, start the worker and the gateway, and measure one load run against them."""
    log_dir = Path(tempfile.mkdtemp(prefix="rf-gwbench-"))
    overrides = dict(item.split("=", 1) for item in args.set)
    with stack(**overrides) as settings:
        with bootstrap(settings) as container:
            rule = {"perUserLimit": 1000, "rewardRules": [{"type": "COUPON", "id": "BENCH"}]}
            seeded = seed_campaign(container, count=args.requests, rule=rule)
            key = issue_key(ApiKeyStore(container.engine), seeded.tenant_id, "bench").secret_key
        metrics_port = find_free_port()
        worker = WorkerProcess(settings, log_dir, "bench-worker",
                               metrics_port=metrics_port).start()
        linger = {} if args.linger_ms is None else {
            "REDEEMFLOW_GATEWAY_PRODUCER_LINGER_MS": str(args.linger_ms)}
        gateway = GatewayProcess(settings, log_dir, workers=args.workers,
                                 REDEEMFLOW_LOG_LEVEL="WARNING", **linger).start()
        try:
            gateway.wait_up(path="/readyz")
            warm_up(gateway.url, key)
            return measure(gateway, worker, settings, key, seeded.codes, args,
                           f"http://127.0.0.1:{metrics_port}/metrics")
        finally:
            gateway.stop()
            worker.stop()


def measure_stub(args: argparse.Namespace) -> dict[str, object]:
    """The same load shape against a stub answering after ``--stub-ms`` (bench/_stub.py):
    latency beyond that delay is the load generator's own share."""
    codes = [f"STUB{index:08d}" for index in range(args.requests)]
    headers = {"x-api-key": "stub", "x-product-code": "APP_A"}
    with stub_server(args.stub_ms / 1000) as (url, pid):
        meter = CpuMeter({"stub": [pid], "bench": [os.getpid()]})
        quiet_collector()
        meter.start()
        started = time.perf_counter()
        if args.rate:
            report = run_load(open_loop(url, headers, codes, args.rate, args.connections))
        else:
            report = run_load(closed_loop(url, headers, codes, args.concurrency))
        cpu, wall = meter.stop(), time.perf_counter() - started
    requests = max(1, int(report["requests"]))  # type: ignore[call-overload]
    report["cpu_us_per_request"] = {k: round(v / requests * 1e6) for k, v in cpu.items()}
    report["cores_busy"] = {k: round(v / wall, 2) for k, v in cpu.items()}
    report["stub_ms"] = args.stub_ms
    return report


def main() -> None:
    """Parse options, run the stack and the load, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="Codes seeded and sent.")
    parser.add_argument("--concurrency", type=int, default=64, help="Closed-loop clients.")
    parser.add_argument("--rate", type=float, default=0.0, help="Open loop: requests/s.")
    parser.add_argument("--connections", type=int, default=256, help="Open-loop connections.")
    parser.add_argument("--workers", type=int, default=1, help="Gateway processes.")
    parser.add_argument("--wrk", type=float, default=0.0, help="Run wrk for this many s.")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--linger-ms", type=int, default=None,
                        help="REDEEMFLOW_GATEWAY_PRODUCER_LINGER_MS of the gateway.")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="A setting of every process (e.g. redeem_batch_window_seconds=0.02).")
    parser.add_argument("--json", action="store_true", help="Print one JSON document.")
    parser.add_argument("--stub-ms", type=float, default=None,
                        help="Load a stub answering after this many ms instead of the stack: "
                             "what the load generator itself adds.")
    args = parser.parse_args()
    report = measure_stub(args) if args.stub_ms is not None else measure_stack(args)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    _print(report, args)


def _print(report: dict[str, object], args: argparse.Namespace) -> None:
    shape = (f"wrk {args.wrk:g} s, {args.concurrency} connections" if args.wrk
             else f"{args.rate:g} requests/s offered" if args.rate
             else f"{args.concurrency} clients")
    target = (f"a stub answering after {args.stub_ms:g} ms" if args.stub_ms is not None
              else f"{args.workers} gateway process(es) + one worker")
    print(f"gateway: {report['requests']} redemptions over HTTP ({shape}), {target}")
    print(f"  {report['requests_per_second']} requests/s  ({report['seconds']} s)")
    print(f"  latency p50 {report['p50_ms']} ms  p90 {report['p90_ms']} ms  "
          f"p99 {report['p99_ms']} ms  max {report['max_ms']} ms")
    print(f"  statuses {report['statuses']}  outcomes {report.get('outcomes', '-')}")
    print(f"  CPU us/request {report['cpu_us_per_request']}")
    print(f"  cores busy {report['cores_busy']}")
    if "worker" in report:
        print(f"  worker {report['worker']}")


if __name__ == "__main__":
    main()
