"""Ports of the services outside redemption: what campaigns, generation, listing,
allocation, voiding, export and the tenant registry need from storage, the cache and the
broker. Protocols only; the MySQL, Redis and Kafka adapters under ``core.adapters``
implement them and ``core.bootstrap`` wires them (see docs/internals.md, "Service ports").

Storage is a unit of work: ``Storage.begin(what)`` yields a ``StoreTx`` whose calls all run
in one transaction, committed when the block ends and rolled back when it raises; storage
errors come out as ``StorageUnavailable`` / ``PermanentError`` naming ``what``. Domain code
keeps its rules (quota, conflicts, batch states) and calls the transaction's operations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.codes.protection import CodeProtector, ProtectedRows
from core.records import (
    BatchRecord,
    BoundCode,
    CachedCode,
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


class TenantTx(Protocol):
    """The tenant registry and its quota counters."""

    def get_tenant(self, tenant_id: str, *, lock: bool = False) -> TenantRecord | None:
        """The tenant's row (``lock``: SELECT ... FOR UPDATE, held until the transaction ends)."""
        ...

    def tenant_statuses(self, tenant_ids: list[str]) -> dict[str, str]:
        """The status of each known tenant among ``tenant_ids``, in one query (unknown: absent)."""
        ...

    def upsert_tenant_if_newer(self, event: TenantUpdated) -> bool:
        """Store the event's state unless a same-or-newer version is stored; True if applied."""
        ...

    def refresh_campaign_copies(self, tenant_id: str, name: str, type_: str) -> int:
        """Update the redundant tenant name/type on the tenant's campaigns; rows touched."""
        ...

    def reserved_codes(self, tenant_id: str) -> int:
        """Codes promised to RUNNING batches of the tenant but not inserted yet."""
        ...

    def add_codes_issued(self, tenant_id: str, delta: int) -> None:
        """Move the tenant's issued-codes counter by ``delta`` (negative on rollback)."""
        ...


class CampaignTx(Protocol):
    """Campaign rows."""

    def get_campaign(
        self, campaign_id: str, *, tenant_id: str | None = None, lock: bool = False
    ) -> CampaignRecord | None:
        """The campaign (of ``tenant_id`` when given), optionally locked FOR UPDATE."""
        ...

    def insert_campaign(self, record: CampaignRecord) -> bool:
        """Insert a new campaign row; False (nothing stored) when its id is taken."""
        ...

    def update_campaign_status(
        self, tenant_id: str, campaign_id: str, status: str, now: datetime
    ) -> bool:
        """Set a campaign's status; False when the tenant has no such campaign."""
        ...

    def add_requested(self, campaign_id: str, delta: int) -> None:
        """Account for codes requested for a campaign after its creation."""
        ...

    def code_counts(self, tenant_id: str, campaign_id: str) -> dict[str, int]:
        """Counts of the campaign's codes by status, plus ``exported`` and ``issued``."""
        ...

    def tenants_of_campaign(self, campaign_id: str) -> list[str]:
        """The tenants holding a campaign of this id (sorted; one at most while the id is the
        table's primary key, but callers must not rely on the schema for that)."""
        ...


