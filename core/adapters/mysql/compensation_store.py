"""MySQL side of compensation: the job ledger, redemptions left pending, stuck codes and
requests without an outcome. Blocking: call it from an executor, never the event loop.

Recording a re-emitted grant reuses ``redemption_store.record_granted`` (the exact SQL the
redemption path runs), so both paths converge on the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine

from core.adapters.mysql import stored_grants
from core.adapters.mysql.engine import guarded
from core.adapters.mysql.redemption_writes import (
    PENDING_OF_CODE,
    GrantedRedemption,
    record_granted,
)
from core.adapters.mysql.stored_grants import RedemptionFacts
from core.codes.status import CodeStatus, RedemptionStatus
from schemas.events import CompensationJob, CompensationReport, RewardGrant


@dataclass(frozen=True)
class Scope:
    """Which rows a job looks at: an optional tenant and campaign, claimed before a cutoff;
    stuck codes only among redemptions claimed since ``since`` (None: all of them)."""

    tenant_id: str | None
    campaign_id: str | None
    cutoff: datetime  # naive UTC
    since: datetime | None = None  # naive UTC

    def sql(self, alias: str) -> str:
        """The WHERE fragment of the optional filters (bound as :t and :c)."""
        parts = []
        if self.tenant_id is not None:
            parts.append(f" AND {alias}.tenant_id = :t")
        if self.campaign_id is not None:
            parts.append(f" AND {alias}.campaign_id = :c")
        return "".join(parts)

    def params(self) -> dict[str, object]:
        """The bound values of :func:`sql` and the cutoff."""
        return {"t": self.tenant_id, "c": self.campaign_id, "cutoff": self.cutoff,
                "since": self.since}


@dataclass(frozen=True)
class PendingRedemption:
    """A redemption in status 1 and the grants it must emit."""

    redemption_id: str
    tenant_id: str
    code: str
    claimed_at: datetime
    grants: list[RewardGrant]

    def granted(self) -> GrantedRedemption:
        """The record to write once its grants are on the broker."""
        return GrantedRedemption(self.tenant_id, self.redemption_id, self.code, self.grants)


@dataclass(frozen=True)
class StuckCode:
    """A code in status 1 with no pending redemption and a granted one."""

    tenant_id: str
    code: str


class CompensationStore:
    """Reads and writes of a compensation job, each one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def stored_report(self, job_id: str) -> CompensationReport | None:
        """The report of a job that already finished (a replayed job returns it)."""

        def work() -> CompensationReport | None:
            with self._engine.connect() as conn:
                raw = conn.execute(
                    text(
                        "SELECT report_json FROM compensation_jobs"
                        " WHERE job_id = :j AND status = 'DONE'"
                    ),
                    {"j": job_id},
                ).scalar()
            if raw is None:
                return None
            data = raw if isinstance(raw, dict) else orjson.loads(raw)
            return CompensationReport.model_validate(data)

        return guarded("read compensation job", work)

    def start_job(self, job: CompensationJob, now: datetime) -> None:
        """Record that a job runs (a crashed run leaves RUNNING and is simply run again)."""

        def work() -> None:
            with self._engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT IGNORE INTO compensation_jobs (job_id, tenant_id, campaign_id,"
                        " older_than_seconds, requested_by, status, started_at)"
                        " VALUES (:j, :t, :c, :o, :by, 'RUNNING', :now)"
                    ),
                    {
                        "j": job.job_id,
                        "t": job.tenant_id,
                        "c": job.campaign_id,
                        "o": job.older_than_seconds,
                        "by": job.requested_by,
                        "now": now,
                    },
                )

        guarded("start compensation job", work)

    def finish_job(self, report: CompensationReport, now: datetime) -> None:
        """Store the report; the first finished run of a job_id wins."""

        def work() -> None:
            with self._engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE compensation_jobs SET status = 'DONE', report_json = :r,"
                        " finished_at = :now WHERE job_id = :j AND status = 'RUNNING'"
                    ),
                    {"j": report.job_id, "r": report.model_dump_json(), "now": now},
                )

        guarded("finish compensation job", work)

    def pending_redemptions(
        self, scope: Scope, after: tuple[datetime, str] | None, limit: int
    ) -> list[PendingRedemption]:
        """Status-1 redemptions claimed before the cutoff, keyset-paged by (claimed_at, id)."""
        sql = (
            "SELECT redemption_id, tenant_id, code, claimed_at, grants_json, request_id,"
            " product_code, campaign_id, user_id FROM redemptions r"
            f" WHERE r.status = {RedemptionStatus.PENDING:d} AND r.claimed_at < :cutoff"
            + scope.sql("r")
        )
        params = {**scope.params(), "n": limit}
        if after is not None:
            sql += " AND (r.claimed_at, r.redemption_id) > (:at, :rid)"
            params.update({"at": after[0], "rid": after[1]})
        sql += " ORDER BY r.claimed_at, r.redemption_id LIMIT :n"

        def work() -> list[PendingRedemption]:
            with self._engine.connect() as conn:
                rows = conn.execute(text(sql), params).all()
            return [PendingRedemption(r[0], r[1], r[2], r[3], _grants(r)) for r in rows]

        return guarded("read pending redemptions", work)

    def recorded_grant_ids(self, redemption_ids: Sequence[str]) -> set[str]:
        """Grant ids that already have a reward record."""
        if not redemption_ids:
            return set()
        statement = text(
            "SELECT grant_id FROM reward_records WHERE redemption_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))

        def work() -> set[str]:
            with self._engine.connect() as conn:
                return {r[0] for r in conn.execute(statement, {"ids": list(redemption_ids)})}

        return guarded("read reward records", work)

    def record(self, redeemed: Sequence[PendingRedemption], now: datetime) -> None:
        """Reward records, redemption status 2, code status 2 (the redemption path's SQL)."""
        if not redeemed:
            return

        def work() -> None:
            with self._engine.begin() as conn:
                record_granted(conn, [r.granted() for r in redeemed], now)

        guarded("record compensated grants", work)

    def known_requests(self, tenant_id: str, request_ids: Sequence[str]) -> set[str]:
        """The tenant's request ids that have an outcome in MySQL."""
        if not request_ids:
            return set()
        statement = text(
            "SELECT request_id FROM request_outcomes WHERE tenant_id = :t AND request_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))

        def work() -> set[str]:
            with self._engine.connect() as conn:
                params = {"t": tenant_id, "ids": list(request_ids)}
                return {r[0] for r in conn.execute(statement, params)}

        return guarded("read request outcomes", work)

    def stuck_codes(
        self, scope: Scope, after: tuple[str, str] | None, limit: int
    ) -> list[StuckCode]:
        """Codes in status 1 with no pending redemption but a granted one claimed before the
        cutoff (and since ``scope.since``), keyset-paged by (tenant_id, code).

        Found through the granted redemptions (``redemptions.idx_pending`` on (status,
        claimed_at), or ``idx_code`` for one tenant), not through an index on the code
        table: generation would pay for that index on every code. A code reaches status 1
        only in the transaction that inserts its pending redemption (claimed at the same
        instant), so a code stuck in status 1 has a granted redemption claimed when it was.
        """
        sql = (
            "SELECT r.tenant_id, r.code FROM redemptions r JOIN redeem_codes c"
            # the code table is ascii: convert the utf8mb4 side, or its unique key is not used
            " ON c.tenant_id = CONVERT(r.tenant_id USING ascii)"
            " AND c.code = CONVERT(r.code USING ascii)"
            f" WHERE r.status = {RedemptionStatus.GRANTED:d} AND r.claimed_at < :cutoff"
            + (" AND r.claimed_at >= :since" if scope.since is not None else "")
            + scope.sql("r")
            + f" AND c.status = {CodeStatus.CLAIMED:d} AND NOT EXISTS (SELECT 1 FROM redemptions p"
            " WHERE p.tenant_id = c.tenant_id AND p.code = c.code"
            f" AND p.status = {RedemptionStatus.PENDING:d})"
        )
        params = {**scope.params(), "n": limit}
        if after is not None:
            sql += " AND (r.tenant_id, r.code) > (:at, :ac)"
            params.update({"at": after[0], "ac": after[1]})
        sql += " GROUP BY r.tenant_id, r.code ORDER BY r.tenant_id, r.code LIMIT :n"

        def work() -> list[StuckCode]:
            with self._engine.connect() as conn:
                rows = conn.execute(text(sql), params).all()
            return [StuckCode(r[0], r[1]) for r in rows]

        return guarded("read stuck codes", work)

    def mark_codes_granted(self, codes: Sequence[StuckCode]) -> int:
        """Status 1 -> 2 for codes with no pending redemption left; rows changed."""
        statement = text(
            "UPDATE redeem_codes c FORCE INDEX (uk_tenant_code)"
            f" SET c.status = {CodeStatus.GRANTED:d}"
            " WHERE c.tenant_id = :t AND c.code = :code"
            f" AND c.status = {CodeStatus.CLAIMED:d} AND NOT EXISTS ({PENDING_OF_CODE})"
        )

        def work() -> int:
            with self._engine.begin() as conn:
                return sum(
                    conn.execute(statement, {"t": c.tenant_id, "code": c.code}).rowcount
                    for c in codes
                )

        return guarded("mark codes granted", work) if codes else 0


def _grants(row: Any) -> list[RewardGrant]:
    """The grants a pending redemption row keeps (see ``stored_grants``)."""
    red_id, tenant_id, _code, claimed_at, raw, request_id, product, campaign, user = row
    facts = RedemptionFacts(red_id, request_id, tenant_id, product, campaign, user, claimed_at)
    return stored_grants.unpack(raw, facts)
