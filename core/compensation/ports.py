"""Ports of compensation: the job ledger and the rows it repairs (MySQL:
``core.adapters.mysql.compensation_store``), the codes' and users' MySQL state
(``RedemptionStore``), and the claim records in the cache
(``core.adapters.redis.claim_records``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.compensation.model import PendingRedemption, Release, RequestRecord, Scope, StuckCode
from core.redemption.model import CodeState
from schemas.events import CompensationJob, CompensationReport


class CompensationLedger(Protocol):
    """The job ledger, redemptions left pending, stuck codes, requests with an outcome;
    each call one short transaction (blocking)."""

    def stored_report(self, job_id: str) -> CompensationReport | None:
        """The report of a finished run of ``job_id`` (a replay returns it)."""
        ...

    def start_job(self, job: CompensationJob, now: datetime) -> None:
        """Note that a run of the job started."""
        ...

    def finish_job(self, report: CompensationReport, now: datetime) -> None:
        """Store the report; the first finished run of a job_id wins."""
        ...

    def pending_redemptions(
        self, scope: Scope, after: tuple[datetime, str] | None, limit: int
    ) -> list[PendingRedemption]:
        """PENDING redemptions claimed before the cutoff, keyset-paged by (claimed_at, id)."""
        ...

    def recorded_grant_ids(self, redemption_ids: Sequence[str]) -> set[str]:
        """Grant ids that already have a reward record."""
        ...

    def record(self, redeemed: Sequence[PendingRedemption], now: datetime) -> None:
        """Reward records, redemption and code GRANTED (the redemption path's writes)."""
        ...

    def known_requests(self, tenant_id: str, request_ids: Sequence[str]) -> set[str]:
        """The tenant's request ids that have an outcome in MySQL."""
        ...

    def stuck_codes(
        self, scope: Scope, after: tuple[str, str] | None, limit: int
    ) -> list[StuckCode]:
        """CLAIMED codes with no pending redemption but a granted one, keyset-paged."""
        ...

    def mark_codes_granted(self, codes: Sequence[StuckCode]) -> int:
        """CLAIMED -> GRANTED for codes with no pending redemption left; rows changed."""
        ...


class CodeStates(Protocol):
    """MySQL's state of codes and per-user counts (what a released claim writes back)."""

    def lookup_codes(self, tenant_id: str, codes: Sequence[str]) -> dict[str, CodeState]:
        """Current MySQL state of some codes of one tenant."""
        ...

    def user_usage(
        self, tenant_id: str, campaign_ids: Sequence[str], users: Sequence[str]
    ) -> dict[tuple[str, str], int]:
        """Per-user redemption counts: (campaign_id, user_id) -> used."""
        ...


class ClaimRecordStore(Protocol):
    """The claim records in the cache: scanned, and released when abandoned."""

    def pattern(self, tenant_id: str | None) -> str:
        """The scan pattern of one tenant's records, or of every tenant's."""
        ...

    def scan_page(self, pattern: str, cursor: int) -> tuple[int, list[RequestRecord]]:
        """One scan step (cursor 0 again: done) and the records it found."""
        ...

    def release(self, releases: Sequence[Release]) -> int:
        """Write MySQL's view back for abandoned claims; how many were still there."""
        ...
