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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from sqlalchemy.engine import Connection

from core.adapters.mysql import campaign_store, code_store
from core.adapters.mysql.campaign_store import CampaignRecord
from core.adapters.mysql.code_key_store import verify_code_keys
from core.adapters.mysql.code_store import BatchRecord, RowTemplate
from core.adapters.mysql.engine import guarded
from core.adapters.mysql.tenant_store import TenantRecord, get_tenant, reserved_codes
from core.adapters.redis.code_loader import CampaignCacheEntry, CodeLoader
from core.adapters.redis.keys import eligibility_field
from core.bootstrap import Container
from core.codes import CodeCodec, iter_unique_batches
from core.errors import (
    PermanentError,
    QuotaExceeded,
    TenantSuspended,
    UnknownCampaign,
    UnknownTenant,
)
from core.generation.writer import BatchPlan, ProgressFn, write_chunks
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
    conn: Connection,
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
    reserved = reserved_codes(conn, tenant.tenant_id)
    if tenant.codes_issued + reserved + count > tenant.code_quota:
        raise QuotaExceeded(
            f"tenant {tenant.tenant_id} quota is {tenant.code_quota:,} codes: "
            f"{tenant.codes_issued:,} issued + {reserved:,} reserved + {count:,} requested "
            f"= {tenant.codes_issued + reserved + count:,}"
        )
    record = BatchRecord(new_batch_id(), tenant.tenant_id, campaign_id, count, 0,
                         code_store.RUNNING, account_id, utc_now_naive(), None,
                         rule.model_dump(mode="json", by_alias=True))
    code_store.insert_batch(conn, record)
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


def campaign_cache_entry(campaign: CampaignRecord) -> CampaignCacheEntry:
    """The Redis campaign hash fields of a campaign row."""
    rule = CampaignRule.model_validate(campaign.rule)
    return CampaignCacheEntry(campaign.tenant_id, campaign.campaign_id, campaign.status,
                              campaign.valid_from, campaign.valid_until,
                              list(rule.applicable_products), campaign.per_user_limit,
                              eligibility_field(rule.reward_rules))


def start_batch(
    container: Container,
    tenant_id: str,
    campaign_id: str,
    count: int,
    account_id: str | None,
    rule: CodeGenerateRule | None = None,
) -> BatchRecord:
    """Open a batch of ``count`` more codes for an existing campaign (quota-checked), in
    ``rule``'s format (default: the campaign's rule)."""

    def work() -> BatchRecord:
        with container.engine.begin() as conn:
            tenant = check_tenant(get_tenant(conn, tenant_id, lock=True), tenant_id)
            campaign = campaign_store.get_campaign(conn, campaign_id, tenant_id=tenant_id)
            if campaign is None:
                raise UnknownCampaign(f"tenant {tenant_id} has no campaign {campaign_id}")
            campaign_store.add_requested(conn, campaign_id, count)
            return open_batch(conn, tenant, campaign_id, count, account_id,
                              rule or stored_rule(campaign))

    return guarded("open batch", work)


def run_batch(
    container: Container,
    batch_id: str,
    *,
    progress: ProgressFn | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks: Iterable[list[str]] | None = None,
) -> BatchResult:
    """Generate and persist the codes a RUNNING batch still owes (a fresh run or a resume),
    in the batch's stored rule.

    ``chunks`` replaces the generator (tests inject known codes; they must add up to what the
    batch still owes).
    """
    started = time.perf_counter()
    batch, campaign = _load(container, batch_id)
    if batch.status != code_store.RUNNING:
        raise PermanentError(f"batch {batch_id} is {batch.status}; only RUNNING batches run")
    rule = batch_rule(batch, campaign)
    codec = CodeCodec(rule, container.settings.code_secret_for(batch.tenant_id), batch.tenant_id)
    loader = CodeLoader(container.redis, container.keys)
    loader.write_campaign(campaign_cache_entry(campaign))
    had_ready = loader.clear_ready(batch.tenant_id)
    empty = not guarded("check tenant codes", lambda: _tenant_has_codes(container, batch))
    if batch.inserted:
        _restore(container, loader, batch, campaign)
    remaining = batch.requested - batch.inserted
    protector = container.settings.code_protector
    verify_code_keys(container.engine, protector)
    plan = BatchPlan(_template(batch, campaign, protector.active_id), campaign.use_limit,
                     batch.requested, batch.inserted, protector)
    source = chunks if chunks is not None else iter_unique_batches(codec, remaining, chunk_size)
    outcome = write_chunks(container.engine, loader, plan, source,
                           lambda n: next(iter_unique_batches(codec, n, n)), progress)
    final = _finish(container, batch_id)
    if (had_ready or empty) and final[1] == 0:
        loader.set_ready(batch.tenant_id)
    return BatchResult(batch_id, batch.tenant_id, batch.campaign_id, batch.requested,
                       final[0].inserted, outcome.written, outcome.collisions,
                       time.perf_counter() - started, final[0].status)


def _load(container: Container, batch_id: str) -> tuple[BatchRecord, CampaignRecord]:
    def work() -> tuple[BatchRecord, CampaignRecord]:
        with container.engine.connect() as conn:
            batch = code_store.get_batch(conn, batch_id)
            if batch is None:
                raise PermanentError(f"no generation batch {batch_id}")
            campaign = campaign_store.get_campaign(conn, batch.campaign_id)
            if campaign is None:
                raise UnknownCampaign(f"batch {batch_id}: campaign {batch.campaign_id} is gone")
            return batch, campaign

    return guarded("load batch", work)


def _tenant_has_codes(container: Container, batch: BatchRecord) -> bool:
    with container.engine.connect() as conn:
        return code_store.tenant_has_other_codes(conn, batch.tenant_id, batch.batch_id)


def _template(batch: BatchRecord, campaign: CampaignRecord, key_id: str) -> RowTemplate:
    return RowTemplate(batch.tenant_id, campaign.product_code, campaign.campaign_id,
                       batch.batch_id, campaign.use_limit, batch.account_id, utc_now_naive(),
                       campaign.valid_from, campaign.valid_until, key_id)


def _restore(
    container: Container, loader: CodeLoader, batch: BatchRecord, campaign: CampaignRecord
) -> None:
    """Reload the codes an interrupted run committed (some may not have reached Redis)."""
    after = 0
    while rows := guarded("read batch rows", partial(_page, container, batch, after)):
        loader.restore_codes(batch.tenant_id, campaign.campaign_id, campaign.use_limit,
                             ((code, st, used, user) for _i, code, st, used, user in rows))
        after = rows[-1][0]


def _page(
    container: Container, batch: BatchRecord, after_id: int
) -> list[tuple[int, str, int, int, str | None]]:
    with container.engine.connect() as conn:
        return code_store.batch_rows(conn, batch, after_id, _RESTORE_PAGE)


def _finish(container: Container, batch_id: str) -> tuple[BatchRecord, int]:
    """Mark the batch DONE; returns it and how many other batches of the tenant still run."""

    def work() -> tuple[BatchRecord, int]:
        with container.engine.begin() as conn:
            batch = code_store.get_batch(conn, batch_id, lock=True)
            assert batch is not None
            if batch.status == code_store.RUNNING and batch.inserted >= batch.requested:
                code_store.finish_batch(conn, batch_id, code_store.DONE, utc_now_naive())
                batch = code_store.get_batch(conn, batch_id)
                assert batch is not None
            others = code_store.other_running_batches(conn, batch.tenant_id, batch_id)
            return batch, others

    return guarded("finish batch", work)
