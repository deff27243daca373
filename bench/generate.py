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
* the cost per code of hashing (lookup HMAC) and of protection (HMAC + AES-GCM + mask).

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
from bench._crypto import crypto_costs
from bench._innodb import settle
from bench._stack import drop_own, own_settings
from core.adapters.mysql.migrate import upgrade
from core.bootstrap import bootstrap
from core.codes import CodeCodec, iter_unique_batches
from core.codes.protection import ProtectedCode
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


def _floor_files(chunks: list[list[ProtectedCode]], directory: str) -> list[str]:
    """One LOAD DATA file per chunk: ascending ids, codes sorted (as generation writes them)."""
    paths, next_id = [], 1
    for n, chunk in enumerate(chunks):
        path = os.path.join(directory, f"floor-{n}.txt")
        with open(path, "w", encoding="ascii") as handle:
            handle.write("".join(f"{next_id + i}\t{p.lookup}\t{p.sealed}\t{p.mask}\n"
                                 for i, p in enumerate(chunk)))
        paths.append(path)
        next_id += len(chunk)
    return paths


def _floor(container: object, chunks: list[list[ProtectedCode]], tenant: str) -> float:
    """Seconds to LOAD DATA the same rows, chunk by chunk (one statement and commit each,
    ``MYSQL_WRITERS`` connections at once, as generation loads), into an empty copy of
    redeem_codes: no generation, no Redis, no accounting."""
    from core.bootstrap import Container

    assert isinstance(container, Container)
    engine = container.engine
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
        started = time.perf_counter()
        with ThreadPoolExecutor(MYSQL_WRITERS) as pool:
            list(pool.map(load, paths))
        return time.perf_counter() - started


def run(count: int, chunk_size: int, quiet: bool) -> dict[str, float]:
    """Run both measurements and return the figures."""
    run_id = uuid.uuid4().hex[:8]
    settings = own_settings(f"rf_bench_{run_id}", f"rfbench{run_id}")
    tenant, campaign = f"bt{run_id}", f"bc{run_id}"
    err = Console(stderr=True, quiet=quiet)
    try:
        with bootstrap(settings) as container:
            _setup(container, tenant, campaign)
            settle(container.engine)
            err.print(f"generating {count:,} codes into MySQL and Redis ...")
            result = container.generation.generate_codes(tenant, campaign, count,
                                                         chunk_size=chunk_size)
            err.print("pre-generating the floor's codes (not timed) ...")
            codec = CodeCodec(CampaignRule.model_validate(RULE).code, b"floor", tenant)
            protector = container.settings.code_protector
            chunks = [sorted(protector.protect(tenant, chunk))
                      for chunk in iter_unique_batches(codec, count, chunk_size)]
            costs = crypto_costs(protector, tenant)
            err.print("plain LOAD DATA of the same number of rows ...")
            floor_s = _floor(container, chunks, tenant)
    finally:
        drop_own(settings)
    gen_rate = result.written_now / result.seconds
    floor_rate = count / floor_s
    return {"count": count, "generate_seconds": round(result.seconds, 3),
            "generate_codes_per_s": round(gen_rate), "floor_seconds": round(floor_s, 3),
            "floor_rows_per_s": round(floor_rate), "ratio": round(result.seconds / floor_s, 2),
            "collisions": result.collisions, **costs}


def main() -> None:
    """Parse arguments, run, print a table or JSON."""
    args = load_bench_args(__doc__ or "")
    figures = run(args.count, args.chunk_size, args.json)
    if printed_json(args, figures):
        return
    table = Table(title=f"persist {args.count:,} codes (MySQL + Redis)")
    for column in ("measure", "seconds", "rows/s"):
        table.add_column(column, justify="right")
    table.add_row("generate_codes", f"{figures['generate_seconds']:.2f}",
                  f"{figures['generate_codes_per_s']:,}")
    table.add_row("plain LOAD DATA (floor)", f"{figures['floor_seconds']:.2f}",
                  f"{figures['floor_rows_per_s']:,}")
    table.add_row("ratio generate/floor", f"{figures['ratio']:.2f}x", "")
    table.add_row("lookup HMAC per code (µs)", f"{figures['lookup_us']:.2f}", "")
    table.add_row("HMAC + AES-GCM + mask per code (µs)", f"{figures['protect_us']:.2f}", "")
    Console().print(table)


if __name__ == "__main__":
    main()
