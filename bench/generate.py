"""Benchmark: persist N generated codes into MySQL and Redis, against a plain bulk load.

Uses its own throwaway database (created, migrated, dropped) and Redis key prefix (keys
deleted afterwards). Measures, in one run, each after InnoDB has flushed what was dirty:

* ``generate``: ``core.generation.generate_codes`` for N codes of the seed's rule
  (generation + uniqueness + MySQL LOAD DATA chunks + Redis MSET/SADD + accounting);
* ``floor``: N codes of the same rule, pre-generated and protected (lookup, seal, mask:
  the rows generation stores, core/codes/protection.py) and written to files before the
  clock starts, in the rows and order generation writes (chunks of ``--chunk-size``, sorted
  by lookup, ascending ids), loaded with one plain ``LOAD DATA LOCAL INFILE`` and commit per
  chunk, as many chunks at once as generation loads, into an empty ``CREATE TABLE ... LIKE
  redeem_codes`` (no generation, no hashing or encryption, no Redis, no accounting);
* the cost per code of hashing (lookup HMAC), of encryption (AES-GCM seal) and of the whole
  protection as generation does it (HMAC + AES-GCM + mask + encoding), on one core.

Beside wall time each phase reports CPU seconds, which other work on a shared machine barely
moves: the benchmark's own processes (``process_cpu_s``, generation's helper processes
included), MariaDB's threads serving the phase's connections (``server_cpu_s``,
``bench/_server_cpu.py``) and the whole ``mariadbd`` (``mariadbd_cpu_s``: InnoDB's
background threads too, and anyone else's queries).

    python bench/generate.py --count 1000000 [--json]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._cli import load_bench_args, printed_json
from bench._cpu import CpuMeter, own_cpu_seconds, pids_running
from bench._crypto import crypto_costs
from bench._innodb import settle
from bench._server_cpu import ServerCpu
from bench._stack import drop_own, own_settings
from core.adapters.mysql.code_store import load_file
from core.adapters.mysql.migrate import upgrade
from core.bootstrap import bootstrap
from core.codes import CodeCodec, iter_unique_batches
from core.codes.protection import ProtectedRows
from core.generation.writer import MYSQL_WRITERS
from schemas.campaign import CampaignRule, CreateCampaignRequest
from schemas.events import TenantStatus, TenantType, TenantUpdated

RULE = {"ruleId": "bench", "codeType": "RANDOM_ALPHANUM", "length": 12, "validDays": 30,
        "useLimit": 1, "applicableProducts": ["APP_A"],
        "rewardRules": [{"type": "COUPON", "id": "BENCH"}]}


def _setup(container: object, tenant: str, campaign: str) -> None:
    from core.bootstrap import Container

    assert isinstance(container, Container)
    upgrade(container.engine)
    container.tenants.apply_update(TenantUpdated(
        tenant_id=tenant, name="bench", type=TenantType.PLATFORM, status=TenantStatus.ACTIVE,
        code_quota=10**11, version=1))
    result = container.campaigns.create(CreateCampaignRequest(
        campaign_id=campaign, tenant_id=tenant, product_code="APP_A",
        rule=CampaignRule.model_validate(RULE), code_count=0))
    assert result.outcome == "CREATED", result


class _PhaseCpu:
    """CPU seconds of one phase: this process tree, the phase's server threads, the whole
    ``mariadbd`` and ``redis-server``."""

    def __init__(self, server: ServerCpu) -> None:
        self._server = server
        self._meter = CpuMeter({})
        self._own = self._threads = 0.0

    def start(self) -> None:
        """Take the starting readings (of the servers running now)."""
        self._meter = CpuMeter({"mariadbd": pids_running("mariadbd"),
                                "redis": pids_running("redis-server")})
        self._meter.start()
        self._own, self._threads = own_cpu_seconds(), self._server.seconds() or 0.0

    def stop(self, phase: str) -> dict[str, float | None]:
        """The phase's figures, keyed ``{phase}_process_cpu_s`` and so on."""
        whole = self._meter.stop()
        threads = self._server.seconds()
        return {f"{phase}_process_cpu_s": round(own_cpu_seconds() - self._own, 2),
                f"{phase}_server_cpu_s": None if threads is None
                else round(threads - self._threads, 2),
                f"{phase}_mariadbd_cpu_s": round(whole["mariadbd"], 2),
                f"{phase}_redis_cpu_s": round(whole["redis"], 2)}


def _floor_files(chunks: list[ProtectedRows], directory: str) -> list[str]:
    """One LOAD DATA file per chunk: ascending ids, codes sorted by lookup, in generation's
    file format (``code_store.load_file``)."""
    paths, next_id = [], 1
    for n, chunk in enumerate(chunks):
        path = os.path.join(directory, f"floor-{n}.txt")
        with open(path, "wb") as handle:
            handle.write(load_file(range(next_id, next_id + len(chunk)), chunk))
        paths.append(path)
        next_id += len(chunk)
    return paths


