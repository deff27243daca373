"""A streamed .xlsx writer: the worksheet XML is formatted by hand and deflated as it comes.

An .xlsx file is a zip of XML parts. Export rows are all alike (a code, two texts shared by
every row, two date cells), so each row is one format string: no cell objects, no per-cell
calls, no temporary files. The sheet part is deflated into the zip while rows arrive
(``zipfile`` streams an entry opened for writing), so memory holds one chunk of rows at most.

* Codes are inline strings (``t="inlineStr"``); the header, the campaign id and the reward
  text are in the shared-strings part (three indexes repeated on every row instead of the
  same text a million times: a smaller sheet and less to deflate).
* Dates are numbers with a ``yyyy-mm-dd hh:mm:ss`` format (style 1): real date cells.
* A worksheet holds 1,048,575 data rows; more continue on ``codes-2``, ``codes-3``...
* Deflate level 1: the whole writer takes ~40 % less CPU than at level 6, for a file ~25 %
  larger (``bench/export_writers.py``, docs/performance.md).

The package has what Excel, LibreOffice and openpyxl require: content types, the package
and workbook relationships, the workbook, styles, shared strings and the sheets, plus
``docProps`` (core and app) as Excel writes them.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

#: Data rows per worksheet: Excel's 1,048,576 rows minus the header.
ROWS_PER_SHEET = 1_048_575
COMPRESS_LEVEL = 1

_EXCEL_EPOCH = datetime(1899, 12, 30)
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_CT_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml"
#: Characters that are not text in XML 1.0 or must be escaped in it.
_UNSAFE = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_SHEET_HEAD = (
    f'{_XML_HEAD}<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
    '<sheetViews><sheetView workbookViewId="0"/></sheetViews>'
    '<sheetFormatPr defaultRowHeight="15"/>'
    '<cols><col min="1" max="3" width="22.7109375" customWidth="1"/>'
    '<col min="4" max="5" width="20.7109375" customWidth="1"/></cols><sheetData>'
)
_SHEET_TAIL = (
    '</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75"'
    ' header="0.3" footer="0.3"/></worksheet>'
)
_STYLES = (
    f'{_XML_HEAD}<styleSheet xmlns="{_MAIN_NS}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd\\ hh:mm:ss"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>"
)
_ROOT_RELS = (
    f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
    'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL_NS}/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_APP = (
    f'{_XML_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    'extended-properties"><Application>redeemflow</Application></Properties>'
)


def _text(value: str) -> str:
    """``value`` as XML character data: ``& < >`` escaped, and characters XML cannot carry
    written as Excel's ``_xHHHH_`` escapes (what Excel and openpyxl read back)."""
    return _NOT_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", escape(value))


