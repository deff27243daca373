"""Persisting generated codes: resumable, quota-checked batches into MySQL and Redis.

``Generation`` (built by ``core.bootstrap``) is the service; it depends on the ports of
``core.service_ports`` only."""

from core.generation.batches import (
    DEFAULT_CHUNK_SIZE,
    BatchResult,
    BatchRunner,
    check_tenant,
    open_batch,
    stored_rule,
)
from core.generation.maintenance import CampaignStats, Generation
from core.generation.writer import ProgressFn

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "BatchResult",
    "BatchRunner",
    "CampaignStats",
    "Generation",
    "ProgressFn",
    "check_tenant",
    "open_batch",
    "stored_rule",
]
