"""The batch writer's chunk rules on the in-memory ledger (no service running): codes a
tenant already has are replaced, a batch that is not RUNNING stops its writer."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.codes.protection import ProtectedCode, ProtectedRows
from core.errors import CodeSpaceTooSmall, PermanentError
from core.generation.writer import _check_running, _insert_complete
from core.records import ROLLED_BACK, RUNNING, BatchRecord, RowTemplate
from tests.fake_ledger import InMemoryBatchLedger

NOW = datetime(2026, 1, 2, 3, 4, 5)
BATCH = BatchRecord("b1", "t1", "c1", 10, 0, RUNNING, "acct", NOW, None)
TEMPLATE = RowTemplate("t1", "P1", "c1", "b1", 1, "acct", NOW, NOW, None)


def rows(*lookups: str) -> ProtectedRows:
    """Protected codes whose lookups are ``lookups`` (the writer never reads the seal)."""
    return ProtectedRows.of(ProtectedCode(lookup, "seal", "mask") for lookup in lookups)


def test_codes_the_tenant_had_are_replaced_by_fresh_ones() -> None:
    ledger = InMemoryBatchLedger()
    ledger.load_codes(TEMPLATE, [100], rows("BBBB"))
    stored, collisions = _insert_complete(ledger, TEMPLATE, 1, rows("AAAA", "BBBB", "CCCC"),
                                          lambda n: rows(*["ZZZZ"] * n))
    assert (sorted(stored), collisions) == (["AAAA", "CCCC", "ZZZZ"], 1)
    assert ledger.rows_in_range(TEMPLATE, 1, 3) == [(1, "AAAA"), (2, "ZZZZ"), (3, "CCCC")]


def test_a_code_space_that_keeps_colliding_is_too_small() -> None:
    ledger = InMemoryBatchLedger()
    ledger.load_codes(TEMPLATE, [100], rows("AAAA"))
    with pytest.raises(CodeSpaceTooSmall):
        _insert_complete(ledger, TEMPLATE, 1, rows("AAAA"), lambda n: rows(*["AAAA"] * n))


def test_only_a_running_batch_takes_chunks() -> None:
    ledger = InMemoryBatchLedger()
    ledger.insert_batch(BATCH)
    _check_running(ledger, "b1")
    ledger.finish_batch("b1", ROLLED_BACK, NOW)
    with pytest.raises(PermanentError, match="ROLLED_BACK"):
        _check_running(ledger, "b1")
    with pytest.raises(PermanentError, match="missing"):
        _check_running(ledger, "nope")
