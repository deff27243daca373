"""Generation batches of a campaign: open (quota-checked), run or resume, and finish.

A batch is a ``code_batches`` row: RUNNING while chunks are committed (``inserted`` counts
them, in the same transaction), then DONE or ROLLED_BACK. Quota is reserved when the batch
is opened, under the tenant row lock: ``codes_issued`` (committed codes) plus what RUNNING
batches still owe plus the new request must fit ``code_quota``. Each committed chunk moves
its codes from "owed" to ``codes_issued``, so the sum stays put while a batch runs.

Redis ``ready`` marker: cleared while a batch runs (misses fall back to MySQL, because a
committed chunk reaches Redis a moment later) and set again at the end if the tenant had no
codes before or the marker was present, and no other batch of the tenant is running.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from core.codes import CodeCodec, iter_unique_batches
from core.codes.protection import CodeProtector
from core.errors import (
    PermanentError,
    QuotaExceeded,
    TenantSuspended,
    UnknownCampaign,
    UnknownTenant,
)
from core.generation.writer import BatchPlan, ProgressFn, write_chunks
from core.records import (
    DONE,
    RUNNING,
    BatchRecord,
    CachedCode,
    CampaignRecord,
    RowTemplate,
    TenantRecord,
)
from core.service_ports import CodeCache, Storage, StoreTx
from schemas.campaign import CampaignRule
from schemas.code_rule import CodeGenerateRule

#: Codes per MySQL transaction (and per Redis pipeline).
DEFAULT_CHUNK_SIZE = 50_000
#: Rows per page when reloading a resumed batch into Redis.
_RESTORE_PAGE = 20_000


@dataclass(frozen=True)
class BatchResult:
    """What a generation run did."""

    batch_id: str
    tenant_id: str
    campaign_id: str
    requested: int
    inserted: int
    written_now: int
    collisions: int
    seconds: float
    status: str

    @property
    def codes_per_second(self) -> float:
        """Codes committed by this run per second of wall time."""
        return self.written_now / self.seconds if self.seconds > 0 else 0.0


def utc_now_naive() -> datetime:
    """Now as naive UTC (the DATETIME convention of the schema)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_batch_id() -> str:
    """A fresh batch id."""
    return f"b{uuid.uuid4().hex}"


def check_tenant(tenant: TenantRecord | None, tenant_id: str) -> TenantRecord:
    """The tenant, if it exists and is ACTIVE (UnknownTenant / TenantSuspended otherwise)."""
    if tenant is None:
        raise UnknownTenant(f"tenant {tenant_id} is not registered")
    if tenant.status != "ACTIVE":
        raise TenantSuspended(f"tenant {tenant_id} is {tenant.status}, not ACTIVE")
    return tenant


def open_batch(
    tx: StoreTx,
    tenant: TenantRecord,
    campaign_id: str,
    count: int,
    account_id: str | None,
    rule: CodeGenerateRule,
) -> BatchRecord:
    """Reserve quota for ``count`` codes and insert a RUNNING batch (tenant row locked).

    The batch stores ``rule``: every run of it (a resume too) generates in that format, and
    redemption's offline check accepts codes of every batch's rule.
    """
    reserved = tx.reserved_codes(tenant.tenant_id)
    if tenant.codes_issued + reserved + count > tenant.code_quota:
        raise QuotaExceeded(
            f"tenant {tenant.tenant_id} quota is {tenant.code_quota:,} codes: "
            f"{tenant.codes_issued:,} issued + {reserved:,} reserved + {count:,} requested "
            f"= {tenant.codes_issued + reserved + count:,}"
        )
    record = BatchRecord(new_batch_id(), tenant.tenant_id, campaign_id, count, 0,
                         RUNNING, account_id, utc_now_naive(), None,
                         rule.model_dump(mode="json", by_alias=True))
    tx.insert_batch(record)
    return record


def stored_rule(campaign: CampaignRecord) -> CodeGenerateRule:
    """The code rule in a campaign's stored rule JSON."""
    return CampaignRule.model_validate(campaign.rule).code


def batch_rule(batch: BatchRecord, campaign: CampaignRecord) -> CodeGenerateRule:
    """The code rule a batch generates with: its own, or (batches stored before migration
    10) its campaign's."""
    if batch.rule is None:
        return stored_rule(campaign)
    return CodeGenerateRule.model_validate(batch.rule)


