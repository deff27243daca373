"""Benchmark: export N codes to .xlsx and to .csv; wall, CPU, rows/s and peak RSS of each.

Creates its own throwaway database (created + migrated, dropped at the end) and Redis key
prefix, bulk-loads N codes per export into its own campaign with LOAD DATA LOCAL INFILE,
then runs ``core.export.export_codes`` (the path of the CLI and the back office) once per
format and variant, each in a fresh process, so ``ru_maxrss`` is that export's own peak
(the process baseline after imports is printed beside it).

Besides wall time it prints the CPU seconds of the exporting process and of MariaDB's
threads serving its connections (``bench/_server_cpu.py``): on a shared machine wall time
is inflated by everyone else, CPU seconds much less. The CPU probe (ms of a fixed Python
loop, ``bench/_machine.py``) says how fast the machine was during the run. Per export it
then prints the phases (``ExportResult.phases``: preflight, lock, handoff, reveal, write,
mark, pool, drain, fsync+hash, audit, transaction) in wall and thread-CPU seconds and µs
per code, and at the end the cost per code of the lookup HMAC, the AES-GCM seal and open
(issue 20).

    python bench/export.py --count 1000000 [--formats xlsx,csv] [--drivers auto,pymysql]
        [--writer-thread off,on] [--chunk-size 5000] [--json]

Each variant (driver x writer thread x format) gets its own campaign of N codes, loaded
before the first export, so variants compare in one run on the same machine state.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._crypto import crypto_costs
from bench._machine import cpu_probe_ms
from bench._server_cpu import ServerCpu
from bench._stack import drop_own, own_settings
from core.adapters.mysql.code_store import reserve_code_ids
from core.adapters.mysql.migrate import upgrade
from core.bootstrap import bootstrap
from core.export import DEFAULT_CHUNK
from core.settings import Settings

RULE = {"codeType": "RANDOM_ALPHANUM", "length": 12, "validDays": 30,
        "rewardRules": [{"type": "COUPON", "id": "BENCH"}]}
ACCOUNT = "bench-admin"


def _variant(settings: Settings, driver: str, thread: str) -> Settings:
    return settings.model_copy(update={"export_mysql_driver": driver,
                                       "export_writer_thread": thread == "on"})


def _rss_mb() -> float:
    """This process image's peak RSS (``VmHWM``). Not ``ru_maxrss``: Linux carries that
    across ``execve``, so a spawned child starts with the peak of the process that forked
    it (here the loader, ~150 MB after protecting a million codes), which hid the export's
    own peak below it (the "baseline 70 -> 146 MB" of session 10)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _campaign(conn: object, tenant: str, campaign: str, now: datetime) -> None:
    conn.execute(text(  # type: ignore[attr-defined]
        "INSERT INTO campaigns (campaign_id, tenant_id, product_code, name, status, rule_json,"
        " request_hash, valid_from, valid_until, created_by, created_at, updated_at)"
        " VALUES (:c, :t, 'APP_A', 'bench', 'ACTIVE', :r, :h, :now, :end, :a, :now, :now)"),
        {"c": campaign, "t": tenant, "r": orjson.dumps(RULE).decode(), "h": "0" * 64,
         "now": now, "end": now + timedelta(days=30), "a": ACCOUNT})


def _load(settings: Settings, tenant: str, campaigns: list[str], count: int) -> float:
    """Create the campaigns and LOAD DATA ``count`` codes into each; returns seconds."""
    now = datetime.now(UTC).replace(tzinfo=None)
    started = time.perf_counter()
    with bootstrap(settings) as container:
        upgrade(container.engine)
        for n, campaign in enumerate(campaigns):
            with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="ascii") as handle:
                with container.engine.begin() as conn:
                    first_id = reserve_code_ids(conn, count)
                protector = container.settings.code_protector  # rows as generation stores
                for start in range(0, count, 100_000):
                    rows = protector.protect(tenant, [f"BX{n}{i:09d}Q" for i in
                                                      range(start, min(count, start + 100_000))])
                    handle.write("".join(f"{first_id + start + i}\t{p.lookup}\t{p.sealed}"
                                         f"\t{p.mask}\n" for i, p in enumerate(rows)))
                handle.flush()
                with container.engine.begin() as conn:
                    _campaign(conn, tenant, campaign, now)
                    conn.exec_driver_sql(
                        "LOAD DATA LOCAL INFILE %s INTO TABLE redeem_codes CHARACTER SET ascii"
                        " (id, code, code_sealed, code_mask) SET tenant_id = %s,"
                        " product_code = 'APP_A', campaign_id = %s, gen_batch_id = 'bench',"
                        " use_limit = 1, gen_account_id = %s, gen_time = %s, valid_from = %s,"
                        " expired_at = %s, code_key_id = %s",
                        (handle.name, tenant, campaign, ACCOUNT, now, now,
                         now + timedelta(days=30), protector.active_id))
    return time.perf_counter() - started


