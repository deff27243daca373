"""Compensation jobs: building them (ops, CLI, the periodic sweep). The runner, a
``Compensator``, is built by ``Container.compensator`` (core/bootstrap.py)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from core.errors import InvalidMessage
from core.settings import Settings
from schemas.events import CompensationJob

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``30s`` / ``5m`` / ``2h`` / ``1d`` / ``90`` (seconds) -> seconds."""
    match = _DURATION.match(text.lower())
    if not match:
        raise InvalidMessage(f"not a duration: {text!r} (use 30s, 5m, 2h)", field="older_than")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def new_job(
    *,
    tenant_id: str | None = None,
    campaign_id: str | None = None,
    older_than_seconds: int,
    dry_run: bool = False,
    requested_by: str = "ops",
    job_id: str | None = None,
) -> CompensationJob:
    """A job with a fresh id unless one is given (a given id replays that job)."""
    return CompensationJob(
        job_id=job_id or f"job-{uuid.uuid4().hex[:16]}",
        tenant_id=tenant_id,
        campaign_id=campaign_id,
        older_than_seconds=older_than_seconds,
        dry_run=dry_run,
        requested_by=requested_by,
    )


def sweep_job(settings: Settings, now: datetime) -> CompensationJob:
    """The periodic sweep's job for the interval ``now`` falls in.

    The id is derived from the interval, so every worker of a deployment publishes the same
    job_id in one interval: the first run stores its report and the others replay it.
    """
    interval = settings.compensation_sweep_interval_seconds
    slot = int(now.timestamp()) // interval
    return new_job(
        older_than_seconds=settings.compensation_threshold_seconds,
        requested_by="sweep",
        job_id=f"sweep-{interval}-{slot}",
    )
