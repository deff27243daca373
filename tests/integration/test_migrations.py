"""Migrations build the schema on a fresh MariaDB database, partitioned as designed."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, inspect, text

from core.adapters.mysql.code_store import reserve_code_ids, reserve_ids
from core.adapters.mysql.ddl import CODE_PARTITIONS, MIGRATIONS
from core.adapters.mysql.migrate import upgrade
from tests.conftest import MYSQL_SERVER


@pytest.fixture()
def fresh_engine():
    name = f"rf_mig_{uuid.uuid4().hex[:10]}"
    engine = create_engine(f"{MYSQL_SERVER}/{name}")
    yield engine
    engine.dispose()
    server = create_engine(MYSQL_SERVER + "/")
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


def test_upgrade_creates_database_and_is_idempotent(fresh_engine) -> None:
    first = upgrade(fresh_engine)
    assert first.created_database
    assert first.applied == [m.version for m in MIGRATIONS]
    second = upgrade(fresh_engine)
    assert not second.created_database
    assert second.applied == []
    assert second.current_version == MIGRATIONS[-1].version


def test_redeem_codes_is_partitioned_by_tenant(fresh_engine) -> None:
    upgrade(fresh_engine)
    with fresh_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT partition_method, partition_expression FROM information_schema.partitions"
                " WHERE table_schema = DATABASE() AND table_name = 'redeem_codes'"
            )
        ).all()
    assert len(rows) == CODE_PARTITIONS
    assert {(m, e.strip("`")) for m, e in rows} == {("KEY", "tenant_id")}


def test_code_unique_per_tenant_not_globally(fresh_engine) -> None:
    upgrade(fresh_engine)
    insert = text(
        "INSERT INTO redeem_codes (id, tenant_id, code, product_code, campaign_id, gen_batch_id,"
        " gen_time) VALUES (:id, :t, 'SAMECODE', 'P', 'c', 'b', NOW(6))"
    )
    with fresh_engine.begin() as conn:
        conn.execute(insert, {"id": 1, "t": "tenantA"})
        conn.execute(insert, {"id": 2, "t": "tenantB"})
    with pytest.raises(Exception, match="Duplicate entry"), fresh_engine.begin() as conn:
        conn.execute(insert, {"id": 3, "t": "tenantA"})


def test_narrowing_keeps_existing_codes_and_their_ids(fresh_engine) -> None:
    """Migration 8 on a populated version-7 database: every row and id survives, the code
    table keeps only its two keys, and new ids continue after the highest existing one."""
    upgrade(fresh_engine, target=7)
    insert = text(
        "INSERT INTO redeem_codes (tenant_id, code, product_code, campaign_id, gen_batch_id,"
        " status, used_count, gen_time) VALUES (:t, :code, 'P', :c, 'b', :s, :s, NOW(6))"
    )
    with fresh_engine.begin() as conn:
        for n in range(30):
            conn.execute(insert, {"t": f"tenant{n % 3}", "code": f"CODE{n:04d}",
                                  "c": f"camp{n % 2}", "s": n % 2})
        conn.execute(text("DELETE FROM redeem_codes WHERE code = 'CODE0029'"))  # a gap at the top
    before = _code_rows(fresh_engine)
    assert len(before) == 29

    report = upgrade(fresh_engine)

    assert report.applied == [m.version for m in MIGRATIONS if m.version > 7]
    assert _code_rows(fresh_engine) == before
    inspector = inspect(fresh_engine)
    assert inspector.get_pk_constraint("redeem_codes")["constrained_columns"] == [
        "tenant_id", "campaign_id", "id"]
    assert {i["name"]: i["column_names"] for i in inspector.get_indexes("redeem_codes")} == {
        "uk_tenant_code": ["tenant_id", "code"]}
    with fresh_engine.begin() as conn:
        first = reserve_code_ids(conn, 5)
    assert first == max(row[0] for row in before) + 1


def _code_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT id, tenant_id, code, campaign_id, status, used_count FROM redeem_codes"
            " ORDER BY id"))]


def test_narrow_export_mark_moves_who_and_when_to_the_export(fresh_engine) -> None:
    """Migration 15 on a version-14 database with two exports: the exports are numbered in
    the order they were made, each exported code gets its export's number (unexported: 0),
    the three wide columns are gone, and new export numbers continue after the highest."""
    upgrade(fresh_engine, target=14)
    code = text(
        "INSERT INTO redeem_codes (id, tenant_id, code, product_code, campaign_id, gen_batch_id,"
        " gen_time, export_status, export_account_id, export_time, export_batch_id)"
        " VALUES (:id, 'tn1', :code, 'P', 'c1', 'b', NOW(6), :s, :a, :at, :e)")
    batch = text(
        "INSERT INTO export_batches (export_id, tenant_id, campaign_id, account_id, code_count,"
        " file_format, file_name, created_at) VALUES (:e, 'tn1', 'c1', :a, 2, 'csv', 'f', :at)")
    with fresh_engine.begin() as conn:
        conn.execute(batch, {"e": "exp-late", "a": "bob", "at": "2026-02-01 10:00:00"})
        conn.execute(batch, {"e": "exp-early", "a": "ann", "at": "2026-01-01 10:00:00"})
        for n, (export, account) in enumerate([("exp-early", "ann"), ("exp-early", "ann"),
                                               ("exp-late", "bob"), (None, None)], start=1):
            conn.execute(code, {"id": n, "code": f"CODE{n}", "s": int(export is not None),
                                "a": account, "at": None if export is None else "2026-01-01",
                                "e": export})

    assert upgrade(fresh_engine).applied == [m.version for m in MIGRATIONS if m.version > 14]

    with fresh_engine.connect() as conn:
        seqs = dict(conn.execute(text("SELECT export_id, seq FROM export_batches")).all())
        marks = conn.execute(text("SELECT id, export_status, export_seq FROM redeem_codes"
                                  " ORDER BY id")).all()
    assert seqs == {"exp-early": 1, "exp-late": 2}
    assert [tuple(m) for m in marks] == [(1, 1, 1), (2, 1, 1), (3, 1, 2), (4, 0, 0)]
    columns = {c["name"] for c in inspect(fresh_engine).get_columns("redeem_codes")}
    assert not columns & {"export_account_id", "export_time", "export_batch_id"}
    with fresh_engine.begin() as conn:
        assert reserve_ids(conn, "export_batches", 1) == 3
