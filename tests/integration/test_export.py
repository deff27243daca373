"""Exports against real MariaDB/Redis: files, marking, owner rule, refusals, concurrency."""

from __future__ import annotations

import csv
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import text

from core.adapters.mysql import export_store
from core.bootstrap import bootstrap
from core.errors import ExportRefused
from core.export import HEADER, NotEnoughCodes, export_codes, xlsx_stream
from tests.code_support import PLAIN_CODE, reveal
from tests.integration.redeem_support import seed_campaign

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]
OWNER = "tester"  # seed_campaign's gen_account_id


def exported_rows(container, tenant: str, campaign: str) -> list[tuple]:
    """The exported rows with who exported them, in which export and when (from the
    export's row: a code keeps only its number), each code revealed from its seal (MySQL
    keeps none in clear). An exported code without its export row is missing here."""
    with container.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT r.plain, x.account_id, x.export_id, x.created_at"
                 f" FROM (SELECT {PLAIN_CODE} AS plain, export_seq FROM redeem_codes"
                 " WHERE tenant_id=:t AND campaign_id=:c AND export_status=1) r"
                 " JOIN export_batches x ON x.seq = r.export_seq"),
            {"t": tenant, "c": campaign},
        ).all()
    return [(reveal(container, r[0]), *r[1:]) for r in rows]


def audit_row(container, export_id: str):
    with container.engine.connect() as conn:
        return conn.execute(
            text("SELECT account_id, owner_override, code_count, file_format, file_sha256"
                 " FROM export_batches WHERE export_id=:e"), {"e": export_id}).one()


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_csv_export_writes_and_marks(container, tmp_path: Path) -> None:
    seeded = seed_campaign(container, count=30)
    out = tmp_path / "codes.csv"
    result = export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, OWNER, 10,
                          "csv", out)
    rows = read_csv(out)
    assert tuple(rows[0]) == HEADER
    assert len(rows) == 11
    assert {r[1] for r in rows[1:]} == {seeded.campaign_id}
    assert {r[2] for r in rows[1:]} == {"COUPON:WELCOME10"}
    assert all(r[3] for r in rows[1:]), "valid_from is written"
    marked = exported_rows(container, seeded.tenant_id, seeded.campaign_id)
    assert {r[0] for r in marked} == {r[0] for r in rows[1:]}
    assert {(r[1], r[2]) for r in marked} == {(OWNER, result.export_id)}
    assert all(r[3] is not None for r in marked)
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    assert result.sha256 == sha
    assert audit_row(container, result.export_id) == (OWNER, 0, 10, "csv", sha)
    assert list(tmp_path.iterdir()) == [out], "no temporary file is left"


def test_xlsx_export_is_a_real_workbook(container, tmp_path: Path) -> None:
    seeded = seed_campaign(container, count=12)
    out = tmp_path / "codes.xlsx"
    export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, OWNER, 12, "xlsx", out)
    book = openpyxl.load_workbook(out, read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0] == HEADER
    assert sorted(r[0] for r in rows[1:]) == sorted(seeded.codes)
    assert rows[1][3] is not None and hasattr(rows[1][3], "year"), "dates are date cells"


def test_xlsx_export_over_several_sheets_round_trips(container, tmp_path: Path,
                                                    monkeypatch) -> None:
    """The streamed workbook through the service: chunks of 7 over sheets of 10 rows,
    every code exactly once, the marks and the audit row's sha256 match the file."""
    monkeypatch.setattr(xlsx_stream, "ROWS_PER_SHEET", 10)
    seeded = seed_campaign(container, count=40)
    out = tmp_path / "codes.xlsx"
    result = export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, OWNER, 33,
                          "xlsx",
                          out, chunk_size=7)
    book = openpyxl.load_workbook(out, read_only=True)
    sheets = {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
    book.close()
    assert list(sheets) == ["codes", "codes-2", "codes-3", "codes-4"]
    assert all(rows[0] == HEADER for rows in sheets.values())
    codes = [r[0] for rows in sheets.values() for r in rows[1:]]
    assert len(codes) == len(set(codes)) == 33
    marked = exported_rows(container, seeded.tenant_id, seeded.campaign_id)
    assert sorted(r[0] for r in marked) == sorted(codes)
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    assert result.sha256 == sha
    assert audit_row(container, result.export_id) == (OWNER, 0, 33, "xlsx", sha)


@pytest.mark.parametrize(("driver", "threaded"), [("pymysql", False), ("mysqldb", True),
                                                  ("mysqldb", False)])
def test_export_on_either_driver_and_writer(container, tmp_path: Path, driver: str,
                                            threaded: bool) -> None:
    pytest.importorskip("MySQLdb" if driver == "mysqldb" else "pymysql")
    seeded = seed_campaign(container, count=9)
    out = tmp_path / "codes.csv"
    settings = container.settings.model_copy(
        update={"export_mysql_driver": driver, "export_writer_thread": threaded})
    with bootstrap(settings) as other:
        assert other.bulk_engine.dialect.driver == driver
        result = export_codes(other.exporter, seeded.tenant_id, seeded.campaign_id, OWNER, 9,
                              "csv", out)
    rows = read_csv(out)
    assert sorted(r[0] for r in rows[1:]) == sorted(seeded.codes)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r[3]) for r in rows[1:])
    assert audit_row(container, result.export_id)[2:4] == (9, "csv")


