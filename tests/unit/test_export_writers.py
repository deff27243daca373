"""The export file writers without a database: the streamed xlsx (content, package
structure, sheets, escaping), the CSV writer's chunks, the writer thread, the download."""

from __future__ import annotations

import csv
import threading
import zipfile
from datetime import datetime
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import openpyxl
import pytest

from core.export import HEADER, read_chunks, xlsx_stream
from core.export.pipe import BackgroundWriter, chunk_sink
from core.export.writers import CsvRowWriter, Row, XlsxRowWriter

CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def rows(count: int, start: int = 0) -> list[Row]:
    return [(f"C{i:08d}", "camp-1", "COUPON:X x2", "2026-12-03 13:00:00",
             "2027-01-02 13:00:59") for i in range(start, start + count)]


def write_xlsx(path: Path, chunks: list[list[Row]]) -> None:
    writer = XlsxRowWriter(path)
    for chunk in chunks:
        writer.write_rows(chunk)
    writer.close()


def sheet_rows(path: Path) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
    finally:
        book.close()


def test_xlsx_round_trip_with_real_dates(tmp_path: Path) -> None:
    out = tmp_path / "codes.xlsx"
    data = rows(2500)
    write_xlsx(out, [data[:1000], data[1000:2499], [data[2499]]])
    sheets = sheet_rows(out)
    assert list(sheets) == ["codes"]
    got = sheets["codes"]
    assert got[0] == HEADER
    assert [r[0] for r in got[1:]] == [r[0] for r in data], "every code once, in order"
    assert {r[1:3] for r in got[1:]} == {("camp-1", "COUPON:X x2")}
    assert got[1][3] == datetime(2026, 12, 3, 13, 0, 0)
    assert got[1][4] == datetime(2027, 1, 2, 13, 0, 59)
    book = openpyxl.load_workbook(out)  # the full (non read-only) reader too
    cell = book["codes"]["D2"]
    assert cell.is_date and cell.number_format == "yyyy\\-mm\\-dd\\ hh:mm:ss"


def test_xlsx_continues_on_new_sheets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_stream, "ROWS_PER_SHEET", 4)
    out = tmp_path / "many.xlsx"
    data = rows(10)
    write_xlsx(out, [data[:3], data[3:9], data[9:]])
    sheets = sheet_rows(out)
    assert list(sheets) == ["codes", "codes-2", "codes-3"]
    assert all(sheet[0] == HEADER for sheet in sheets.values())
    assert [len(sheet) - 1 for sheet in sheets.values()] == [4, 4, 2]
    codes = [r[0] for sheet in sheets.values() for r in sheet[1:]]
    assert codes == [r[0] for r in data]


def test_xlsx_escapes_markup_and_keeps_missing_dates_empty(tmp_path: Path) -> None:
    out = tmp_path / "odd.xlsx"
    writer = XlsxRowWriter(out)
    writer.write(("A<&>B", 'c"1', "<script>alert(1)</script> & co", None, "2027-01-02 00:00:00"))
    writer.close()
    got = sheet_rows(out)["codes"]
    assert got[1][:4] == ("A<&>B", 'c"1', "<script>alert(1)</script> & co", None)
    assert got[1][4] == datetime(2027, 1, 2)


def test_xlsx_empty_export_is_a_workbook(tmp_path: Path) -> None:
    out = tmp_path / "empty.xlsx"
    write_xlsx(out, [])
    assert sheet_rows(out) == {"codes": [HEADER]}


