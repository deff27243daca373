"""Prometheus metric objects of redeemflow (seed 000 §七), registered once at import.

Labels are bounded on purpose: a label per campaign (as in the seed's Go sample) would grow
the series count without limit, so codes are counted per code type only.
"""

from __future__ import annotations

from prometheus_client import Counter

CODES_GENERATED = Counter(
    "marketing_codes_generated",
    "Total generated redemption codes, persisted in MySQL and Redis",
    ["code_type"],
)
"""Incremented by the batch writer once per committed chunk (``_total`` is added on export)."""

CAMPAIGNS_CREATED = Counter(
    "marketing_campaign_requests",
    "Campaign creation requests by outcome",
    ["outcome"],
)
"""Incremented once per handled CreateCampaignRequest."""