def test_second_export_takes_other_codes_then_refuses(container, tmp_path: Path) -> None:
    seeded = seed_campaign(container, count=8)
    first = tmp_path / "a.csv"
    second = tmp_path / "b.csv"
    export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, OWNER, 5, "csv", first)
    with pytest.raises(NotEnoughCodes, match=r"only 3 unexported") as info:
        export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, OWNER, 4, "csv",
                     second)
    assert (info.value.requested, info.value.available) == (4, 3)
    assert not second.exists()
    assert len(exported_rows(container, seeded.tenant_id, seeded.campaign_id)) == 5
    export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, OWNER, 3, "csv", second)
    codes_a = {r[0] for r in read_csv(first)[1:]}
    codes_b = {r[0] for r in read_csv(second)[1:]}
    assert not codes_a & codes_b
    assert codes_a | codes_b == set(seeded.codes)


def test_owner_rule_and_override(container, tmp_path: Path) -> None:
    seeded = seed_campaign(container, count=4)
    out = tmp_path / "x.csv"
    with pytest.raises(ExportRefused, match="--override-owner"):
        export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, "intruder", 1,
                     "csv", out)
    assert not out.exists()
    result = export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, "admin", 2,
                          "csv",
                          out, override_owner=True)
    assert audit_row(container, result.export_id)[:2] == ("admin", 1)
    assert {r[1] for r in exported_rows(container, seeded.tenant_id, seeded.campaign_id)} == {
        "admin"}


def test_failed_commit_leaves_no_file_and_no_marks(container, tmp_path: Path,
                                                   monkeypatch) -> None:
    seeded = seed_campaign(container, count=6)
    out = tmp_path / "fail.xlsx"

    def boom(*_args, **_kwargs):
        raise RuntimeError("disk full while writing the audit row (simulated)")

    monkeypatch.setattr(export_store, "insert_export_batch", boom)
    with pytest.raises(RuntimeError):
        export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, OWNER, 6,
                     "xlsx", out)
    assert list(tmp_path.iterdir()) == []
    assert exported_rows(container, seeded.tenant_id, seeded.campaign_id) == []


def test_existing_output_is_never_overwritten(container, tmp_path: Path) -> None:
    seeded = seed_campaign(container, count=2)
    out = tmp_path / "taken.csv"
    out.write_text("precious")
    with pytest.raises(ExportRefused, match="already exists"):
        export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id, OWNER, 1, "csv", out)
    assert out.read_text() == "precious"


def test_concurrent_exports_never_share_a_code(container, tmp_path: Path) -> None:
    seeded = seed_campaign(container, count=6000)
    jobs = [(i, tmp_path / f"part{i}.csv") for i in range(4)]

    def run(job: tuple[int, Path]) -> object:
        try:
            return export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id,
                                OWNER, 1400,
                                "csv", job[1], chunk_size=200)
        except NotEnoughCodes as exc:
            return exc

    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(run, jobs))
    assert all(not isinstance(r, Exception) for r in results), results
    seen: list[str] = []
    for _, path in jobs:
        seen += [r[0] for r in read_csv(path)[1:]]
    assert len(seen) == 5600 == len(set(seen)), "no code is handed out twice"
    assert len(exported_rows(container, seeded.tenant_id, seeded.campaign_id)) == 5600


def test_concurrent_exports_beyond_stock_fail_cleanly(container, tmp_path: Path) -> None:
    seeded = seed_campaign(container, count=3000)
    paths = [tmp_path / f"over{i}.csv" for i in range(3)]

    def run(path: Path) -> object:
        try:
            return export_codes(container.exporter, seeded.tenant_id, seeded.campaign_id,
                                OWNER, 1200,
                                "csv", path, chunk_size=100)
        except NotEnoughCodes as exc:
            return exc

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(run, paths))
    done = [p for p, r in zip(paths, results, strict=True) if not isinstance(r, Exception)]
    assert 1 <= len(done) <= 2
    assert sorted(tmp_path.iterdir()) == sorted(done), "refused exports leave no file"
    codes = [r[0] for p in done for r in read_csv(p)[1:]]
    assert len(codes) == len(set(codes)) == 1200 * len(done)
    assert len(exported_rows(container, seeded.tenant_id, seeded.campaign_id)) == len(codes)