@lru_cache(maxsize=4096)
def excel_serial(moment: str) -> str:
    """The Excel date serial of a ``YYYY-MM-DD HH:MM:SS`` text, as cell text (cached: the
    codes of a generation batch share their times)."""
    delta = datetime.fromisoformat(moment) - _EXCEL_EPOCH
    return repr(delta.days + delta.seconds / 86_400)


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class StreamedXlsxWriter:
    """Writes export rows (code, campaign, reward, valid_from, expired_at) to an .xlsx file.

    Campaign and reward go to the shared-strings part, which is kept in memory: meant for
    the few distinct values of an export, not for text that differs on every row."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
        self._header = tuple(header)
        self._shared: dict[str, int] = {}
        self._header_xml = self._shared_row(1, self._header)
        self._sheet: IO[bytes] | None = None
        self._sheets = 0
        self._row = 0

    def write(self, row: Sequence[str | None]) -> None:
        """Append one row."""
        self.write_rows((row,))

    def write_rows(self, rows: Iterable[Sequence[str | None]]) -> None:
        """Append rows (one deflate call per call: pass a chunk)."""
        parts: list[str] = []
        for code, campaign, reward, valid_from, expired_at in rows:
            if self._row >= ROWS_PER_SHEET or self._sheet is None:
                self._flush(parts)
                self._next_sheet()
            self._row += 1
            n = self._row + 1
            b, c = self._index(campaign or ""), self._index(reward or "")
            if _UNSAFE.search(code or ""):
                code = _text(code or "")
            start = f'<c r="D{n}" s="1"><v>{excel_serial(valid_from)}</v></c>' if valid_from else ""
            end = f'<c r="E{n}" s="1"><v>{excel_serial(expired_at)}</v></c>' if expired_at else ""
            parts.append(
                f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>{code}</t></is></c>'
                f'<c r="B{n}" t="s"><v>{b}</v></c><c r="C{n}" t="s"><v>{c}</v></c>'
                f"{start}{end}</row>"
            )
        self._flush(parts)

    def close(self) -> None:
        """Finish the last sheet and write the workbook parts and the zip directory."""
        if self._sheet is None:
            self._next_sheet()
        self._end_sheet()
        for name, xml in self._package_parts():
            self._zip.writestr(name, xml)
        self._zip.close()

    def _flush(self, parts: list[str]) -> None:
        if parts and self._sheet is not None:
            self._sheet.write("".join(parts).encode("utf-8"))
        parts.clear()

    def _index(self, value: str) -> int:
        if value not in self._shared:
            self._shared[value] = len(self._shared)
        return self._shared[value]

    def _shared_row(self, number: int, values: Sequence[str]) -> str:
        cells = "".join(
            f'<c r="{_column_letters(col)}{number}" t="s"><v>{self._index(value)}</v></c>'
            for col, value in enumerate(values)
        )
        return f'<row r="{number}">{cells}</row>'

    def _next_sheet(self) -> None:
        if self._sheet is not None:
            self._end_sheet()
        self._sheets += 1
        self._sheet = self._zip.open(f"xl/worksheets/sheet{self._sheets}.xml", "w")
        self._sheet.write((_SHEET_HEAD + self._header_xml).encode("utf-8"))
        self._row = 0

    def _end_sheet(self) -> None:
        assert self._sheet is not None
        self._sheet.write(_SHEET_TAIL.encode("utf-8"))
        self._sheet.close()

    def _sheet_names(self) -> list[str]:
        return ["codes" if i == 1 else f"codes-{i}" for i in range(1, self._sheets + 1)]

    def _package_parts(self) -> list[tuple[str, str]]:
        names = self._sheet_names()
        sheets = "".join(
            f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>'
            for i, name in enumerate(names, 1)
        )
        count = len(names)
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet"'
            f' Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, count + 1)
        )
        rels += (
            f'<Relationship Id="rId{count + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId{count + 2}" Type="{_REL_NS}/sharedStrings"'
            ' Target="sharedStrings.xml"/>'
        )
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml"'
            f' ContentType="{_CT_MAIN}.worksheet+xml"/>'
            for i in range(1, count + 1)
        )
        content_types = (
            f'{_XML_HEAD}<Types xmlns="{_CT_NS}">'
            '<Default Extension="rels"'
            ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT_MAIN}.sheet.main+xml"/>'
            f"{overrides}"
            f'<Override PartName="/xl/styles.xml" ContentType="{_CT_MAIN}.styles+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml"'
            f' ContentType="{_CT_MAIN}.sharedStrings+xml"/>'
            '<Override PartName="/docProps/core.xml"'
            ' ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml"'
            ' ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
            "</Types>"
        )
        workbook = (
            f'{_XML_HEAD}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
            f"<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets></workbook>"
        )
        return [
            ("[Content_Types].xml", content_types),
            ("_rels/.rels", _ROOT_RELS),
            ("docProps/app.xml", _APP),
            ("docProps/core.xml", self._core()),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels",
             f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">{rels}</Relationships>'),
            ("xl/styles.xml", _STYLES),
            ("xl/sharedStrings.xml", self._shared_strings()),
        ]

    def _shared_strings(self) -> str:
        items = "".join(f'<si><t xml:space="preserve">{_text(s)}</t></si>' for s in self._shared)
        total = len(self._shared)
        return (f'{_XML_HEAD}<sst xmlns="{_MAIN_NS}" count="{total}" uniqueCount="{total}">'
                f"{items}</sst>")

    @staticmethod
    def _core() -> str:
        return (
            f"{_XML_HEAD}<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/"
            'package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"'
            ' xmlns:dcterms="http://purl.org/dc/terms/"'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<dc:creator>redeemflow</dc:creator></cp:coreProperties>"
        )
