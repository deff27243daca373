"""Generating more codes for a campaign, rolling a batch back, and campaign code statistics."""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.adapters.mysql import campaign_store, code_store
from core.adapters.mysql.engine import guarded
from core.adapters.mysql.tenant_store import add_codes_issued
from core.adapters.redis.code_loader import CodeLoader
from core.bootstrap import Container
from core.codes import assert_code_space, describe_odds, guess_odds, rule_code_space
from core.errors import DomainRuleViolation, PermanentError, UnknownCampaign
from core.generation.batches import (
    DEFAULT_CHUNK_SIZE,
    BatchResult,
    run_batch,
    start_batch,
    stored_rule,
    utc_now_naive,
)
from core.generation.writer import ProgressFn
from schemas.code_rule import CodeGenerateRule

#: Rows deleted per rollback transaction.
ROLLBACK_PAGE = 10_000


@dataclass(frozen=True)
class CampaignStats:
    """A campaign's codes by state, and how guessable they are."""

    tenant_id: str
    campaign_id: str
    issued: int
    unused: int
    claimed: int
    granted: int
    voided: int
    exported: int
    code_space: int
    guess_odds: float
    guess_odds_text: str


def generate_codes(
    container: Container,
    tenant_id: str,
    campaign_id: str,
    count: int,
    *,
    rule: CodeGenerateRule | None = None,
    account_id: str | None = None,
    progress: ProgressFn | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> BatchResult:
    """Add ``count`` codes to a campaign in a new batch (campaign rule unless ``rule``; the
    batch stores the rule it uses)."""
    if count <= 0:
        raise DomainRuleViolation("count must be positive")
    campaign = _campaign(container, tenant_id, campaign_id)
    rule = rule or stored_rule(campaign)
    existing = campaign_stats(container, tenant_id, campaign_id).issued
    assert_code_space(rule, count, existing=existing)
    batch = start_batch(container, tenant_id, campaign_id, count, account_id, rule)
    return run_batch(container, batch.batch_id, progress=progress, chunk_size=chunk_size)


def resume_batch(
    container: Container, batch_id: str, *, progress: ProgressFn | None = None
) -> BatchResult:
    """Finish an interrupted RUNNING batch: the codes it still owes, no duplicates, in the
    rule the batch was started with."""
    return run_batch(container, batch_id, progress=progress)


def rollback_batch(
    container: Container, batch_id: str, *, progress: ProgressFn | None = None
) -> BatchResult:
    """Remove a batch's codes from MySQL and Redis and mark it ROLLED_BACK (re-runnable).

    Refused when any of its codes was redeemed, exported or bound to a user. The batch is
    marked first, so a writer still running stops at its next chunk.
    """
    started = time.perf_counter()
    batch = guarded("mark batch rolled back", lambda: _mark_rolled_back(container, batch_id))
    loader = CodeLoader(container.redis, container.keys)
    had_ready = loader.clear_ready(batch.tenant_id)
    removed = 0
    while page := guarded("roll back page", lambda: _delete_page(container, loader, batch_id)):
        removed += page
        if progress is not None:
            progress(removed, batch.inserted)
    others = guarded("count running batches", lambda: _others(container, batch_id))
    if had_ready and others == 0:
        loader.set_ready(batch.tenant_id)
    return BatchResult(batch_id, batch.tenant_id, batch.campaign_id, batch.requested, 0,
                       removed, 0, time.perf_counter() - started, code_store.ROLLED_BACK)


def _mark_rolled_back(container: Container, batch_id: str) -> code_store.BatchRecord:
    with container.engine.begin() as conn:
        batch = code_store.get_batch(conn, batch_id, lock=True)
        if batch is None:
            raise PermanentError(f"no generation batch {batch_id}")
        in_use = code_store.batch_codes_in_use(conn, batch)
        if in_use:
            raise DomainRuleViolation(
                f"batch {batch_id} has {in_use:,} codes redeemed, exported or allocated; "
                "it cannot be rolled back"
            )
        if batch.status != code_store.ROLLED_BACK:
            code_store.finish_batch(conn, batch_id, code_store.ROLLED_BACK, utc_now_naive())
        return batch


def _delete_page(container: Container, loader: CodeLoader, batch_id: str) -> int:
    """Delete one page of the batch's rows (Redis first, then MySQL); rows removed."""
    with container.engine.begin() as conn:
        batch = code_store.get_batch(conn, batch_id, lock=True)
        assert batch is not None
        rows = code_store.batch_rows(conn, batch, 0, ROLLBACK_PAGE)
        if not rows:
            return 0
        loader.remove_codes(batch.tenant_id, batch.campaign_id, [r[1] for r in rows])
        deleted = code_store.delete_rows(conn, batch.tenant_id, batch.campaign_id,
                                         [r[0] for r in rows])
        code_store.add_inserted(conn, batch_id, -deleted)
        add_codes_issued(conn, batch.tenant_id, -deleted)
        return deleted


def _others(container: Container, batch_id: str) -> int:
    with container.engine.connect() as conn:
        batch = code_store.get_batch(conn, batch_id)
        assert batch is not None
        return code_store.other_running_batches(conn, batch.tenant_id, batch_id)


def _campaign(
    container: Container, tenant_id: str, campaign_id: str
) -> campaign_store.CampaignRecord:
    def work() -> campaign_store.CampaignRecord | None:
        with container.engine.connect() as conn:
            return campaign_store.get_campaign(conn, campaign_id, tenant_id=tenant_id)

    campaign = guarded("read campaign", work)
    if campaign is None:
        raise UnknownCampaign(f"tenant {tenant_id} has no campaign {campaign_id}")
    return campaign


def generated_code_counts(container: Container) -> dict[str, int]:
    """Codes ever generated on the platform by code type, from every batch's stored count
    (what ``marketing_codes_generated_total`` reports; rollbacks do not lower it)."""

    def work() -> dict[str, int]:
        with container.engine.connect() as conn:
            return code_store.generated_counts(conn)

    return guarded("count generated codes", work)


def campaign_stats(container: Container, tenant_id: str, campaign_id: str) -> CampaignStats:
    """Issued/unused/claimed/granted/voided/exported counts and the guess odds."""
    campaign = _campaign(container, tenant_id, campaign_id)

    def work() -> dict[str, int]:
        with container.engine.connect() as conn:
            return campaign_store.code_counts(conn, tenant_id, campaign_id)

    counts = guarded("count codes", work)
    space = rule_code_space(stored_rule(campaign))
    issued = counts["issued"]
    return CampaignStats(tenant_id, campaign_id, issued, counts["unused"], counts["claimed"],
                         counts["granted"], counts["voided"], counts["exported"], space,
                         guess_odds(issued, space), describe_odds(issued, space))
