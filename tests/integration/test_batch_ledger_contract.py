"""One contract for the ``BatchLedger`` port (generation batches and their code rows), run
against the in-memory fake of the unit tests (``tests.fake_ledger``) and the MySQL adapter
(``MySQLTx`` inside a transaction that is rolled back afterwards), so the fake cannot
promise what the adapter does not do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from core.codes.protection import ProtectedCode, ProtectedRows
from core.records import DONE, ROLLED_BACK, RUNNING, BatchRecord, RowTemplate
from core.service_ports import BatchLedger
from tests.conftest import unique_id
from tests.fake_ledger import InMemoryBatchLedger

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 2, 3, 4, 5)


class _Rollback(Exception):
    """Ends the MySQL subject's transaction without keeping anything."""


@pytest.fixture(params=["fake", "mysql"])
def ledger(request: pytest.FixtureRequest) -> Iterator[BatchLedger]:
    """The fake, or the MySQL adapter in a transaction rolled back after the test."""
    if request.param == "fake":
        yield InMemoryBatchLedger()
        return
    container = request.getfixturevalue("container")
    try:
        with container.storage.begin("batch ledger contract") as tx:
            yield tx
            raise _Rollback
    except _Rollback:
        pass


def batch(tenant: str, campaign: str, requested: int = 10, *, created: int = 0,
          status: str = RUNNING) -> BatchRecord:
    """A fresh batch record of ``tenant``'s ``campaign``."""
    return BatchRecord(unique_id("b"), tenant, campaign, requested, 0, status, "acct",
                       NOW.replace(second=created), None, None)


def template(record: BatchRecord) -> RowTemplate:
    """The row template of ``record``'s chunk."""
    return RowTemplate(record.tenant_id, "P1", record.campaign_id, record.batch_id, 1,
                       record.account_id, NOW, NOW, None)


def test_a_batch_reads_back_as_stored(ledger: BatchLedger) -> None:
    record = batch(unique_id("t"), unique_id("c"), 7)
    ledger.insert_batch(record)
    assert ledger.get_batch(record.batch_id) == record
    assert ledger.get_batch(unique_id("b")) is None


def test_chunks_count_only_within_what_a_running_batch_requested(ledger: BatchLedger) -> None:
    record = batch(unique_id("t"), unique_id("c"), 10)
    ledger.insert_batch(record)
    assert ledger.count_chunk(record.batch_id, 6)
    assert not ledger.count_chunk(record.batch_id, 5)
    assert ledger.count_chunk(record.batch_id, 4)
    stored = ledger.get_batch(record.batch_id)
    assert stored is not None and stored.inserted == 10
    ledger.add_inserted(record.batch_id, -3)
    ledger.finish_batch(record.batch_id, ROLLED_BACK, NOW)
    assert not ledger.count_chunk(record.batch_id, 1)
    stored = ledger.get_batch(record.batch_id)
    assert stored is not None
    assert (stored.inserted, stored.status, stored.finished_at) == (7, ROLLED_BACK, NOW)


def test_running_batches_are_counted_per_tenant(ledger: BatchLedger) -> None:
    tenant, campaign = unique_id("t"), unique_id("c")
    first, second, done = (batch(tenant, campaign, created=2), batch(tenant, campaign, created=1),
                           batch(tenant, campaign, created=3))
    elsewhere = batch(unique_id("t"), campaign)
    for record in (first, second, done, elsewhere):
        ledger.insert_batch(record)
    ledger.finish_batch(done.batch_id, DONE, NOW)
    assert ledger.other_running_batches(tenant, first.batch_id) == 1
    assert ledger.other_running_batches(tenant, done.batch_id) == 2
    listed = ledger.campaign_batches(tenant, campaign)
    assert [b.batch_id for b in listed] == [second.batch_id, first.batch_id, done.batch_id]


def test_codes_a_tenant_already_has_are_skipped(ledger: BatchLedger) -> None:
    tenant, campaign = unique_id("t"), unique_id("c")
    one, two = batch(tenant, campaign), batch(tenant, campaign)
    ledger.insert_batch(one)
    ledger.insert_batch(two)
    assert ledger.load_codes(template(one), [1, 2, 3], _stored("AAAA", "BBBB", "CCCC")) == 3
    assert ledger.load_codes(template(two), [4, 5], _stored("BBBB", "DDDD")) == 1
    assert ledger.rows_in_range(template(two), 2, 5) == [(2, "BBBB"), (3, "CCCC"), (5, "DDDD")]
    other = batch(unique_id("t"), campaign)
    ledger.insert_batch(other)
    assert ledger.load_codes(template(other), [1], _stored("AAAA")) == 1


def _stored(*lookups: str) -> ProtectedRows:
    """Rows as generation hands them to the ledger (only the lookup is read back)."""
    return ProtectedRows.of(ProtectedCode(lookup, "c2VhbA==", "****") for lookup in lookups)


def test_batch_rows_page_by_id_and_delete_by_id(ledger: BatchLedger) -> None:
    tenant, campaign = unique_id("t"), unique_id("c")
    mine, theirs = batch(tenant, campaign), batch(tenant, campaign)
    ledger.insert_batch(mine)
    ledger.insert_batch(theirs)
    ledger.load_codes(template(mine), [3, 1, 5, 7], _stored(*(f"M{i:03d}" for i in (3, 1, 5, 7))))
    ledger.load_codes(template(theirs), [2, 4], _stored("T002", "T004"))
    assert ledger.batch_rows(mine, 0, 2) == [(1, "M001", 0, 0, None), (3, "M003", 0, 0, None)]
    assert [r[0] for r in ledger.batch_rows(mine, 3, 10)] == [5, 7]
    assert ledger.delete_rows(tenant, campaign, [1, 2, 99]) == 2
    assert [r[0] for r in ledger.batch_rows(mine, 0, 10)] == [3, 5, 7]
    assert [r[0] for r in ledger.batch_rows(theirs, 0, 10)] == [4]