def _floor(container: object, chunks: list[ProtectedRows], tenant: str,
           cpu: _PhaseCpu) -> tuple[float, dict[str, float | None]]:
    """Seconds to LOAD DATA the same rows, chunk by chunk (one statement and commit each,
    ``MYSQL_WRITERS`` connections at once, as generation loads), into an empty copy of
    redeem_codes: no generation, no Redis, no accounting."""
    from core.bootstrap import Container

    assert isinstance(container, Container)
    engine = container.bulk_engine  # the engine (driver) generation loads with
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE redeem_codes_floor LIKE redeem_codes"))

    def load(path: str) -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "LOAD DATA LOCAL INFILE %s INTO TABLE redeem_codes_floor CHARACTER SET ascii"
                " (id, code, code_sealed, code_mask) SET tenant_id = %s, product_code = 'APP_A',"
                " campaign_id = 'floor', gen_batch_id = %s, use_limit = 1,"
                " gen_account_id = NULL, gen_time = %s, valid_from = %s, expired_at = %s,"
                " code_key_id = %s",
                (path, tenant, f"b{uuid.uuid4().hex}", now, now, now + timedelta(days=30),
                 container.settings.code_protector.active_id),
            )

    with tempfile.TemporaryDirectory(dir="/dev/shm") as directory:
        paths = _floor_files(chunks, directory)
        settle(engine)
        cpu.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(MYSQL_WRITERS) as pool:
            list(pool.map(load, paths))
        return time.perf_counter() - started, cpu.stop("floor")


def run(count: int, chunk_size: int, quiet: bool) -> dict[str, float | None]:
    """Run both measurements and return the figures."""
    run_id = uuid.uuid4().hex[:8]
    settings = own_settings(f"rf_bench_{run_id}", f"rfbench{run_id}")
    tenant, campaign = f"bt{run_id}", f"bc{run_id}"
    err = Console(stderr=True, quiet=quiet)
    try:
        with bootstrap(settings) as container:
            cpu = _PhaseCpu(ServerCpu(container.engine, container.bulk_engine))
            _setup(container, tenant, campaign)
            settle(container.engine)
            err.print(f"generating {count:,} codes into MySQL and Redis ...")
            cpu.start()
            result = container.generation.generate_codes(tenant, campaign, count,
                                                         chunk_size=chunk_size)
            generate_cpu = cpu.stop("generate")
            err.print("pre-generating the floor's codes (not timed) ...")
            codec = CodeCodec(CampaignRule.model_validate(RULE).code, b"floor", tenant)
            protector = container.settings.code_protector
            chunks = [protector.protect_rows(tenant, chunk).sorted_by_lookup()
                      for chunk in iter_unique_batches(codec, count, chunk_size)]
            costs = crypto_costs(protector, tenant)
            err.print("plain LOAD DATA of the same number of rows ...")
            floor_s, floor_cpu = _floor(container, chunks, tenant, cpu)
    finally:
        drop_own(settings)
    gen_rate = result.written_now / result.seconds
    floor_rate = count / floor_s
    return {"count": count, "generate_seconds": round(result.seconds, 3),
            "generate_codes_per_s": round(gen_rate), "floor_seconds": round(floor_s, 3),
            "floor_rows_per_s": round(floor_rate), "ratio": round(result.seconds / floor_s, 2),
            "collisions": result.collisions, **generate_cpu, **floor_cpu, **costs}


def main() -> None:
    """Parse arguments, run, print a table or JSON."""
    args = load_bench_args(__doc__ or "")
    figures = run(args.count, args.chunk_size, args.json)
    if printed_json(args, figures):
        return
    table = Table(title=f"persist {args.count:,} codes (MySQL + Redis); CPU in seconds")
    for column in ("phase", "wall s", "rows/s", "process", "server threads", "mariadbd",
                   "redis"):
        table.add_column(column, justify="right")
    for phase, rate in (("generate", "generate_codes_per_s"), ("floor", "floor_rows_per_s")):
        table.add_row(phase, f"{figures[f'{phase}_seconds']:.2f}", f"{figures[rate]:,}",
                      *(str(figures[f"{phase}_{what}_cpu_s"])
                        for what in ("process", "server", "mariadbd", "redis")))
    console = Console()
    console.print(table)
    console.print(f"ratio generate/floor (plain LOAD DATA of the same rows):"
                  f" {figures['ratio']:.2f}x")
    console.print(f"per code, CPU µs: lookup HMAC {figures['lookup_us']:.2f}, one AES-GCM seal"
                  f" {figures['seal_us']:.2f}, protection as generation does it (HMAC +"
                  f" AES-GCM + mask, sorted) {figures['protect_us']:.2f}")


if __name__ == "__main__":
    main()
