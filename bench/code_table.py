"""Benchmark: LOAD DATA of N code rows into variants of the ``redeem_codes`` table.

What each index and the key layout cost a bulk load (the figures behind migration 8). Every
variant has all of ``redeem_codes``' columns and its ``PARTITION BY KEY(tenant_id)``; rows
go in as generation writes them (chunks of ``--chunk-size``, codes sorted in a chunk,
ascending ids, one LOAD DATA and commit per chunk, one connection) into a throwaway
database, each variant after InnoDB has flushed what the one before left dirty.

    python bench/code_table.py --count 1000000 [--json]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._cli import load_bench_args, printed_json
from bench._innodb import settle
from core.adapters.mysql.ddl import CODE_PARTITIONS
from core.adapters.mysql.engine import database_url
from core.codes import CodeCodec, iter_unique_batches
from core.settings import load_settings
from schemas.code_rule import CodeGenerateRule

_COLUMNS = """
    id BIGINT UNSIGNED NOT NULL {auto}, tenant_id VARCHAR(24) NOT NULL,
    code VARCHAR(32) NOT NULL, product_code VARCHAR(16) NOT NULL,
    campaign_id VARCHAR(32) NOT NULL, gen_batch_id VARCHAR(40) NOT NULL,
    status TINYINT NOT NULL DEFAULT 0, use_limit INT NOT NULL DEFAULT 1,
    used_count INT NOT NULL DEFAULT 0, user_id VARCHAR(64) NULL,
    export_status TINYINT NOT NULL DEFAULT 0, gen_account_id VARCHAR(64) NULL,
    gen_time DATETIME(6) NOT NULL, export_account_id VARCHAR(64) NULL,
    export_time DATETIME(6) NULL, export_batch_id VARCHAR(40) NULL,
    act_user_id VARCHAR(64) NULL, act_time DATETIME(6) NULL, claimed_at DATETIME(6) NULL,
    valid_from DATETIME(6) NULL, expired_at DATETIME(6) NULL, extra_data JSON NULL,
    remark TEXT CHARACTER SET utf8mb4 NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
        ON UPDATE CURRENT_TIMESTAMP(6),
"""
_OLD_KEYS = ("PRIMARY KEY (tenant_id, id), UNIQUE KEY uk (tenant_id, code), KEY i (id),"
             " KEY cs (tenant_id, campaign_id, status), KEY tp (tenant_id, product_code),"
             " KEY sc (status, claimed_at)")
_NEW_PK = "PRIMARY KEY (tenant_id, campaign_id, id)"
#: name -> (AUTO_INCREMENT id?, keys)
VARIANTS = {
    "migration 7 (all keys)": (True, _OLD_KEYS),
    "migration 8 + (status, claimed_at)": (False, _NEW_PK + ", UNIQUE KEY uk (tenant_id, code),"
                                          " KEY sc (status, claimed_at)"),
    "migration 8 + AUTO_INCREMENT, KEY(id)": (True, _NEW_PK + ", UNIQUE KEY uk (tenant_id, code),"
                                             " KEY i (id)"),
    "migration 8": (False, _NEW_PK + ", UNIQUE KEY uk (tenant_id, code)"),
    "migration 8 without the unique key": (False, _NEW_PK),
}


def _files(count: int, chunk_size: int, directory: str) -> list[str]:
    rule = CodeGenerateRule.model_validate({"codeType": "RANDOM_ALPHANUM", "length": 12})
    codec = CodeCodec(rule, b"bench", "tenant")
    paths, next_id = [], 1
    for n, chunk in enumerate(iter_unique_batches(codec, count, chunk_size)):
        path = os.path.join(directory, f"chunk-{n}.txt")
        with open(path, "w", encoding="ascii") as handle:
            handle.write("".join(f"{next_id + i}\t{c}\n" for i, c in enumerate(sorted(chunk))))
        paths.append(path)
        next_id += len(chunk)
    return paths


def _load(engine: Engine, auto: bool, keys: str, paths: list[str]) -> float:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS codes"))
        conn.execute(text(
            "CREATE TABLE codes (" + _COLUMNS.format(auto="AUTO_INCREMENT" if auto else "")
            + keys + ") ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin"
            f" PARTITION BY KEY(tenant_id) PARTITIONS {CODE_PARTITIONS}"))
    settle(engine)
    started = time.perf_counter()
    for path in paths:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "LOAD DATA LOCAL INFILE %s IGNORE INTO TABLE codes CHARACTER SET ascii"
                f" ({'@ignored' if auto else 'id'}, code) SET tenant_id = 'bt0123456789',"
                " product_code = 'APP_A', campaign_id = 'bc0123456789', use_limit = 1,"
                " gen_batch_id = 'b0123456789abcdef0123456789abcdef', gen_time = NOW(6),"
                " valid_from = NOW(6), expired_at = NOW(6) + INTERVAL 30 DAY", (path,))
    return time.perf_counter() - started


def run(count: int, chunk_size: int) -> dict[str, float]:
    """Seconds per variant."""
    url = database_url(load_settings())
    name = f"rf_bench_table_{uuid.uuid4().hex[:8]}"
    server = create_engine(url._replace(database=None))
    with server.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}`"))
    engine = create_engine(url._replace(database=name), connect_args={"local_infile": True})
    try:
        with tempfile.TemporaryDirectory(dir="/dev/shm") as directory:
            paths = _files(count, chunk_size, directory)
            return {label: round(_load(engine, auto, keys, paths), 2)
                    for label, (auto, keys) in VARIANTS.items()}
    finally:
        engine.dispose()
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


def main() -> None:
    """Parse arguments, run, print seconds and rows/s per variant (or JSON)."""
    args = load_bench_args(__doc__ or "")
    figures = run(args.count, args.chunk_size)
    if printed_json(args, figures):
        return
    for label, seconds in figures.items():
        print(f"{label:40} {seconds:7.2f} s {args.count / seconds:10,.0f} rows/s")


if __name__ == "__main__":
    main()
