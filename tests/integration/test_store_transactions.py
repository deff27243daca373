"""The redemption store's transactions against the real MariaDB: two commits open at once
(the second locks and judges its rows while the first writes: core.redemption.stages,
OpenCommits), and reads that leave no transaction behind on a pooled connection."""

from __future__ import annotations

import asyncio
import time
import uuid
from functools import partial

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from core.adapters.mysql.engine import build_hot_engine, database_url
from core.adapters.mysql.migrate import upgrade
from core.adapters.mysql.redemption_store import OpenCommit, RedemptionStore
from core.bootstrap import bootstrap
from core.errors import ConcurrentUpdate
from core.redemption.ids import redemption_id
from core.redemption.model import Attempt
from core.redemption.ports import CommitBatch
from core.redemption.verdict import decide_commit
from schemas.base import naive_utc, utc_now
from schemas.events import RedeemOutcome as O
from tests.conftest import unique_id
from tests.integration.redeem_support import make_service, request, seed_campaign

pytestmark = pytest.mark.integration

#: Long enough for any commit here, far shorter than InnoDB's lock wait timeout (50 s):
#: a commit waiting on the other transaction's locks shows up as a timeout.
NO_WAIT_SECONDS = 10


async def _run(func, *args):
    return await asyncio.get_running_loop().run_in_executor(None, partial(func, *args))


def _claim(seeded, code: str, user: str) -> Attempt:
    """An attempt as the claim stage leaves it: Redis claimed ``code`` for ``user``."""
    attempt = Attempt(request(seeded, code, user), code=code)
    attempt.campaign_id = seeded.campaign_id
    attempt.redemption_id = redemption_id(seeded.tenant_id, attempt.request_id)
    return attempt


def _decider(campaigns):
    """The service's judgement of a commit, at the time of the call."""
    now = utc_now()
    return lambda by_tenant, locked: decide_commit(by_tenant, locked, campaigns, now)


async def _begin(store: RedemptionStore, seeded, attempt: Attempt) -> OpenCommit:
    campaigns = await _run(store.campaigns, [seeded.campaign_id])
    return await store.begin_commit(
        CommitBatch([attempt], [], naive_utc(utc_now()), _decider(campaigns)), _run
    )


def _usage(container, seeded, user: str) -> int | None:
    with container.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT used FROM campaign_user_usage WHERE tenant_id = :t"
                " AND campaign_id = :c AND user_id = :u"
            ),
            {"t": seeded.tenant_id, "c": seeded.campaign_id, "u": user},
        ).scalar()


def _code_row(container, seeded, code: str):
    with container.engine.connect() as conn:
        return conn.execute(
            text("SELECT status, used_count FROM redeem_codes WHERE tenant_id=:t AND code=:c"),
            {"t": seeded.tenant_id, "c": code},
        ).one()


@pytest.fixture
def store(container) -> RedemptionStore:
    store = RedemptionStore(container.hot_engine)
    store.open()
    return store


async def test_two_open_commits_on_different_rows_do_not_wait_for_each_other(
    container, store
) -> None:
    """Both read usage rows that do not exist yet, next to each other in the index: with gap
    locks (REPEATABLE READ) the first one's insert would wait for the second transaction,
    which the pipeline lets write only after the first: a wait no one would end."""
    seeded = seed_campaign(container, count=2, protected=False)
    first = _claim(seeded, seeded.codes[0], unique_id("u"))
    second = _claim(seeded, seeded.codes[1], unique_id("u"))
    opened = [await _begin(store, seeded, first), await _begin(store, seeded, second)]
    try:
        await asyncio.wait_for(opened[0].finish(), NO_WAIT_SECONDS)
        await asyncio.wait_for(opened[1].finish(), NO_WAIT_SECONDS)
    finally:
        for commit in opened:
            await commit.close()
    assert first.outcome is second.outcome is O.REDEEMED
    for attempt in (first, second):
        assert _code_row(container, seeded, attempt.code or "") == (1, 1)
        assert _usage(container, seeded, attempt.request.user_id) == 1


async def test_a_first_usage_inserted_meanwhile_fails_the_later_commit(container, store) -> None:
    """Another worker's transaction (no shared gate) judged the same user's first usage at
    the same time: the later commit fails on the usage row's key instead of overwriting its
    count, writes nothing, and judged again it is refused (per-user limit 1)."""
    seeded = seed_campaign(container, count=2, protected=False)
    user = unique_id("u")
    first, second = _claim(seeded, seeded.codes[0], user), _claim(seeded, seeded.codes[1], user)
    opened = [await _begin(store, seeded, first), await _begin(store, seeded, second)]
    try:
        await asyncio.wait_for(opened[0].finish(), NO_WAIT_SECONDS)
        with pytest.raises(ConcurrentUpdate):
            await asyncio.wait_for(opened[1].finish(), NO_WAIT_SECONDS)
    finally:
        for commit in opened:
            await commit.close()
    assert _usage(container, seeded, user) == 1
    assert _code_row(container, seeded, seeded.codes[1]) == (0, 0)

    again = _claim(seeded, seeded.codes[1], user)
    retried = await _begin(store, seeded, again)
    try:
        await asyncio.wait_for(retried.finish(), NO_WAIT_SECONDS)
    finally:
        await retried.close()
    assert again.outcome is O.USER_LIMIT_REACHED
    assert _code_row(container, seeded, seeded.codes[1]) == (0, 0)


