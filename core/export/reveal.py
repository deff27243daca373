"""The step between the locked rows and the file: open each code's seal, build the rows.

It runs wherever the export's sink runs (``core/export/pipe.py``): on the caller's thread,
or with ``export_writer_thread`` on the writer's thread, where this client CPU (one AES-GCM
open per code, the row tuples, the file's formatting) overlaps the server locking and
marking the next chunks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from core.codes.protection import CodeProtector
from core.errors import TamperedCode, UnknownCodeKey
from core.export.phases import PhaseClock
from core.export.writers import RowWriter
from core.records import ExportRow

#: Rows opened and written between two yields of the GIL. On the writer thread a chunk is
#: ~20 ms of CPU; the exporting thread, back from MariaDB, would wait for the GIL up to the
#: 5 ms switch interval each time (three times per chunk). A yield per slice (~2 ms of
#: work) lets it in sooner; on the caller's thread it costs a system call per slice.
SLICE = 1_000


@dataclass
class RevealingWriter:
    """Takes chunks of locked :class:`ExportRow`, writes their full codes to ``writer``."""

    writer: RowWriter
    protector: CodeProtector
    tenant_id: str
    campaign_id: str
    reward: str
    export_id: str
    clock: PhaseClock

    def write_rows(self, rows: Sequence[ExportRow]) -> None:
        """Open the chunk's seals, then append its rows to the file, a slice at a time."""
        for start in range(0, len(rows), SLICE):
            self._write_slice(rows[start:start + SLICE])
            time.sleep(0)  # let a thread that waits for the GIL (the export's queries) in

    def _write_slice(self, rows: Sequence[ExportRow]) -> None:
        with self.clock.phase("reveal"):
            codes = reveal_chunk(self.protector, self.tenant_id, self.export_id, rows)
        with self.clock.phase("write"):
            campaign, reward = self.campaign_id, self.reward
            self.writer.write_rows([(code, campaign, reward, r.valid_from, r.expired_at)
                                    for code, r in zip(codes, rows, strict=True)])

    def close(self) -> None:
        """Complete the file (not fsynced)."""
        with self.clock.phase("close file"):
            self.writer.close()


def reveal_chunk(protector: CodeProtector, tenant_id: str, export_id: str,
                 rows: Sequence[ExportRow]) -> list[str]:
    """The full codes of a chunk (one AES-GCM open per code). A seal that does not open
    (KeyMaterialError, TamperedCode) fails the export, naming the row: the transaction rolls
    back and the file is discarded, so nothing is written."""
    reveal = protector.reveal
    try:
        return [reveal(tenant_id, r.code, r.key_id, r.sealed) for r in rows]
    except (TamperedCode, UnknownCodeKey):
        for r in rows:
            reveal(tenant_id, r.code, r.key_id, r.sealed,
                   where=f"tenant {tenant_id} code row {r.row_id}, export {export_id}")
        raise
