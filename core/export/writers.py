"""Streaming writers of export files: CSV (UTF-8, header) and real .xlsx.

Both take rows a chunk at a time and hold nothing but that chunk: the CSV goes through a
buffered text file (``csv.writer.writerows``, in C), the workbook through
:mod:`core.export.xlsx_stream`, which formats the sheet XML itself and deflates it into the
zip as it comes (it replaced xlsxwriter's ``constant_memory`` mode, which cost ~15x the CPU:
docs/performance.md). A worksheet holds at most 1,048,575 data rows, so a larger export
continues on ``codes-2``, ``codes-3``...
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import IO, Protocol

from core.export.xlsx_stream import ROWS_PER_SHEET, StreamedXlsxWriter, excel_serial

HEADER = ("code", "campaign_id", "reward", "valid_from_utc", "expired_at_utc")

#: Data rows per worksheet: Excel's 1,048,576 rows minus the header.
XLSX_ROWS_PER_SHEET = ROWS_PER_SHEET

__all__ = [
    "HEADER",
    "XLSX_ROWS_PER_SHEET",
    "CsvRowWriter",
    "ExportFormat",
    "Row",
    "RowWriter",
    "XlsxRowWriter",
    "excel_serial",
    "open_writer",
]


class ExportFormat(StrEnum):
    """File formats an export can be written in."""

    XLSX = "xlsx"
    CSV = "csv"


#: code, campaign, reward, valid_from, expired_at (times as ``YYYY-MM-DD HH:MM:SS`` UTC text)
Row = tuple[str, str, str, str | None, str | None]


class RowWriter(Protocol):
    """Writes export rows to one file; ``close()`` completes the file (not fsynced)."""

    def write(self, row: Row) -> None:
        """Append one row."""

    def write_rows(self, rows: Sequence[Row]) -> None:
        """Append a chunk of rows."""

    def close(self) -> None:
        """Finish the file."""


class CsvRowWriter:
    """UTF-8 CSV with a header line; times as ``YYYY-MM-DD HH:MM:SS`` UTC."""

    def __init__(self, path: Path) -> None:
        self._handle: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._handle)
        self._csv.writerow(HEADER)

    def write(self, row: Row) -> None:
        """Append one row."""
        self._csv.writerow(row)

    def write_rows(self, rows: Sequence[Row]) -> None:
        """Append a chunk of rows."""
        self._csv.writerows(rows)

    def close(self) -> None:
        """Flush and close the file."""
        self._handle.close()


class XlsxRowWriter(StreamedXlsxWriter):
    """An .xlsx workbook streamed sheet XML by sheet XML; dates are real date cells."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, HEADER)


def open_writer(fmt: ExportFormat, path: Path) -> RowWriter:
    """A streaming writer of ``fmt`` creating ``path``."""
    if fmt is ExportFormat.CSV:
        return CsvRowWriter(path)
    return XlsxRowWriter(path)