class _SlowFirstWrites(RedemptionStore):
    """Holds its first commit open a while before writing, as a busy MySQL would."""

    delayed = False

    def _finish(self, conn, script) -> None:
        if not self.delayed:
            self.delayed = True
            time.sleep(0.5)
        super()._finish(conn, script)


async def test_overlapping_batches_of_one_user_are_judged_one_after_the_other(container) -> None:
    """Redis allows the user five redemptions, MySQL one: the second batch's commit must
    see the first's usage row, so it waits for the first transaction to end instead of
    reading beside it (its insert of the same first usage would fail the batch with
    ConcurrentUpdate, to be retried)."""
    seeded = seed_campaign(container, count=2, protected=False)
    container.redis.hset(container.keys.campaign(seeded.tenant_id, seeded.campaign_id), "pul", 5)
    service, _ = make_service(container, _SlowFirstWrites(container.hot_engine))
    user = unique_id("u")
    batches = [[request(seeded, code, user)] for code in seeded.codes]
    results = await asyncio.wait_for(
        asyncio.gather(*(service.process(b) for b in batches)), NO_WAIT_SECONDS
    )
    assert [r.outcome for [r] in results] == [O.REDEEMED, O.USER_LIMIT_REACHED]
    assert _usage(container, seeded, user) == 1


async def test_overlapping_batches_on_different_rows_commit_together(container) -> None:
    """Two batches with no code and no user in common: the second locks and judges while
    the first is still open (its writes held back a while), and both redeem."""
    seeded = seed_campaign(container, count=2, protected=False)
    service, _ = make_service(container, _SlowFirstWrites(container.hot_engine))
    seen_open: list[int] = []
    real_begin = service._store.begin_commit

    async def begin_and_count(*args, **kwargs):
        commit = await real_begin(*args, **kwargs)
        seen_open.append(service._open_commits.open)
        return commit

    service._store.begin_commit = begin_and_count  # type: ignore[method-assign]
    batches = [[request(seeded, code)] for code in seeded.codes]
    results = await asyncio.wait_for(
        asyncio.gather(*(service.process(b) for b in batches)), NO_WAIT_SECONDS
    )
    assert [r.outcome for [r] in results] == [O.REDEEMED, O.REDEEMED]
    assert 2 in seen_open, f"the second commit never opened beside the first: {seen_open}"


async def test_a_code_lookup_leaves_no_transaction_on_its_pooled_connection(container) -> None:
    """The next use of the connection sees what was committed after the lookup (a snapshot
    kept from the lookup's transaction would not), and can set its own isolation level."""
    seeded = seed_campaign(container, count=1, protected=False)
    engine = build_hot_engine(container.settings.model_copy(update={"database_pool_size": 1}))
    try:
        store = RedemptionStore(engine)
        assert set(store.lookup_codes(seeded.tenant_id, seeded.codes)) == set(seeded.codes)
        with container.engine.begin() as conn:
            conn.execute(
                text("UPDATE redeem_codes SET used_count = 7 WHERE tenant_id = :t AND code = :c"),
                {"t": seeded.tenant_id, "c": seeded.codes[0]},
            )
        [state] = store.lookup_codes(seeded.tenant_id, seeded.codes).values()
        assert state.used_count == 7
        with engine.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    finally:
        engine.dispose()


@pytest.fixture
def fresh_container(base_settings):
    """A container over a new, migrated, empty database: a deployment's first hour, when
    the tables' statistics say they are empty."""
    name = f"rf_fresh_{uuid.uuid4().hex[:10]}"
    url = database_url(base_settings).set(database=name).render_as_string(hide_password=False)
    settings = base_settings.model_copy(update={"database_url": url})
    upgrade(create_engine(url, poolclass=NullPool))
    try:
        with bootstrap(settings) as built:
            yield built
    finally:
        server = create_engine(database_url(base_settings).set(database=None), poolclass=NullPool)
        with server.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))


async def test_a_commit_locks_only_its_own_users_usage_rows_on_an_empty_table(
    fresh_container,
) -> None:
    """While another batch's commit has inserted a first usage and not committed yet, this
    batch's locked read of another user's usage does not wait for it. (A scan of the whole
    table, the plan an empty table's statistics suggest, would lock that row and wait.)"""
    seeded = seed_campaign(fresh_container, count=3, protected=False)
    store = RedemptionStore(fresh_container.hot_engine)
    store.open()
    writing = fresh_container.engine.connect()
    writing.begin()
    writing.execute(
        text(
            "INSERT INTO campaign_user_usage (tenant_id, campaign_id, user_id, used)"
            " VALUES (:t, :c, :u, 1)"
        ),
        {"t": seeded.tenant_id, "c": seeded.campaign_id, "u": unique_id("u")},
    )
    # a batch of several users: one user alone is a lookup by key whatever the statistics
    attempts = [_claim(seeded, code, unique_id("u")) for code in seeded.codes]
    campaigns = await _run(store.campaigns, [seeded.campaign_id])
    try:
        commit = await asyncio.wait_for(
            store.begin_commit(
                CommitBatch(attempts, [], naive_utc(utc_now()), _decider(campaigns)), _run
            ),
            NO_WAIT_SECONDS,
        )
        await asyncio.wait_for(commit.finish(), NO_WAIT_SECONDS)
    finally:
        writing.rollback()  # frees a read that waited, so its thread ends
        writing.close()
    assert [a.outcome for a in attempts] == [O.REDEEMED] * 3
