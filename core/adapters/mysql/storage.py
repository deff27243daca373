"""The ``Storage`` port (``core.service_ports``) on MySQL: units of work over an engine.

``MySQLTx`` binds the SQL functions of the ``*_store`` modules to one open connection, so
domain code runs several of them in one transaction without holding a driver object.
Driver errors leave a block as the error hierarchy's (``engine.translate``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from core.adapters.mysql import (
    campaign_store,
    code_admin_store,
    code_store,
    export_store,
    tenant_store,
)
from core.adapters.mysql.engine import guarded_connection, translate
from core.codes.protection import ProtectedRows
from core.records import (
    BatchRecord,
    BoundCode,
    CampaignRecord,
    CodeQuery,
    CodeRecord,
    ExportBatchRecord,
    ExportMark,
    ExportRow,
    RowTemplate,
    TenantRecord,
    VoidCandidate,
    VoidTarget,
)
from schemas.events import TenantUpdated


class MySQLStorage:
    """Opens transactions on ``engine`` (implements ``Storage``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def begin(self, what: str) -> Iterator[MySQLTx]:
        """One transaction, committed at the end of the block."""
        with guarded_connection(self._engine, what, begin=True) as conn:
            yield MySQLTx(conn)

    @contextmanager
    def read(self, what: str) -> Iterator[MySQLTx]:
        """One connection for reads, rolled back at the end of the block."""
        with guarded_connection(self._engine, what) as conn:
            yield MySQLTx(conn)

    @contextmanager
    def begin_read_committed(self, what: str) -> Iterator[MySQLTx]:
        """One READ COMMITTED transaction, committed at the end of the block."""
        try:
            with self._engine.connect() as raw:
                conn = raw.execution_options(isolation_level="READ COMMITTED")
                with conn.begin():
                    yield MySQLTx(conn)
        except SQLAlchemyError as exc:
            raise translate(exc, what) from exc


class MySQLTx:
    """Every storage operation on one open connection (implements ``StoreTx``)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get_tenant(self, tenant_id: str, *, lock: bool = False) -> TenantRecord | None:
        return tenant_store.get_tenant(self._conn, tenant_id, lock=lock)

    def tenant_statuses(self, tenant_ids: list[str]) -> dict[str, str]:
        return tenant_store.statuses(self._conn, tenant_ids)

    def upsert_tenant_if_newer(self, event: TenantUpdated) -> bool:
        return tenant_store.upsert_if_newer(self._conn, event)

    def refresh_campaign_copies(self, tenant_id: str, name: str, type_: str) -> int:
        return tenant_store.refresh_campaign_copies(self._conn, tenant_id, name, type_)

    def reserved_codes(self, tenant_id: str) -> int:
        return tenant_store.reserved_codes(self._conn, tenant_id)

    def add_codes_issued(self, tenant_id: str, delta: int) -> None:
        return tenant_store.add_codes_issued(self._conn, tenant_id, delta)

    def get_campaign(
        self, campaign_id: str, *, tenant_id: str | None = None, lock: bool = False
    ) -> CampaignRecord | None:
        return campaign_store.get_campaign(self._conn, campaign_id, tenant_id=tenant_id, lock=lock)

    def insert_campaign(self, record: CampaignRecord) -> bool:
        try:
            campaign_store.insert_campaign(self._conn, record)
        except IntegrityError:
            return False
        return True

    def update_campaign_status(
        self, tenant_id: str, campaign_id: str, status: str, now: datetime
    ) -> bool:
        return campaign_store.update_status(self._conn, tenant_id, campaign_id, status, now)

    def add_requested(self, campaign_id: str, delta: int) -> None:
        return campaign_store.add_requested(self._conn, campaign_id, delta)

    def code_counts(self, tenant_id: str, campaign_id: str) -> dict[str, int]:
        return campaign_store.code_counts(self._conn, tenant_id, campaign_id)

    def tenants_of_campaign(self, campaign_id: str) -> list[str]:
        return campaign_store.tenants_of_campaign(self._conn, campaign_id)

    def insert_batch(self, record: BatchRecord) -> None:
        return code_store.insert_batch(self._conn, record)

    def get_batch(self, batch_id: str, *, lock: bool = False) -> BatchRecord | None:
        return code_store.get_batch(self._conn, batch_id, lock=lock)

    def campaign_batches(self, tenant_id: str, campaign_id: str) -> list[BatchRecord]:
        return code_store.campaign_batches(self._conn, tenant_id, campaign_id)

    def other_running_batches(self, tenant_id: str, batch_id: str) -> int:
        return code_store.other_running_batches(self._conn, tenant_id, batch_id)

    def tenant_has_other_codes(self, tenant_id: str, batch_id: str) -> bool:
        return code_store.tenant_has_other_codes(self._conn, tenant_id, batch_id)

    def finish_batch(self, batch_id: str, status: str, now: datetime) -> None:
        return code_store.finish_batch(self._conn, batch_id, status, now)

    def count_chunk(self, batch_id: str, count: int) -> bool:
        return code_store.count_chunk(self._conn, batch_id, count)

    def add_inserted(self, batch_id: str, delta: int) -> None:
        return code_store.add_inserted(self._conn, batch_id, delta)

    def reserve_code_ids(self, count: int) -> int:
        return code_store.reserve_code_ids(self._conn, count)

    def load_codes(self, template: RowTemplate, ids: Sequence[int], rows: ProtectedRows) -> int:
        return code_store.load_codes(self._conn, template, ids, rows)

    def rows_in_range(
        self, template: RowTemplate, first_id: int, last_id: int
    ) -> list[tuple[int, str]]:
        return code_store.rows_in_range(self._conn, template, first_id, last_id)

    def batch_rows(
        self, batch: BatchRecord, after_id: int, limit: int
    ) -> list[tuple[int, str, int, int, str | None]]:
        return code_store.batch_rows(self._conn, batch, after_id, limit)

    def batch_codes_in_use(self, batch: BatchRecord) -> int:
        return code_store.batch_codes_in_use(self._conn, batch)

    def delete_rows(self, tenant_id: str, campaign_id: str, ids: list[int]) -> int:
        return code_store.delete_rows(self._conn, tenant_id, campaign_id, ids)

    def generated_counts(self) -> dict[str, int]:
        return code_store.generated_counts(self._conn)

    def tenant_batch_rules(self, tenant_id: str) -> list[dict[str, Any]]:
        return code_store.tenant_batch_rules(self._conn, tenant_id)

    def insert_code_rows(self, template: RowTemplate, codes: list[str]) -> int:
        return code_store.insert_code_rows(self._conn, template, codes)

    def bind_code(
        self, tenant_id: str, campaign_id: str, code: str, user_id: str, now: datetime
    ) -> BoundCode | None:
        return code_admin_store.bind_code(self._conn, tenant_id, campaign_id, code, user_id, now)

    def bind_any_free(
        self, tenant_id: str, campaign_id: str, user_id: str, now: datetime
    ) -> BoundCode | None:
        return code_admin_store.bind_any_free(self._conn, tenant_id, campaign_id, user_id, now)

    def campaign_exists(self, tenant_id: str, campaign_id: str) -> bool:
        return code_admin_store.campaign_exists(self._conn, tenant_id, campaign_id)

    def list_codes(self, query: CodeQuery) -> list[CodeRecord]:
        return code_admin_store.list_codes(self._conn, query)

    def lock_voidable(self, target: VoidTarget, after_id: int, limit: int) -> list[VoidCandidate]:
        return code_admin_store.lock_voidable(self._conn, target, after_id, limit)

    def void_rows(self, tenant_id: str, rows: list[VoidCandidate], note: str) -> int:
        return code_admin_store.void_rows(self._conn, tenant_id, rows, note)

    def void_census(self, target: VoidTarget) -> dict[str, int]:
        return code_admin_store.void_census(self._conn, target)

    def count_exportable(self, tenant_id: str, campaign_id: str, account_id: str | None,
                         limit: int | None = None) -> int:
        return export_store.count_exportable(self._conn, tenant_id, campaign_id, account_id,
                                             limit)

    def lock_chunk(
        self, tenant_id: str, campaign_id: str, account_id: str | None, after_id: int, limit: int
    ) -> list[ExportRow]:
        return export_store.lock_chunk(
            self._conn, tenant_id, campaign_id, account_id, after_id, limit
        )

    def reserve_export_seq(self) -> int:
        return export_store.reserve_export_seq(self._conn)

    def mark_exported(self, mark: ExportMark, ids: list[int]) -> int:
        return export_store.mark_exported(self._conn, mark, ids)

    def insert_export_batch(self, record: ExportBatchRecord) -> None:
        return export_store.insert_export_batch(self._conn, record)

    def get_export_batch(self, export_id: str) -> ExportBatchRecord | None:
        return export_store.get_export_batch(self._conn, export_id)

    def free_codes_page(
        self, tenant_id: str, campaign_id: str, after_id: int, high_id: int, limit: int
    ) -> list[tuple[int, str]]:
        return export_store.free_codes_page(
            self._conn, tenant_id, campaign_id, after_id, high_id, limit
        )
