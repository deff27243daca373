"""The generation service: more codes for a campaign, resuming and rolling back batches,
and campaign code statistics (``Generation``, built by ``core.bootstrap``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.campaign_tenant import read_campaign
from core.codes import assert_code_space, describe_odds, guess_odds, rule_code_space
from core.errors import DomainRuleViolation, PermanentError
from core.generation.batches import (
    DEFAULT_CHUNK_SIZE,
    BatchResult,
    BatchRunner,
    stored_rule,
    utc_now_naive,
)
from core.generation.writer import ProgressFn
from core.records import ROLLED_BACK, BatchRecord, CampaignRecord
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


class Generation(BatchRunner):
    """Code generation over the storage and cache ports (batches: ``BatchRunner``)."""

    def generate_codes(
        self,
        tenant_id: str,
        campaign_id: str,
        count: int,
        *,
        rule: CodeGenerateRule | None = None,
        account_id: str | None = None,
        progress: ProgressFn | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> BatchResult:
        """Add ``count`` codes to a campaign in a new batch (campaign rule unless ``rule``;
        the batch stores the rule it uses)."""
        if count <= 0:
            raise DomainRuleViolation("count must be positive")
        campaign = self.campaign(tenant_id, campaign_id)
        rule = rule or stored_rule(campaign)
        existing = self.campaign_stats(tenant_id, campaign_id).issued
        assert_code_space(rule, count, existing=existing)
        batch = self.start_batch(tenant_id, campaign_id, count, account_id, rule)
        return self.run_batch(batch.batch_id, progress=progress, chunk_size=chunk_size)

    def resume_batch(self, batch_id: str, *, progress: ProgressFn | None = None) -> BatchResult:
        """Finish an interrupted RUNNING batch: the codes it still owes, no duplicates, in
        the rule the batch was started with."""
        return self.run_batch(batch_id, progress=progress)

    def rollback_batch(
        self, batch_id: str, *, progress: ProgressFn | None = None
    ) -> BatchResult:
        """Remove a batch's codes from MySQL and Redis and mark it ROLLED_BACK (re-runnable).

        Refused when any of its codes was redeemed, exported or bound to a user. The batch
        is marked first, so a writer still running stops at its next chunk.
        """
        started = time.perf_counter()
        batch = self._mark_rolled_back(batch_id)
        had_ready = self.cache.clear_ready(batch.tenant_id)
        removed = 0
        while page := self._delete_page(batch_id):
            removed += page
            if progress is not None:
                progress(removed, batch.inserted)
        with self.store.read("count running batches") as tx:
            others = tx.other_running_batches(batch.tenant_id, batch_id)
        if had_ready and others == 0:
            self.cache.set_ready(batch.tenant_id)
        return BatchResult(batch_id, batch.tenant_id, batch.campaign_id, batch.requested, 0,
                           removed, 0, time.perf_counter() - started, ROLLED_BACK)

    def _mark_rolled_back(self, batch_id: str) -> BatchRecord:
        with self.store.begin("mark batch rolled back") as tx:
            batch = tx.get_batch(batch_id, lock=True)
            if batch is None:
                raise PermanentError(f"no generation batch {batch_id}")
            in_use = tx.batch_codes_in_use(batch)
            if in_use:
                raise DomainRuleViolation(
                    f"batch {batch_id} has {in_use:,} codes redeemed, exported or allocated; "
                    "it cannot be rolled back"
                )
            if batch.status != ROLLED_BACK:
                tx.finish_batch(batch_id, ROLLED_BACK, utc_now_naive())
            return batch

    def _delete_page(self, batch_id: str) -> int:
        """Delete one page of the batch's rows (Redis first, then MySQL); rows removed."""
        with self.store.begin("roll back page") as tx:
            batch = tx.get_batch(batch_id, lock=True)
            assert batch is not None
            rows = tx.batch_rows(batch, 0, ROLLBACK_PAGE)
            if not rows:
                return 0
            self.cache.remove_codes(batch.tenant_id, batch.campaign_id, [r[1] for r in rows])
            deleted = tx.delete_rows(batch.tenant_id, batch.campaign_id, [r[0] for r in rows])
            tx.add_inserted(batch_id, -deleted)
            tx.add_codes_issued(batch.tenant_id, -deleted)
            return deleted

    def campaign(self, tenant_id: str, campaign_id: str) -> CampaignRecord:
        """A tenant's campaign (UnknownCampaign when it has none of that id)."""
        return read_campaign(self.store, tenant_id, campaign_id)

    def generated_code_counts(self) -> dict[str, int]:
        """Codes ever generated on the platform by code type, from every batch's stored
        count (what ``marketing_codes_generated_total`` reports; rollbacks do not lower it)."""
        with self.store.read("count generated codes") as tx:
            return tx.generated_counts()

    def campaign_stats(self, tenant_id: str, campaign_id: str) -> CampaignStats:
        """Issued/unused/claimed/granted/voided/exported counts and the guess odds."""
        campaign = self.campaign(tenant_id, campaign_id)
        with self.store.read("count codes") as tx:
            counts = tx.code_counts(tenant_id, campaign_id)
        space = rule_code_space(stored_rule(campaign))
        issued = counts["issued"]
        return CampaignStats(tenant_id, campaign_id, issued, counts["unused"],
                             counts["claimed"], counts["granted"], counts["voided"],
                             counts["exported"], space, guess_odds(issued, space),
                             describe_odds(issued, space))