class BatchLedger(Protocol):
    """Generation batches and the code rows they insert: what the batch writer, resume and
    rollback use (an in-memory fake in ``tests.fakes`` follows the same contract)."""

    def insert_batch(self, record: BatchRecord) -> None:
        """Insert a batch row (normally RUNNING with ``inserted`` 0)."""
        ...

    def get_batch(self, batch_id: str, *, lock: bool = False) -> BatchRecord | None:
        """A batch by id, optionally locked FOR UPDATE (serialises writers of one batch)."""
        ...

    def campaign_batches(self, tenant_id: str, campaign_id: str) -> list[BatchRecord]:
        """Every batch of a campaign, oldest first."""
        ...

    def other_running_batches(self, tenant_id: str, batch_id: str) -> int:
        """How many other batches of the tenant are still RUNNING."""
        ...

    def finish_batch(self, batch_id: str, status: str, now: datetime) -> None:
        """Mark a batch DONE or ROLLED_BACK."""
        ...

    def count_chunk(self, batch_id: str, count: int) -> bool:
        """Count a chunk's ``count`` codes in a RUNNING batch, unless that would exceed what it
        requested; False (nothing changed) otherwise. Locks the batch row until commit."""
        ...

    def add_inserted(self, batch_id: str, delta: int) -> None:
        """Count codes committed (or, negative, removed) for a batch."""
        ...

    def load_codes(self, template: RowTemplate, ids: Sequence[int], rows: ProtectedRows) -> int:
        """Insert rows of ``ids`` and their lookup, seal and mask (seals under
        ``template.key_id``), skipping lookups the tenant already has; returns rows
        inserted."""
        ...

    def rows_in_range(
        self, template: RowTemplate, first_id: int, last_id: int
    ) -> list[tuple[int, str]]:
        """The chunk's (id, code) rows with ids in ``[first_id, last_id]`` (a primary-key range)."""
        ...

    def batch_rows(
        self, batch: BatchRecord, after_id: int, limit: int
    ) -> list[tuple[int, str, int, int, str | None]]:
        """Up to ``limit`` (id, code, status, used, user) of a batch, ids > ``after_id``."""
        ...

    def delete_rows(self, tenant_id: str, campaign_id: str, ids: list[int]) -> int:
        """Delete a campaign's code rows by id; returns rows deleted."""
        ...


class CodeTx(BatchLedger, Protocol):
    """Generation batches and code rows: the ledger, and the reads around it."""

    def tenant_has_other_codes(self, tenant_id: str, batch_id: str) -> bool:
        """Whether the tenant has committed codes outside this batch."""
        ...

    def reserve_code_ids(self, count: int) -> int:
        """The first of ``count`` consecutive row ids nobody else will get (the counter row is
        locked until ``conn``'s transaction ends: reserve in a transaction of its own when other
        writers must not wait)."""
        ...

    def batch_codes_in_use(self, batch: BatchRecord) -> int:
        """Codes of a batch that were redeemed, exported or bound to a user (block a rollback)."""
        ...

    def generated_counts(self) -> dict[str, int]:
        """Codes ever generated, by code type, over every tenant's batches (a batch without a
        rule of its own has its campaign's code type)."""
        ...

    def tenant_batch_rules(self, tenant_id: str) -> list[dict[str, Any]]:
        """The distinct code rules stored on a tenant's batches that may hold codes (not rolled
        back); batches without a rule of their own use their campaign's and are not listed."""
        ...

    def insert_code_rows(self, template: RowTemplate, codes: list[str]) -> int:
        """Plain multi-row INSERT IGNORE of codes (small inserts and tests); rows inserted."""
        ...


class CodeAdminTx(Protocol):
    """The operator side of codes: allocation, listing, voiding."""

    def bind_code(
        self, tenant_id: str, campaign_id: str, code: str, user_id: str, now: datetime
    ) -> BoundCode | None:
        """Bind one named code (popped from the pool); None if it is no longer free."""
        ...

    def bind_any_free(
        self, tenant_id: str, campaign_id: str, user_id: str, now: datetime
    ) -> BoundCode | None:
        """Bind the lowest free code no other transaction holds (the MySQL fallback)."""
        ...

    def campaign_exists(self, tenant_id: str, campaign_id: str) -> bool:
        """Whether the tenant has this campaign."""
        ...

    def list_codes(self, query: CodeQuery) -> list[CodeRecord]:
        """The codes ``query`` selects, in id order (a keyset page)."""
        ...

    def lock_voidable(self, target: VoidTarget, after_id: int, limit: int) -> list[VoidCandidate]:
        """Lock up to ``limit`` never-redeemed codes of ``target``, ids > ``after_id``."""
        ...

    def void_rows(self, tenant_id: str, rows: list[VoidCandidate], note: str) -> int:
        """Set status 3 on locked codes and append ``note`` to their remark (one statement per
        campaign: rows are addressed by the primary key (tenant_id, campaign_id, id))."""
        ...

    def void_census(self, target: VoidTarget) -> dict[str, int]:
        """Codes of ``target`` that were not voidable: voided, partly used, used."""
        ...


