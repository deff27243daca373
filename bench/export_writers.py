"""Benchmark: the export file writers alone (no database): CPU seconds and size per writer.

Formats N synthetic export rows (a 12-character code, campaign, reward, two times), in
chunks of 5,000 as the export service hands them, with each writer in the same run:
the streamed xlsx (deflate level 1, as shipped, and 6), the CSV writer, and for comparison
xlsxwriter ``constant_memory`` (what exports used before) and rustpy-xlsxwriter (a Rust
writer fed a generator of dicts), each only when installed.

    python bench/export_writers.py --count 1000000 [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core.export import xlsx_stream
from core.export.writers import HEADER, CsvRowWriter, Row, XlsxRowWriter

CHUNK = 5_000
Writer = Callable[[Path, list[Row]], None]


def _chunks(rows: list[Row]) -> list[list[Row]]:
    return [rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK)]


def _streamed(level: int) -> Writer:
    def write(path: Path, rows: list[Row]) -> None:
        previous, xlsx_stream.COMPRESS_LEVEL = xlsx_stream.COMPRESS_LEVEL, level
        try:
            writer = XlsxRowWriter(path)
            for chunk in _chunks(rows):
                writer.write_rows(chunk)
            writer.close()
        finally:
            xlsx_stream.COMPRESS_LEVEL = previous
    return write


def _csv(path: Path, rows: list[Row]) -> None:
    writer = CsvRowWriter(path)
    for chunk in _chunks(rows):
        writer.write_rows(chunk)
    writer.close()


def _xlsxwriter(path: Path, rows: list[Row]) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    date = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet = book.add_worksheet("codes")
    sheet.write_row(0, 0, HEADER)
    for line, (code, campaign, reward, valid_from, expired_at) in enumerate(rows, 1):
        sheet.write_string(line, 0, code)
        sheet.write_string(line, 1, campaign)
        sheet.write_string(line, 2, reward)
        for col, moment in ((3, valid_from), (4, expired_at)):
            if moment is not None:
                sheet.write_number(line, col, float(xlsx_stream.excel_serial(moment)), date)
    book.close()


def _rustpy(path: Path, rows: list[Row]) -> None:
    import rustpy_xlsxwriter

    def records():  # type: ignore[no-untyped-def]
        for code, campaign, reward, valid_from, expired_at in rows:
            yield {"code": code, "campaign_id": campaign, "reward": reward,
                   "valid_from_utc": datetime.fromisoformat(valid_from or ""),
                   "expired_at_utc": datetime.fromisoformat(expired_at or "")}

    (rustpy_xlsxwriter.FastExcel(str(path)).format(datetime_format="yyyy-mm-dd hh:mm:ss")
     .sheet("codes", records()).save())


def writers() -> dict[str, tuple[str, Writer]]:
    """Name -> (file suffix, writer) for every writer that can run here."""
    found: dict[str, tuple[str, Writer]] = {
        "xlsx streamed (level 1, shipped)": ("xlsx", _streamed(1)),
        "xlsx streamed (level 6)": ("xlsx", _streamed(6)),
        "csv": ("csv", _csv),
    }
    if importlib.util.find_spec("xlsxwriter"):
        found["xlsxwriter constant_memory (before)"] = ("xlsx", _xlsxwriter)
    if importlib.util.find_spec("rustpy_xlsxwriter"):
        found["rustpy-xlsxwriter"] = ("xlsx", _rustpy)
    return found


def run(count: int) -> list[dict]:
    """CPU seconds and file size of each writer for ``count`` rows."""
    rows: list[Row] = [(f"Q{i:011d}", "bench-campaign-01", "COUPON:BENCH",
                        "2026-12-03 13:00:00", "2027-01-02 13:00:00") for i in range(count)]
    figures = []
    with tempfile.TemporaryDirectory(prefix="rf-writer-bench-") as folder:
        for n, (name, (suffix, write)) in enumerate(writers().items()):
            path = Path(folder) / f"w{n}.{suffix}"
            started = time.process_time()
            write(path, rows)
            cpu = time.process_time() - started
            figures.append({"writer": name, "cpu_seconds": round(cpu, 2),
                            "rows_per_cpu_s": round(count / cpu) if cpu else None,
                            "file_mb": round(path.stat().st_size / 2**20, 1)})
    return figures


def main() -> None:
    """Parse arguments, run, print a table or JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    figures = run(args.count)
    if args.json:
        sys.stdout.write(orjson.dumps({"count": args.count, "writers": figures}).decode() + "\n")
        return
    table = Table(title=f"export writers, {args.count:,} rows (CPU seconds of this process)")
    for column in ("writer", "CPU s", "rows per CPU s", "file MB"):
        table.add_column(column, justify="right")
    for f in figures:
        table.add_row(f["writer"], f"{f['cpu_seconds']}", f"{f['rows_per_cpu_s']:,}",
                      f"{f['file_mb']}")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
