"""The back office's read views (``core.backoffice.ports.BackOfficeViews``) on MySQL: each
call reads on a connection of its own and leaves driver errors as the error hierarchy's."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy.engine import Connection, Engine

from core.adapters.mysql import backoffice_store, code_admin_store
from core.adapters.mysql.engine import guarded_connection
from core.backoffice.rows import (
    CampaignCounts,
    CampaignRow,
    RedemptionRow,
)
from core.records import CodeQuery, CodeRecord, ExportBatchRecord


class MySQLBackOfficeViews:
    """The back office's read queries over ``engine`` (implements ``BackOfficeViews``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _read(self, what: str) -> AbstractContextManager[Connection]:
        return guarded_connection(self._engine, what)

    def list_campaigns(
        self, tenant_id: str | None, *, status: str | None, search: str | None, limit: int
    ) -> list[CampaignRow]:
        with self._read("list campaigns") as conn:
            return backoffice_store.list_campaigns(
                conn, tenant_id, status=status, search=search, limit=limit
            )

    def tenant_ids(self) -> list[str]:
        with self._read("tenant ids") as conn:
            return backoffice_store.tenant_ids(conn)

    def campaign_counts(
        self, tenant_id: str | None, campaign_id: str | None = None
    ) -> list[CampaignCounts]:
        with self._read("campaign counts") as conn:
            return backoffice_store.campaign_counts(conn, tenant_id, campaign_id)

    def campaign_names(self, tenant_id: str | None) -> dict[str, str]:
        with self._read("campaign names") as conn:
            return backoffice_store.campaign_names(conn, tenant_id)

    def redemptions_per_bucket(
        self, tenant_id: str | None, since: datetime, bucket_format: str
    ) -> dict[str, int]:
        with self._read("redemptions per bucket") as conn:
            return backoffice_store.redemptions_per_bucket(conn, tenant_id, since, bucket_format)

    def outcome_mix(self, tenant_id: str | None, since: datetime) -> dict[str, int]:
        with self._read("outcome mix") as conn:
            return backoffice_store.outcome_mix(conn, tenant_id, since)

    def find_code(self, tenant_id: str, code: str, plain: str = "") -> CodeRecord | None:
        with self._read("find code") as conn:
            return backoffice_store.find_code(conn, tenant_id, code, plain)

    def code_by_row(self, tenant_id: str, campaign_id: str, row_id: int) -> CodeRecord | None:
        with self._read("code by row") as conn:
            return backoffice_store.code_by_row(conn, tenant_id, campaign_id, row_id)

    def redemptions_of(self, tenant_id: str, code: str, plain: str = "") -> list[RedemptionRow]:
        with self._read("redemptions of") as conn:
            return backoffice_store.redemptions_of(conn, tenant_id, code, plain)

    def recorded_grants(self, redemption_ids: list[str]) -> dict[str, datetime]:
        with self._read("recorded grants") as conn:
            return backoffice_store.recorded_grants(conn, redemption_ids)

    def export_history(
        self, tenant_id: str | None, campaign_id: str | None, limit: int = 100
    ) -> list[ExportBatchRecord]:
        with self._read("export history") as conn:
            return backoffice_store.export_history(conn, tenant_id, campaign_id, limit)

    def codes_window(self, query: CodeQuery) -> list[CodeRecord]:
        with self._read("codes window") as conn:
            return code_admin_store.list_codes(conn, query)

    def code_id_range(self, tenant_id: str, campaign_id: str) -> tuple[int, int]:
        with self._read("code id range") as conn:
            return backoffice_store.code_id_range(conn, tenant_id, campaign_id)