class ExportTx(Protocol):
    """Code exports: eligible codes, marking them, the audit row."""

    def count_exportable(self, tenant_id: str, campaign_id: str, account_id: str | None,
                         limit: int | None = None) -> int:
        """Codes an export could take now (``account_id`` None: any generator's codes),
        counting no further than ``limit`` when given."""
        ...

    def lock_chunk(
        self, tenant_id: str, campaign_id: str, account_id: str | None, after_id: int, limit: int
    ) -> list[ExportRow]:
        """Lock up to ``limit`` eligible codes with ids above ``after_id``, skipping locked ones."""
        ...

    def reserve_export_seq(self) -> int:
        """The number of a new export (reserve it in a transaction of its own)."""
        ...

    def mark_exported(self, mark: ExportMark, ids: list[int]) -> int:
        """Mark the locked codes ``ids`` exported with ``mark``'s export number; returns rows
        changed (who and when are the export's audit row)."""
        ...

    def insert_export_batch(self, record: ExportBatchRecord) -> None:
        """Write the audit row (in the same transaction that marks the codes)."""
        ...

    def get_export_batch(self, export_id: str) -> ExportBatchRecord | None:
        """The audit row of an export, if it was committed."""
        ...

    def free_codes_page(
        self, tenant_id: str, campaign_id: str, after_id: int, high_id: int, limit: int
    ) -> list[tuple[int, str]]:
        """Up to ``limit`` eligible (id, code) with ``after_id < id <= high_id`` (pool repair)."""
        ...


class StoreTx(TenantTx, CampaignTx, CodeTx, CodeAdminTx, ExportTx, Protocol):
    """Every storage operation, inside one open transaction (or read-only connection)."""


class Storage(Protocol):
    """Opens units of work on the source-of-truth database."""

    def begin(self, what: str) -> AbstractContextManager[StoreTx]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        ...

    def read(self, what: str) -> AbstractContextManager[StoreTx]:
        """A connection for reads (its implicit transaction is rolled back at the end)."""
        ...

    def begin_read_committed(self, what: str) -> AbstractContextManager[StoreTx]:
        """One READ COMMITTED transaction: no gap locks, rows skipped stay unlocked
        (allocation and exports, which lock rows ``FOR UPDATE SKIP LOCKED``)."""
        ...


class CodeCache(Protocol):
    """The redemption cache as generation and campaign changes write it."""

    def write_campaign(self, campaign: CampaignRecord) -> None:
        """Write (or rewrite) the campaign's cached fields (status, window, products...)."""
        ...

    def write_codes(
        self, tenant_id: str, campaign_id: str, use_limit: int, codes: list[str]
    ) -> None:
        """Cache new, unused codes and put them into the allocation pool."""
        ...

    def restore_codes(self, tenant_id: str, states: Iterable[CachedCode]) -> None:
        """Cache committed codes with their state (pooling the free ones)."""
        ...

    def remove_codes(self, tenant_id: str, campaign_id: str, codes: list[str]) -> None:
        """Forget codes (and take them out of the pool)."""
        ...

    def clear_ready(self, tenant_id: str) -> bool:
        """Drop the tenant's "every code is cached" marker; whether it was set."""
        ...

    def set_ready(self, tenant_id: str) -> None:
        """Set the tenant's "every code is cached" marker (a cache miss is then final)."""
        ...


class AllocationPool(Protocol):
    """The per-campaign pool of free codes and the cached code entries it relates to."""

    def pop(self, tenant_id: str, campaign_id: str) -> str | None:
        """Take one code out of the pool (None when it is empty)."""
        ...

    def add(self, tenant_id: str, campaign_id: str, codes: Sequence[str]) -> None:
        """Put codes (back) into the pool."""
        ...

    def remove(self, tenant_id: str, campaign_id: str, codes: Sequence[str]) -> None:
        """Take codes out of the pool (exported or voided: never to be allocated)."""
        ...

    def write_states(self, tenant_id: str, states: Iterable[CachedCode]) -> None:
        """Rewrite cached code entries with the given states."""
        ...


class EventSink(Protocol):
    """Sends one event and waits until the broker has it (CLI-side, blocking)."""

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Produce and flush; raises BrokerUnavailable / DeliveryFailed."""
        ...


@dataclass(frozen=True)
class CodePorts:
    """What allocation and voiding use: storage, the allocation pool, and the protector
    that turns a typed code into its lookup and opens a bound code's seal."""

    store: Storage
    pool: AllocationPool
    protector: CodeProtector
