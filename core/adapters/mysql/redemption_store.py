"""MySQL side of redemption: outcomes already decided, code lookups, the batch commit and
the record of produced grants.

The reads block: call them from an executor, never the event loop. The commit and the
record are coroutines that take the executor runner: their I/O goes to the executor, while
judging, building and quoting the SQL stay on the event loop's thread. A busy worker's
executor thread otherwise fought the loop's thread for the GIL in 5 ms turns, and the
commit, the pipeline's longest stage, waited for it (measured: 55 ms of Python per batch of
1,000 stretched the commit's ~85 ms in MySQL to 170-300 ms).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from core.adapters.mysql import code_store, stored_grants, tenant_store
from core.adapters.mysql.engine import guarded
from core.adapters.mysql.redemption_writes import (
    claims_by_tenant,
    commit_script,
    granted_attempts,
    lock_rows,
    record_script,
    select_codes,
)
from core.adapters.mysql.script import RenderedScript, SqlScript, marks
from core.adapters.mysql.stored_grants import RedemptionFacts
from core.errors import ConcurrentUpdate
from core.redemption.model import Attempt, CampaignInfo, CodeState, KnownOutcome
from core.redemption.ports import CommitBatch, Runner
from core.redemption.verdict import CacheCorrection, LockedRows
from schemas.campaign import CampaignRule
from schemas.code_rule import CodeGenerateRule
from schemas.events import RedeemOutcome

_OUTCOMES_SQL = (
    "SELECT o.request_id, o.outcome, o.redemption_id, o.request_hash, o.message,"
    " o.processed_at, r.status, r.grants_json, r.code,"
    " r.tenant_id, r.product_code, r.campaign_id, r.user_id, r.claimed_at"
    " FROM request_outcomes o LEFT JOIN redemptions r ON r.redemption_id = o.redemption_id"
    " WHERE o.tenant_id = %s AND o.request_id IN ({ids})"
)


_CAMPAIGNS = text(
    "SELECT campaign_id, tenant_id, status, valid_from, valid_until, use_limit, per_user_limit,"
    " rule_json FROM campaigns WHERE campaign_id IN :ids"
).bindparams(bindparam("ids", expanding=True))

_USAGE_SQL = (  # by key whatever the statistics, as the commit's locked read
    "SELECT campaign_id, user_id, used FROM campaign_user_usage FORCE INDEX (PRIMARY)"
    " WHERE tenant_id = :t AND campaign_id IN :campaigns AND user_id IN :users"
)
_USAGE = text(_USAGE_SQL).bindparams(
    bindparam("campaigns", expanding=True), bindparam("users", expanding=True)
)


class OpenCommit:
    """A batch's commit transaction between its locked reads and its writes."""

    def __init__(
        self,
        store: RedemptionStore,
        conn: Connection,
        script: RenderedScript,
        corrections: list[CacheCorrection],
        run: Runner,
    ) -> None:
        self._store = store
        self._conn: Connection | None = conn
        self._script = script
        self._corrections = corrections
        self._run = run

    async def finish(self) -> list[CacheCorrection]:
        """Write and commit (in the executor); returns the claim cache's corrections (claims
        MySQL refused). Raises ConcurrentUpdate when another worker recorded one of these
        requests, or a first usage of one of these users, meanwhile (the caller retries: a
        request is replayed, a usage judged again; no correction is due then)."""
        conn = self._conn
        if conn is None:
            raise RuntimeError("this commit is already finished or closed")
        try:
            await self._run(self._store._finish, conn, self._script)
        except BaseException:
            await self.close()
            raise
        self._conn = None
        return self._corrections

    async def close(self) -> None:
        """Roll back if not finished, and give the connection back (idempotent)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._run(RedemptionStore._abandon, conn)


class RedemptionStore:
    """Reads and writes of the redemption path, each one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._quoting: Any = None

    def open(self) -> None:
        """Open the connection whose quoting renders scripts on the event loop's thread
        (blocking, once). It does no I/O after that: quoting is client-side, with the
        driver, character set and server mode of every connection of the engine."""
        if self._quoting is None:
            proxied = guarded("open quoting connection", self._engine.raw_connection)
            proxied.detach()  # never returned to the pool, never used for a query
            self._quoting = proxied.dbapi_connection

    def _rendered(self, script: SqlScript) -> RenderedScript:
        if self._quoting is None:
            raise RuntimeError("RedemptionStore.open() must run before rendering")
        return script.rendered(self._quoting)

    def known_outcomes(self, tenant_id: str, request_ids: Sequence[str]) -> dict[str, KnownOutcome]:
        """Outcomes already recorded for these requests of one tenant, by request_id
        (request ids are idempotency keys per tenant: two tenants may use the same one)."""
        if not request_ids:
            return {}

        def work() -> dict[str, KnownOutcome]:
            ids = list(request_ids)
            sql = _OUTCOMES_SQL.format(ids=marks(ids))
            with self._engine.connect() as conn:
                rows = conn.exec_driver_sql(sql, (tenant_id, *ids)).all()
            found = {}
            for row in rows:
                rid, outcome, red_id, digest, message, at, status, grants_json, code = row[:9]
                shared = row[9:]
                grants = []
                if red_id is not None and status is not None:
                    facts = RedemptionFacts(red_id, rid, *shared)
                    grants = stored_grants.unpack(grants_json, facts)
                processed = at.replace(tzinfo=UTC) if at is not None else None
                found[rid] = KnownOutcome(
                    outcome, red_id, status, grants, code, digest, message, processed
                )
            return found

        return guarded("read known outcomes", work)

    def campaigns(self, campaign_ids: Iterable[str]) -> dict[str, CampaignInfo]:
        """Campaign facts for redemption, by id."""
        ids = sorted(set(campaign_ids))
        if not ids:
            return {}

        def work() -> dict[str, CampaignInfo]:
            with self._engine.connect() as conn:
                rows = conn.execute(_CAMPAIGNS, {"ids": ids}).all()
            return {row.campaign_id: _campaign_info(row) for row in rows}

        return guarded("read campaigns", work)

    def tenant_statuses(self, tenant_ids: Sequence[str]) -> dict[str, str]:
        """The registry's status of each known tenant among ``tenant_ids``."""
        def work() -> dict[str, str]:
            with self._engine.connect() as conn:
                return tenant_store.statuses(conn, list(tenant_ids))

        return guarded("read tenant statuses", work)

    def tenant_code_rules(self, tenant_id: str) -> list[CodeGenerateRule]:
        """The distinct code rules of a tenant's codes (for offline format checks): each
        campaign's rule, and the rule stored on each generation batch (``codes generate
        --prefix/--length/...`` may give a batch a rule of its own)."""

        def work() -> list[CodeGenerateRule]:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT rule_json FROM campaigns WHERE tenant_id = :t"), {"t": tenant_id}
                ).all()
                batch_rules = code_store.tenant_batch_rules(conn, tenant_id)
            rules = [CampaignRule.model_validate(_json(r[0])).code for r in rows]
            rules += [CodeGenerateRule.model_validate(rule) for rule in batch_rules]
            distinct = {rule.model_dump_json(): rule for rule in rules}
            return [distinct[k] for k in sorted(distinct)]

        return guarded("read code rules", work)

    def lookup_codes(self, tenant_id: str, codes: Sequence[str]) -> dict[str, CodeState]:
        """Current MySQL state of some codes of one tenant."""
        if not codes:
            return {}

        def work() -> dict[str, CodeState]:
            # begin(), not connect(): the read goes through the driver's cursor, which
            # SQLAlchemy does not see begin a transaction, so only an explicit one is ended
            # (else the pooled connection kept it, and its snapshot, for the next use)
            with self._engine.begin() as conn:
                return select_codes(conn, tenant_id, codes, lock=False)

        return guarded("look up codes", work)

    def user_usage(
        self, tenant_id: str, campaign_ids: Sequence[str], users: Sequence[str]
    ) -> dict[tuple[str, str], int]:
        """Per-user redemption counts: (campaign_id, user_id) -> used."""
        if not campaign_ids or not users:
            return {}

        def work() -> dict[tuple[str, str], int]:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    _USAGE,
                    {
                        "t": tenant_id,
                        "campaigns": list(set(campaign_ids)),
                        "users": list(set(users)),
                    },
                ).all()
            return {(r[0], r[1]): int(r[2]) for r in rows}

        return guarded("read user usage", work)

    async def begin_commit(self, batch: CommitBatch, run: Runner) -> OpenCommit:
        """The first half of a batch's commit: a transaction with the claimed codes and
        their users' usage rows locked (and their campaigns' status read), ``batch.decide``
        (the domain's judgement) called with those rows, and the writes of its plan built.
        Nothing is written before :meth:`OpenCommit.finish`.

        The transaction reads READ COMMITTED (:func:`lock_rows` sets it): its locking reads
        lock the rows found and no gaps, so two batches' transactions can be open at once
        (the second locking while the first writes) without the first's inserts waiting on
        the second's gap locks.
        Locking reads see the latest committed rows at any isolation level; a user's usage
        row absent when read is inserted without ``ON DUPLICATE KEY``, so one created
        meanwhile fails the commit instead of being overwritten.

        Two round trips in the executor (here, and the writes with the commit in
        ``finish``); the judging and the SQL in between run on the caller's thread.
        """
        by_tenant = claims_by_tenant(batch.claims)
        conn, locked = await run(self._begin_locked, by_tenant)
        try:
            plan = batch.decide(by_tenant, locked)
            ordered = [a for tenant in sorted(by_tenant) for a in by_tenant[tenant]]
            script = commit_script(plan, [*ordered, *batch.decided], batch.now)
            return OpenCommit(self, conn, self._rendered(script), plan.corrections, run)
        except BaseException:
            await run(self._abandon, conn)
            raise

    def _begin_locked(
        self, by_tenant: dict[str, list[Attempt]]
    ) -> tuple[Connection, dict[str, LockedRows]]:
        def work() -> tuple[Connection, dict[str, LockedRows]]:
            conn = self._engine.connect()
            try:
                conn.begin()
                return conn, lock_rows(conn, by_tenant)
            except BaseException:
                self._abandon(conn)
                raise

        return guarded("commit redemptions", work)

    def _finish(self, conn: Connection, script: RenderedScript) -> None:
        def work() -> None:
            try:
                script.run(conn)
                conn.commit()
            except IntegrityError as exc:
                raise ConcurrentUpdate(
                    f"recorded concurrently (a request, or a user's first usage): {exc.orig}"
                ) from exc
            conn.close()

        guarded("commit redemptions", work)

    @staticmethod
    def _abandon(conn: Connection) -> None:
        """Roll back and give the connection back (a lost one is invalidated, not reused)."""
        try:
            conn.rollback()
        except SQLAlchemyError:
            if not conn.invalidated:
                conn.invalidate()
        finally:
            conn.close()

    async def record_grants(self, attempts: Sequence[Attempt], now: datetime, run: Runner) -> None:
        """After the grants are on the broker: reward records, redemption and code status 2
        (built here, sent in one round trip from the executor)."""
        redeemed = [a for a in attempts if a.redemption_id and a.outcome is RedeemOutcome.REDEEMED]
        if not redeemed:
            return
        script = self._rendered(record_script(granted_attempts(redeemed), now))

        def work() -> None:
            with self._engine.begin() as conn:
                script.run(conn)

        await run(guarded, "record grants", work)


def _json(value: object) -> object:
    if value is None or isinstance(value, (dict, list)):
        return value
    return orjson.loads(value)  # type: ignore[arg-type]


def _campaign_info(row: object) -> CampaignInfo:
    rule = CampaignRule.model_validate(_json(row.rule_json))  # type: ignore[attr-defined]
    return CampaignInfo(
        campaign_id=row.campaign_id,  # type: ignore[attr-defined]
        tenant_id=row.tenant_id,  # type: ignore[attr-defined]
        status=row.status,  # type: ignore[attr-defined]
        valid_from=row.valid_from,  # type: ignore[attr-defined]
        valid_until=row.valid_until,  # type: ignore[attr-defined]
        products=list(rule.applicable_products),
        use_limit=int(row.use_limit),  # type: ignore[attr-defined]
        per_user_limit=int(row.per_user_limit),  # type: ignore[attr-defined]
        reward_rules=list(rule.reward_rules),
    )