def test_xlsx_package_structure_is_complete(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """What Excel and LibreOffice need: every part well-formed XML with a content type,
    every relationship pointing at a part, sheets listed in the workbook and its rels,
    worksheet children in schema order, style and shared-string counts that add up."""
    monkeypatch.setattr(xlsx_stream, "ROWS_PER_SHEET", 5)
    out = tmp_path / "pkg.xlsx"
    write_xlsx(out, [rows(7)])
    with zipfile.ZipFile(out) as package:
        assert package.testzip() is None
        parts = {name: ElementTree.fromstring(package.read(name)) for name in package.namelist()}
    types = parts["[Content_Types].xml"]
    overrides = {e.get("PartName") for e in types.iter(f"{CT}Override")}
    defaults = {e.get("Extension") for e in types.iter(f"{CT}Default")}
    for name in parts:
        if name != "[Content_Types].xml":
            assert f"/{name}" in overrides or name.rsplit(".", 1)[-1] in defaults, name
    for name, root in parts.items():
        if not name.endswith(".rels"):
            continue
        base = PurePosixPath(name).parent.parent
        for rel in root.iter(f"{REL}Relationship"):
            target = str(base / rel.get("Target", ""))
            assert target in parts, f"{name} points at missing {target}"
    workbook_rels = {r.get("Id"): r.get("Target")
                     for r in parts["xl/_rels/workbook.xml.rels"].iter(f"{REL}Relationship")}
    sheets = list(parts["xl/workbook.xml"].iter(f"{MAIN}sheet"))
    rid = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    assert [workbook_rels[s.get(rid)] for s in sheets] == [
        "worksheets/sheet1.xml", "worksheets/sheet2.xml"]
    order = ["sheetViews", "sheetFormatPr", "cols", "sheetData", "pageMargins"]
    for n in (1, 2):
        children = [c.tag.removeprefix(MAIN) for c in parts[f"xl/worksheets/sheet{n}.xml"]]
        assert children == order
    styles = parts["xl/styles.xml"]
    for group in styles:
        if group.get("count") is not None:
            assert int(group.get("count", "")) == len(group), group.tag
    strings = parts["xl/sharedStrings.xml"]
    assert int(strings.get("uniqueCount", "")) == len(strings) == len(HEADER) + 2


def test_csv_writer_takes_chunks(tmp_path: Path) -> None:
    out = tmp_path / "codes.csv"
    writer = CsvRowWriter(out)
    writer.write_rows(rows(3))
    writer.write(rows(1, start=3)[0])
    writer.close()
    with out.open(encoding="utf-8", newline="") as handle:
        got = list(csv.reader(handle))
    assert tuple(got[0]) == HEADER
    assert [r[0] for r in got[1:]] == [f"C{i:08d}" for i in range(4)]


class _Recorder:
    def __init__(self, fail_on: int | None = None) -> None:
        self.chunks: list[list[Row]] = []
        self.closed = False
        self.threads: set[str] = set()
        self._fail_on = fail_on

    def write(self, row: Row) -> None:
        self.write_rows([row])

    def write_rows(self, chunk: list[Row]) -> None:
        self.threads.add(threading.current_thread().name)
        if self._fail_on is not None and len(self.chunks) == self._fail_on:
            raise OSError("disk full (simulated)")
        self.chunks.append(list(chunk))

    def close(self) -> None:
        self.closed = True


def test_background_writer_keeps_order_on_its_thread() -> None:
    recorder = _Recorder()
    with BackgroundWriter(recorder) as sink:
        for n in range(20):
            sink.submit(rows(3, start=3 * n))
        sink.finish()
    assert [r[0] for chunk in recorder.chunks for r in chunk] == [
        f"C{i:08d}" for i in range(60)]
    assert recorder.closed and recorder.threads == {"export-writer"}


def test_background_writer_error_reaches_the_caller() -> None:
    recorder = _Recorder(fail_on=2)
    with pytest.raises(OSError, match="disk full"), BackgroundWriter(recorder) as sink:
        for n in range(50):
            sink.submit(rows(1, start=n))
        sink.finish()
    assert recorder.closed, "the file is closed after a failure too"
    assert not any(t.name == "export-writer" for t in threading.enumerate())


def test_read_chunks_streams_then_removes(tmp_path: Path) -> None:
    path = tmp_path / "done.csv"
    payload = bytes(range(256)) * 1000
    path.write_bytes(payload)
    assert b"".join(read_chunks(path, 4096)) == payload
    assert path.exists(), "kept unless asked"
    chunks = read_chunks(path, 4096, remove=True)
    assert next(chunks) == payload[:4096]
    chunks.close()  # a client that went away
    assert not path.exists()


def test_inline_writer_writes_on_the_callers_thread() -> None:
    recorder = _Recorder()
    with chunk_sink(recorder, threaded=False) as sink:
        sink.submit(rows(2))
        sink.finish()
    assert recorder.threads == {threading.current_thread().name} and recorder.closed