def _export_child(settings: dict, tenant: str, campaign: str, count: int, fmt: str,
                  output: str, chunk_size: int) -> dict:
    """Runs in a fresh process: one export, its own CPU time and peak RSS."""
    from core.export import export_codes

    baseline = _rss_mb()
    with bootstrap(Settings(**settings)) as container:
        server = ServerCpu(container.engine, container.bulk_engine)
        cpu_before = time.process_time()
        result = export_codes(container.exporter, tenant, campaign, ACCOUNT, count, fmt, output,
                              chunk_size=chunk_size)
        cpu = time.process_time() - cpu_before
        server_cpu = server.seconds()
        driver = container.bulk_engine.dialect.driver
        thread = "on" if container.settings.export_writer_thread else "off"
    return {"format": fmt, "driver": driver, "writer_thread": thread, "rows": result.count,
            "seconds": round(result.seconds, 2), "rows_per_s": round(result.rows_per_second),
            "cpu_seconds": round(cpu, 2),
            "server_cpu_seconds": None if server_cpu is None else round(server_cpu, 2),
            "peak_rss_mb": round(_rss_mb(), 1), "baseline_rss_mb": round(baseline, 1),
            "file_mb": round(Path(output).stat().st_size / 2**20, 1), "phases": result.phases}


def run(count: int, formats: list[str], variants: list[tuple[str, str]], chunk_size: int,
        quiet: bool) -> dict:
    """Load the codes, export them once per format and variant (driver, writer thread),
    clean up; the figures."""
    run_id = uuid.uuid4().hex[:8]
    settings = own_settings(f"rf_bench_export_{run_id}", f"rfbenchx{run_id}")
    tenant = f"bt{run_id}"
    jobs = [(fmt, variant) for variant in variants for fmt in formats]
    campaigns = [f"bc{run_id}{n}" for n in range(len(jobs))]
    err = Console(stderr=True, quiet=quiet)
    figures: dict = {"count": count, "chunk_size": chunk_size,
                     "cpu_probe_ms_before": round(cpu_probe_ms(), 1), "exports": []}
    ctx = multiprocessing.get_context("spawn")
    try:
        with tempfile.TemporaryDirectory(prefix="rf-export-bench-") as folder:
            err.print(f"loading {len(jobs)} x {count:,} codes ...")
            figures["load_seconds"] = round(_load(settings, tenant, campaigns, count), 2)
            for n, ((fmt, (driver, thread)), campaign) in enumerate(
                    zip(jobs, campaigns, strict=True)):
                err.print(f"exporting {count:,} codes to {fmt} (driver {driver}, writer thread"
                          f" {thread}) ...")
                with ctx.Pool(1) as pool:
                    figures["exports"].append(pool.apply(_export_child, (
                        _variant(settings, driver, thread).model_dump(mode="json"), tenant,
                        campaign, count, fmt, str(Path(folder) / f"codes{n}.{fmt}"),
                        chunk_size)))
    finally:
        drop_own(settings)
    figures["cpu_probe_ms_after"] = round(cpu_probe_ms(), 1)
    figures.update(crypto_costs(settings.code_protector, tenant))
    return figures


def _table(figures: dict) -> Table:
    table = Table(title=(
        f"export {figures['count']:,} codes (load took {figures['load_seconds']}s; CPU probe "
        f"{figures['cpu_probe_ms_before']} / {figures['cpu_probe_ms_after']} ms)"))
    for column in ("format", "driver", "writer thread", "rows", "wall s", "rows/s", "CPU s",
                   "server CPU s", "peak RSS MB", "baseline MB", "file MB"):
        table.add_column(column, justify="right")
    for e in figures["exports"]:
        server = "n/a" if e["server_cpu_seconds"] is None else f"{e['server_cpu_seconds']}"
        table.add_row(e["format"], e["driver"], e["writer_thread"], f"{e['rows']:,}",
                      f"{e['seconds']}", f"{e['rows_per_s']:,}", f"{e['cpu_seconds']}", server,
                      f"{e['peak_rss_mb']}", f"{e['baseline_rss_mb']}", f"{e['file_mb']}")
    return table


def _phase_table(export: dict) -> Table:
    """Seconds (wall and the thread's CPU) and µs per code of each phase of one export."""
    table = Table(title=f"{export['format']} (writer thread {export['writer_thread']}):"
                        " phases; lock and mark wall minus CPU = waiting on MariaDB")
    for column in ("phase", "wall s", "CPU s", "wall µs/code", "CPU µs/code"):
        table.add_column(column, justify="right")
    rows = max(export["rows"], 1)
    for name, value in export["phases"].items():
        table.add_row(name, f"{value['wall_s']:.2f}", f"{value['cpu_s']:.2f}",
                      f"{value['wall_s'] * 1e6 / rows:.2f}", f"{value['cpu_s'] * 1e6 / rows:.2f}")
    return table


def main() -> None:
    """Parse arguments, run, print a table or JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--formats", default="xlsx,csv")
    parser.add_argument("--drivers", default="auto",
                        help="export_mysql_driver values to compare, e.g. auto,pymysql")
    parser.add_argument("--writer-thread", default="off,on",
                        help="export_writer_thread values to compare: off (the default "
                             "setting), on, or both (default)")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    variants = [(driver, thread) for driver in args.drivers.split(",")
                for thread in args.writer_thread.split(",")]
    figures = run(args.count, args.formats.split(","), variants, args.chunk_size, args.json)
    if args.json:
        sys.stdout.write(orjson.dumps(figures).decode() + "\n")
        return
    Console(width=160).print(_table(figures))
    for e in figures["exports"]:
        Console(width=160).print(_phase_table(e))
    Console().print(f"per exported code: AES-GCM open {figures['open_us']} µs (lookup HMAC"
                    f" {figures['lookup_us']} µs, protect at generation"
                    f" {figures['protect_us']} µs)")


if __name__ == "__main__":
    main()
