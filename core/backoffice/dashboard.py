"""The dashboard's figures: codes by fate per campaign, redemptions over time, outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.backoffice.audit import utc_now
from core.backoffice.counts import CountsCache
from core.backoffice.model import Principal
from core.backoffice.ports import BackOfficeServices
from core.backoffice.rows import CampaignCounts

_HOUR = "%Y-%m-%d %H:00"
_DAY = "%Y-%m-%d"


@dataclass(frozen=True)
class Series:
    """A time series: (label, count) per bucket, oldest first, empty buckets included."""

    points: list[tuple[str, int]]

    @property
    def total(self) -> int:
        """Sum of the buckets."""
        return sum(n for _, n in self.points)

    @property
    def peak(self) -> int:
        """The highest bucket (at least 1, so a chart scale never divides by zero)."""
        return max([1, *(n for _, n in self.points)])


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard page shows, for the principal's scope."""

    campaigns: list[CampaignCounts]
    last_24h: Series
    last_30d: Series
    outcomes: dict[str, int]
    names: dict[str, str]
    counted_at: datetime

    @property
    def totals(self) -> CampaignCounts:
        """The campaigns' counts added up."""
        rows = self.campaigns
        return CampaignCounts("", "", *(sum(getattr(r, f) for r in rows) for f in (
            "generated", "exported", "allocated", "redeemed", "voided", "left")))


def _buckets(now: datetime, count: int, step: timedelta, fmt: str) -> list[str]:
    return [(now - step * n).strftime(fmt) for n in range(count - 1, -1, -1)]


def dashboard(services: BackOfficeServices, principal: Principal, cache: CountsCache) -> Dashboard:
    """Read the dashboard's figures (one query each; code counts through ``cache``)."""
    now = utc_now()
    hour_now = now.replace(minute=0, second=0, microsecond=0)
    day_now = now.replace(hour=0, minute=0, second=0, microsecond=0)
    tenant = principal.tenant_id

    views = services.views
    counts, counted_at = cache.get((tenant, None), lambda: views.campaign_counts(tenant))
    hourly = views.redemptions_per_bucket(tenant, hour_now - timedelta(hours=23), _HOUR)
    daily = views.redemptions_per_bucket(tenant, day_now - timedelta(days=29), _DAY)
    mix = views.outcome_mix(tenant, day_now - timedelta(days=29))
    names = views.campaign_names(tenant)
    hours = _buckets(hour_now, 24, timedelta(hours=1), _HOUR)
    days = _buckets(day_now, 30, timedelta(days=1), _DAY)
    return Dashboard(counts, Series([(h, hourly.get(h, 0)) for h in hours]),
                     Series([(d, daily.get(d, 0)) for d in days]), mix, names, counted_at)
