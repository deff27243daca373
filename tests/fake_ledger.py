"""An in-memory ``BatchLedger`` (``core.service_ports``) for unit tests of generation.

``tests/integration/test_batch_ledger_contract.py`` runs one contract against this fake and
the MySQL adapter (``core.adapters.mysql.storage.MySQLTx``), so the fake cannot promise what
the adapter does not do. It keeps no transactions: each call takes effect at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from core.codes.protection import ProtectedRows
from core.codes.status import CodeStatus
from core.records import RUNNING, BatchRecord, RowTemplate


@dataclass
class _Row:
    row_id: int
    tenant_id: str
    campaign_id: str
    batch_id: str
    code: str
    status: int = CodeStatus.UNUSED
    used: int = 0
    user: str | None = None


class InMemoryBatchLedger:
    """Batches by id and code rows by (tenant, code), as ``code_batches``/``redeem_codes``."""

    def __init__(self) -> None:
        self.batches: dict[str, BatchRecord] = {}
        self.rows: dict[tuple[str, str], _Row] = {}

    def insert_batch(self, record: BatchRecord) -> None:
        """Store a new batch."""
        self.batches[record.batch_id] = record

    def get_batch(self, batch_id: str, *, lock: bool = False) -> BatchRecord | None:
        """The batch of this id (``lock`` means nothing here)."""
        return self.batches.get(batch_id)

    def campaign_batches(self, tenant_id: str, campaign_id: str) -> list[BatchRecord]:
        """A campaign's batches, oldest first."""
        found = [b for b in self.batches.values()
                 if (b.tenant_id, b.campaign_id) == (tenant_id, campaign_id)]
        return sorted(found, key=lambda b: (b.created_at, b.batch_id))

    def other_running_batches(self, tenant_id: str, batch_id: str) -> int:
        """RUNNING batches of the tenant other than ``batch_id``."""
        return sum(1 for b in self.batches.values()
                   if b.tenant_id == tenant_id and b.status == RUNNING and b.batch_id != batch_id)

    def finish_batch(self, batch_id: str, status: str, now: datetime) -> None:
        """Set the batch's final status."""
        if batch_id in self.batches:
            self.batches[batch_id] = replace(self.batches[batch_id], status=status,
                                             finished_at=now)

    def count_chunk(self, batch_id: str, count: int) -> bool:
        """Add ``count`` to a RUNNING batch unless it would exceed what it requested."""
        batch = self.batches.get(batch_id)
        if batch is None or batch.status != RUNNING or batch.inserted + count > batch.requested:
            return False
        self.batches[batch_id] = replace(batch, inserted=batch.inserted + count)
        return True

    def add_inserted(self, batch_id: str, delta: int) -> None:
        """Move the batch's committed count."""
        batch = self.batches[batch_id]
        self.batches[batch_id] = replace(batch, inserted=batch.inserted + delta)

    def load_codes(self, template: RowTemplate, ids: Sequence[int], rows: ProtectedRows) -> int:
        """Insert rows, skipping codes the tenant already has; rows inserted."""
        inserted = 0
        for row_id, code in zip(ids, rows.lookup_texts(), strict=True):
            # stored like MySQL: the lookup, never the code
            key = (template.tenant_id, code)
            if key not in self.rows:
                self.rows[key] = _Row(row_id, template.tenant_id, template.campaign_id,
                                      template.batch_id, code)
                inserted += 1
        return inserted

    def rows_in_range(
        self, template: RowTemplate, first_id: int, last_id: int
    ) -> list[tuple[int, str]]:
        """The campaign's (id, code) rows with ids in ``[first_id, last_id]``."""
        return sorted((r.row_id, r.code) for r in self._campaign_rows(template.tenant_id,
                                                                       template.campaign_id)
                      if first_id <= r.row_id <= last_id)

    def batch_rows(
        self, batch: BatchRecord, after_id: int, limit: int
    ) -> list[tuple[int, str, int, int, str | None]]:
        """Up to ``limit`` rows of the batch with ids above ``after_id``, in id order."""
        rows = sorted((r for r in self._campaign_rows(batch.tenant_id, batch.campaign_id)
                       if r.batch_id == batch.batch_id and r.row_id > after_id),
                      key=lambda r: r.row_id)
        return [(r.row_id, r.code, r.status, r.used, r.user) for r in rows[:limit]]

    def delete_rows(self, tenant_id: str, campaign_id: str, ids: list[int]) -> int:
        """Delete the campaign's rows of these ids; rows deleted."""
        wanted = set(ids)
        gone = [k for k, r in self.rows.items()
                if (r.tenant_id, r.campaign_id) == (tenant_id, campaign_id)
                and r.row_id in wanted]
        for key in gone:
            del self.rows[key]
        return len(gone)

    def _campaign_rows(self, tenant_id: str, campaign_id: str) -> list[_Row]:
        return [r for r in self.rows.values()
                if (r.tenant_id, r.campaign_id) == (tenant_id, campaign_id)]
