"""Streaming writers of export files: CSV (UTF-8, header) and real .xlsx.

Both write row by row and hold nothing but the current row: the CSV goes through a
buffered text file, the workbook through xlsxwriter's ``constant_memory`` mode (each row
is flushed to a temporary XML part as soon as the next one starts). A worksheet holds at
most 1,048,576 rows, so a larger export continues on ``codes-2``, ``codes-3``...
"""

from __future__ import annotations

import csv
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Protocol

import xlsxwriter

HEADER = ("code", "campaign_id", "reward", "valid_from_utc", "expired_at_utc")

#: Data rows per worksheet: Excel's 1,048,576 rows minus the header.
XLSX_ROWS_PER_SHEET = 1_048_575


class ExportFormat(StrEnum):
    """File formats an export can be written in."""

    XLSX = "xlsx"
    CSV = "csv"


#: code, campaign, reward, valid_from, expired_at (times as ``YYYY-MM-DD HH:MM:SS`` UTC text)
Row = tuple[str, str, str, str | None, str | None]
_EXCEL_EPOCH = datetime(1899, 12, 30)


class RowWriter(Protocol):
    """Writes export rows to one file; ``close()`` completes the file (not fsynced)."""

    def write(self, row: Row) -> None:
        """Append one row."""

    def close(self) -> None:
        """Finish the file."""


@lru_cache(maxsize=4096)
def excel_serial(moment: str) -> float:
    """An Excel date serial for a time text (codes of a batch share times: cached)."""
    delta = datetime.fromisoformat(moment) - _EXCEL_EPOCH
    return delta.days + delta.seconds / 86_400


class CsvRowWriter:
    """UTF-8 CSV with a header line; times as ``YYYY-MM-DD HH:MM:SS`` UTC."""

    def __init__(self, path: Path) -> None:
        self._handle: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._handle)
        self._csv.writerow(HEADER)

    def write(self, row: Row) -> None:
        """Append one row."""
        self._csv.writerow(row)

    def close(self) -> None:
        """Flush and close the file."""
        self._handle.close()


class XlsxRowWriter:
    """An .xlsx workbook streamed with ``constant_memory``; dates are real date cells."""

    def __init__(self, path: Path) -> None:
        options = {"constant_memory": True, "tmpdir": str(path.parent), "strings_to_numbers": False}
        self._book = xlsxwriter.Workbook(str(path), options)
        self._date = self._book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self._sheets = 0
        self._row = 0
        self._sheet: Any = None
        self._new_sheet()

    def _new_sheet(self) -> None:
        self._sheets += 1
        name = "codes" if self._sheets == 1 else f"codes-{self._sheets}"
        self._sheet = self._book.add_worksheet(name)
        self._sheet.set_column(0, 2, 22)
        self._sheet.set_column(3, 4, 20)
        self._sheet.write_row(0, 0, HEADER)
        self._row = 0

    def write(self, row: Row) -> None:
        """Append one row (on a new worksheet when this one is full)."""
        if self._row >= XLSX_ROWS_PER_SHEET:
            self._new_sheet()
        self._row += 1
        code, campaign, reward, valid_from, expired_at = row
        sheet, line = self._sheet, self._row
        sheet.write_string(line, 0, code)
        sheet.write_string(line, 1, campaign)
        sheet.write_string(line, 2, reward)
        for col, moment in ((3, valid_from), (4, expired_at)):
            if moment is not None:
                sheet.write_number(line, col, excel_serial(moment), self._date)

    def close(self) -> None:
        """Assemble and write the workbook."""
        self._book.close()


def open_writer(fmt: ExportFormat, path: Path) -> RowWriter:
    """A streaming writer of ``fmt`` creating ``path``."""
    if fmt is ExportFormat.CSV:
        return CsvRowWriter(path)
    return XlsxRowWriter(path)
