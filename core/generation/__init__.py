"""Persisting generated codes: resumable, quota-checked batches into MySQL and Redis."""

from core.generation.batches import (
    DEFAULT_CHUNK_SIZE,
    BatchResult,
    check_tenant,
    open_batch,
    run_batch,
    start_batch,
    stored_rule,
)
from core.generation.maintenance import (
    CampaignStats,
    campaign_stats,
    generate_codes,
    generated_code_counts,
    resume_batch,
    rollback_batch,
)
from core.generation.writer import ProgressFn

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "BatchResult",
    "CampaignStats",
    "ProgressFn",
    "campaign_stats",
    "check_tenant",
    "generate_codes",
    "generated_code_counts",
    "open_batch",
    "resume_batch",
    "rollback_batch",
    "run_batch",
    "start_batch",
    "stored_rule",
]
