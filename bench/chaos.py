"""Chaos bench: N requests over 2 worker processes, SIGKILLs, a Redis loss, compensation.

While requests are published at a steady pace, a random worker is SIGKILLed and replaced
``--kills`` times at random moments, and this run's Redis keys are deleted once. When every
request has a result, one compensation job runs through the workers' agent. Redis is then
compared with MySQL (figure ``mismatches_after_loss_before_rebuild``), rebuilt from MySQL as
the operator guide says to after a Redis loss, and the invariants I1-I7 are checked from the
topics, the database and Redis. Exit status 1 on FAIL.

    python bench/chaos.py [--requests 20000] [--kills 5] [--seed S] [--redis-cluster] [--json]

Own embedded broker, database and Redis prefix (all removed at the end). With
``--redis-cluster`` Redis is a local cluster (3 masters with a replica each, started for the
run): in addition, the master serving the busiest tenant is SIGKILLed mid-run (its replica is
promoted; the killed node is restarted 5 s later and rejoins as a replica).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._harness import (
    TopicReader,
    Workload,
    build_workload,
    check_invariants,
    flush_prefix,
    mismatch_kinds,
    redis_mismatches,
    throwaway_stack,
)
from core.adapters.kafka.producer import EventProducer
from core.adapters.redis.local_cluster import LocalRedisCluster
from core.bootstrap import bootstrap
from core.cache_rebuild import rebuild_cache
from core.compensation import new_job
from core.compensation.reports import ReportWatcher, publish_job
from core.settings import Settings
from core.topics import Topic
from schemas.events import RedeemResult
from tests.e2e.harness import WorkerProcess

err = Console(stderr=True)


def publish_paced(
    settings: Settings, work: Workload, seconds: float, done: threading.Event
) -> None:
    """Publish the requests in chunks spread over ``seconds`` (so the chaos hits mid-stream)."""
    chunks = max(int(seconds / 0.25), 1)
    size = -(-len(work.requests) // chunks)
    with EventProducer(settings) as producer:
        for start in range(0, len(work.requests), size):
            for r in work.requests[start:start + size]:
                producer.produce(settings.topic(Topic.REDEEM_REQUESTS), r.kafka_key(), r.to_bytes())
            producer.flush(60)
            time.sleep(0.25)
    done.set()


MASTER_DOWN_SECONDS = 5.0


def chaos(settings: Settings, workers: list[WorkerProcess], kills: int, window: float,
          rng: random.Random, log_dir: Path, events: list[str],
          master: tuple[LocalRedisCluster, str] | None = None) -> None:
    """Kill and replace a random worker ``kills`` times and flush Redis once, at random; with
    ``master`` (a cluster and a key), SIGKILL the master serving the key once and restart it
    ``MASTER_DOWN_SECONDS`` later. Runs on the calling thread: nodes die with the thread
    that started them."""
    actions: list[tuple[float, str]] = [(rng.uniform(2.0, window), "kill") for _ in range(kills)]
    actions.append((rng.uniform(2.0, window), "flush"))
    if master is not None:
        at = rng.uniform(2.0, window)
        actions += [(at, "kill master"), (at + MASTER_DOWN_SECONDS, "restart master")]
    started = time.monotonic()
    victim = None
    for i, (moment, action) in enumerate(sorted(actions)):
        time.sleep(max(0.0, moment - (time.monotonic() - started)))
        stamp = f"{time.monotonic() - started:5.1f}s"
        if action == "flush":
            events.append(f"{stamp} redis flush: {flush_prefix(settings)} keys")
        elif action == "kill":
            index = rng.randrange(len(workers))
            workers[index].kill()
            workers[index] = WorkerProcess(settings, log_dir, f"w{index}-{i + 1}").start()
            events.append(f"{stamp} SIGKILL worker {index}, restarted")
        elif action == "kill master" and master is not None:
            victim = master[0].master_of(master[1])
            victim.kill()
            events.append(f"{stamp} SIGKILL redis master {victim.address} (serves {master[1]})")
        elif action == "restart master" and master is not None and victim is not None:
            master[0].restart(victim)
            events.append(f"{stamp} redis node {victim.address} restarted")


def wait_for_results(settings: Settings, work: Workload, timeout: float) -> TopicReader:
    """Read results until every request id has one (progress bar on stderr)."""
    reader = TopicReader(settings, Topic.REDEEM_RESULTS)
    wanted = {r.request_id for r in work.requests}
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as bar:
        task = bar.add_task("results", total=len(wanted))
        while len(seen) < len(wanted) and time.monotonic() < deadline:
            before = len(reader.values)
            reader.poll(0.5)
            seen.update(RedeemResult.from_bytes(v).request_id for v in reader.values[before:])
            bar.update(task, completed=len(seen & wanted))
    return reader


def run(args: argparse.Namespace) -> dict[str, object]:
    with contextlib.ExitStack() as stack:
        cluster = None
        if args.redis_cluster:
            err.print("starting a local Redis Cluster (3 masters, 3 replicas) ...")
            cluster = stack.enter_context(LocalRedisCluster(masters=3, replicas=1))
        return run_on(args, cluster)


def run_on(args: argparse.Namespace, cluster: LocalRedisCluster | None) -> dict[str, object]:
    rng = random.Random(args.seed)
    run_id = uuid.uuid4().hex[:8]
    log_dir = Path(tempfile.mkdtemp(prefix=f"chaos-{run_id}-"))
    redis_url = cluster.url if cluster else None
    with throwaway_stack(run_id, redis_url) as settings, bootstrap(settings) as container:
        err.print(f"[bold]chaos {run_id}[/bold]: seeding {args.requests} requests...")
        work = build_workload(container, args.requests, rng)
        workers = [WorkerProcess(settings, log_dir, f"w{i}").start() for i in range(2)]
        events: list[str] = []
        published = threading.Event()
        window = max(args.requests / 1000.0, 10.0)
        started = time.monotonic()
        publisher = threading.Thread(target=publish_paced, args=(settings, work, window, published))
        publisher.start()
        master = None
        if cluster is not None:
            master = (cluster, container.keys.ready(work.campaigns[0].tenant_id))
        try:
            chaos(settings, workers, args.kills, window, rng, log_dir, events, master)
            publisher.join()
            if cluster is not None:
                cluster.wait_until_ok(60)
            results = wait_for_results(settings, work, timeout=600)
            processing = time.monotonic() - started
            job = new_job(older_than_seconds=0, requested_by="chaos")
            with ReportWatcher(container.topic_reader, settings) as watcher:
                publish_job(container.event_sink, settings, job)
                report = watcher.wait(job.job_id, timeout=300)
        finally:
            codes = [w.stop() for w in workers]
        grants = TopicReader(settings, Topic.REWARD_GRANTS)
        while grants.poll(1.0):
            pass
        before = redis_mismatches(container, work)
        rebuilt = rebuild_cache(container)
        figures = check_invariants(container, work, results.values, grants.values)
        results.close()
        grants.close()
    for event in events:
        err.print(event)
    figures.update({
        "mismatches_after_loss_before_rebuild": f"{len(before)} ({mismatch_kinds(before)})",
        "cache_rebuild": f"{rebuilt.codes} codes, {rebuilt.user_counters} user counters in"
                         f" {rebuilt.duration_seconds:.1f}s",
        "processing_seconds": round(processing, 1), "kills": args.kills, "redis_flushes": 1,
        "redis": "cluster, 1 master killed" if cluster else "single",
        "compensation": report.model_dump(mode="json") if report else None,
        "worker_exit_codes": codes, "worker_logs": str(log_dir),
    })
    verdicts = [figures[k] for k in ("I1", "I2", "I3", "I4", "I5", "I6", "I7")]
    figures["verdict"] = "PASS" if all(verdicts) and report is not None else "FAIL"
    return figures


def print_table(figures: dict[str, object]) -> None:
    table = Table(title="chaos bench")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        if key == "compensation" and isinstance(value, dict):
            value = ", ".join(f"{k} {value[k]}" for k in (
                "examined", "marked_granted", "regranted", "released_in_cache", "failed"))
        if isinstance(value, bool):
            value = "PASS" if value else "FAIL"
        table.add_row(key, str(value))
    Console().print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--redis-cluster", action="store_true",
                        help="Redis is a local cluster, and one master is killed mid-run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args)
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_table(figures)
    return 0 if figures["verdict"] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