@dataclass(frozen=True)
class BatchRunner:
    """Opens and runs generation batches over the storage and cache ports."""

    store: Storage
    cache: CodeCache
    secret_for: Callable[[str], bytes]
    """The code-signing secret of a tenant."""
    protector: CodeProtector
    """Stores each code as its lookup, seal and mask (core/codes/protection.py)."""
    check_keys: Callable[[CodeProtector], None] | None = None
    """Refuses keys other than the ones the database's codes were protected with
    (``code_key_store.verify_code_keys``), before a batch writes anything."""

    def start_batch(
        self,
        tenant_id: str,
        campaign_id: str,
        count: int,
        account_id: str | None,
        rule: CodeGenerateRule | None = None,
    ) -> BatchRecord:
        """Open a batch of ``count`` more codes for an existing campaign (quota-checked), in
        ``rule``'s format (default: the campaign's rule)."""
        with self.store.begin("open batch") as tx:
            tenant = check_tenant(tx.get_tenant(tenant_id, lock=True), tenant_id)
            campaign = tx.get_campaign(campaign_id, tenant_id=tenant_id)
            if campaign is None:
                raise UnknownCampaign(f"tenant {tenant_id} has no campaign {campaign_id}")
            tx.add_requested(campaign_id, count)
            return open_batch(tx, tenant, campaign_id, count, account_id,
                              rule or stored_rule(campaign))

    def run_batch(
        self,
        batch_id: str,
        *,
        progress: ProgressFn | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        chunks: Iterable[list[str]] | None = None,
    ) -> BatchResult:
        """Generate and persist the codes a RUNNING batch still owes (a fresh run or a
        resume), in the batch's stored rule.

        ``chunks`` replaces the generator (tests inject known codes; they must add up to
        what the batch still owes).
        """
        started = time.perf_counter()
        batch, campaign = self._load(batch_id)
        if batch.status != RUNNING:
            raise PermanentError(f"batch {batch_id} is {batch.status}; only RUNNING batches run")
        rule = batch_rule(batch, campaign)
        codec = CodeCodec(rule, self.secret_for(batch.tenant_id), batch.tenant_id)
        self.cache.write_campaign(campaign)
        had_ready = self.cache.clear_ready(batch.tenant_id)
        with self.store.read("check tenant codes") as tx:
            empty = not tx.tenant_has_other_codes(batch.tenant_id, batch.batch_id)
        if batch.inserted:
            self._restore(batch, campaign)
        remaining = batch.requested - batch.inserted
        if self.check_keys is not None:
            self.check_keys(self.protector)
        plan = BatchPlan(_template(batch, campaign, self.protector.active_id),
                         campaign.use_limit, batch.requested, batch.inserted, self.protector)
        source = (chunks if chunks is not None
                  else iter_unique_batches(codec, remaining, chunk_size))
        outcome = write_chunks(self.store, self.cache, plan, source,
                               lambda n: next(iter_unique_batches(codec, n, n)), progress)
        final, others = self._finish(batch_id)
        if (had_ready or empty) and others == 0:
            self.cache.set_ready(batch.tenant_id)
        return BatchResult(batch_id, batch.tenant_id, batch.campaign_id, batch.requested,
                           final.inserted, outcome.written, outcome.collisions,
                           time.perf_counter() - started, final.status)

    def _load(self, batch_id: str) -> tuple[BatchRecord, CampaignRecord]:
        with self.store.read("load batch") as tx:
            batch = tx.get_batch(batch_id)
            if batch is None:
                raise PermanentError(f"no generation batch {batch_id}")
            campaign = tx.get_campaign(batch.campaign_id)
            if campaign is None:
                raise UnknownCampaign(f"batch {batch_id}: campaign {batch.campaign_id} is gone")
            return batch, campaign

    def _restore(self, batch: BatchRecord, campaign: CampaignRecord) -> None:
        """Reload the codes an interrupted run committed (some may not have reached Redis)."""
        after = 0
        while True:
            with self.store.read("read batch rows") as tx:
                rows = tx.batch_rows(batch, after, _RESTORE_PAGE)
            if not rows:
                return
            self.cache.restore_codes(batch.tenant_id, (
                CachedCode(code, campaign.campaign_id, campaign.use_limit, used, st, user or "")
                for _i, code, st, used, user in rows))
            after = rows[-1][0]

    def _finish(self, batch_id: str) -> tuple[BatchRecord, int]:
        """Mark the batch DONE; returns it and how many other batches of the tenant still
        run."""
        with self.store.begin("finish batch") as tx:
            batch = tx.get_batch(batch_id, lock=True)
            assert batch is not None
            if batch.status == RUNNING and batch.inserted >= batch.requested:
                tx.finish_batch(batch_id, DONE, utc_now_naive())
                batch = tx.get_batch(batch_id)
                assert batch is not None
            return batch, tx.other_running_batches(batch.tenant_id, batch_id)


def _template(batch: BatchRecord, campaign: CampaignRecord, key_id: str) -> RowTemplate:
    return RowTemplate(batch.tenant_id, campaign.product_code, campaign.campaign_id,
                       batch.batch_id, campaign.use_limit, batch.account_id, utc_now_naive(),
                       campaign.valid_from, campaign.valid_until, key_id)
