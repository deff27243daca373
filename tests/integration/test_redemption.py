"""The redemption pipeline against real MariaDB and Redis (publisher recorded)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import text

from core.adapters.mysql.redemption_store import RedemptionStore
from core.adapters.mysql.redemption_writes import GrantedRedemption, record_granted
from core.errors import BrokerUnavailable, StorageUnavailable
from core.pipeline import retry_transient
from core.ports import OutboundMessage
from schemas.events import RedeemOutcome as O
from schemas.events import RedeemResult, RewardGrant
from tests.code_support import code_key, lookup
from tests.fakes import RecordingPublisher
from tests.integration.redeem_support import (
    flush_tenant,
    make_service,
    request,
    seed_campaign,
)

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


def grants_of(publisher) -> list[RewardGrant]:
    return [RewardGrant.from_bytes(m.value) for m in publisher.on("reward.grants")]


def results_of(publisher) -> list[RedeemResult]:
    return [RedeemResult.from_bytes(m.value) for m in publisher.on("redeem.results")]


def code_row(container, tenant: str, code: str):
    with container.engine.connect() as conn:
        return conn.execute(
            text("SELECT status, used_count FROM redeem_codes WHERE tenant_id=:t AND code=:c"),
            {"t": tenant, "c": lookup(container, tenant, code)},
        ).one()


async def test_redeem_then_duplicate_and_second_user(container) -> None:
    seeded = seed_campaign(container, count=2)
    service, publisher = make_service(container)
    first = request(seeded, seeded.codes[0].lower())
    [result] = await service.process([first])
    assert result.outcome is O.REDEEMED
    assert len(result.grant_ids) == 1
    [grant] = grants_of(publisher)
    assert grant.grant_id == result.grant_ids[0]
    assert grant.reward.id == "WELCOME10"
    assert code_row(container, seeded.tenant_id, seeded.codes[0]) == (2, 1)

    again = await service.process([first, first])
    assert [r.outcome for r in again] == [O.REDEEMED, O.REDEEMED]
    assert {r.redemption_id for r in again} == {result.redemption_id}
    assert len(grants_of(publisher)) == 1, "a redelivered request must not grant twice"

    [other] = await service.process([request(seeded, seeded.codes[0])])
    assert other.outcome is O.ALREADY_USED
    with container.engine.connect() as conn:
        n = conn.execute(
            text("SELECT COUNT(*) FROM reward_records WHERE redemption_id=:r"),
            {"r": result.redemption_id},
        ).scalar()
    assert n == 1


async def test_same_code_twice_in_one_batch(container) -> None:
    seeded = seed_campaign(container, count=1)
    service, publisher = make_service(container)
    code = seeded.codes[0]
    results = await service.process([request(seeded, code), request(seeded, code)])
    assert [r.outcome for r in results] == [O.REDEEMED, O.ALREADY_USED]
    assert len(grants_of(publisher)) == 1


async def test_unknown_foreign_and_malformed_codes_look_the_same(container) -> None:
    mine = seed_campaign(container, count=1)
    theirs = seed_campaign(container, count=1)
    service, _ = make_service(container)
    valid_unknown = mine.codec.generate()
    typo = mine.codes[0][:-1] + ("2" if mine.codes[0][-1] != "2" else "3")
    results = await service.process(
        [
            request(mine, valid_unknown),
            request(mine, theirs.codes[0]),
            request(mine, typo),
            request(mine, "ZZ"),  # too short for any rule
        ]
    )
    assert {r.outcome for r in results} == {O.NOT_FOUND}
    assert len({r.message for r in results}) == 1
    # the typo was rejected offline: it never reached Redis (no negative-cache entry)
    negative = container.keys.negative
    assert not container.redis.exists(negative(mine.tenant_id, typo),
                                      negative(mine.tenant_id, lookup(container, mine.tenant_id,
                                                                      typo)))
    # the unknown-but-well-formed code reached MySQL once and is now negatively cached
    assert container.redis.exists(
        negative(mine.tenant_id, lookup(container, mine.tenant_id, valid_unknown)))


async def test_validity_window_status_and_product(container) -> None:
    now = datetime.now(UTC)
    later = seed_campaign(
        container,
        rule={
            "validFrom": (now + timedelta(days=1)).isoformat(),
            "rewardRules": [{"type": "COUPON", "id": "X"}],
        },
    )
    over = seed_campaign(
        container,
        rule={
            "validFrom": (now - timedelta(days=2)).isoformat(),
            "validUntil": (now - timedelta(days=1)).isoformat(),
            "rewardRules": [{"type": "COUPON", "id": "X"}],
        },
    )
    paused = seed_campaign(container, status="PAUSED")
    other_product = seed_campaign(
        container,
        rule={"applicableProducts": ["MINI_B"], "rewardRules": [{"type": "COUPON", "id": "X"}]},
    )
    service, _ = make_service(container)
    results = await service.process(
        [
            request(later, later.codes[0]),
            request(over, over.codes[0]),
            request(paused, paused.codes[0]),
            request(other_product, other_product.codes[0]),
        ]
    )
    assert [r.outcome for r in results] == [
        O.NOT_YET_VALID,
        O.EXPIRED,
        O.CAMPAIGN_INACTIVE,
        O.PRODUCT_NOT_APPLICABLE,
    ]


async def test_cache_loss_falls_back_to_mysql(container) -> None:
    seeded = seed_campaign(container, count=3)
    service, _ = make_service(container)
    [used] = await service.process([request(seeded, seeded.codes[0])])
    assert used.outcome is O.REDEEMED
    assert flush_tenant(container, seeded.tenant_id) > 0
    fresh_service, _ = make_service(container)
    results = await fresh_service.process(
        [request(seeded, seeded.codes[0]), request(seeded, seeded.codes[1])]
    )
    assert [r.outcome for r in results] == [O.ALREADY_USED, O.REDEEMED]
    assert container.redis.exists(code_key(container, seeded.tenant_id, seeded.codes[2])) == 0


async def test_redis_says_unused_mysql_says_used(container) -> None:
    seeded = seed_campaign(container, count=1)
    code = seeded.codes[0]
    with container.engine.begin() as conn:
        conn.execute(
            text("UPDATE redeem_codes SET status=2, used_count=1 WHERE tenant_id=:t AND code=:c"),
            {"t": seeded.tenant_id, "c": lookup(container, seeded.tenant_id, code)},
        )
    service, publisher = make_service(container)
    [result] = await service.process([request(seeded, code)])
    assert result.outcome is O.ALREADY_USED
    assert grants_of(publisher) == []
    cached = container.redis.get(code_key(container, seeded.tenant_id, code))
    assert cached.split("|")[2] == "1", "Redis repaired to MySQL's used count"


async def test_multi_use_code_with_per_user_limit_under_concurrency(container) -> None:
    seeded = seed_campaign(
        container,
        count=1,
        rule={"useLimit": 100, "perUserLimit": 1, "rewardRules": [{"type": "COUPON", "id": "X"}]},
    )
    code = seeded.codes[0]
    users = [f"user{i}" for i in range(150)]
    requests = [request(seeded, code, user=u) for u in users]
    repeat = request(seeded, code, user=users[0])
    services = [make_service(container)[0] for _ in range(3)]
    chunks = [requests[i::3] for i in range(3)]
    # concurrent batches may deadlock in MySQL: like the agent, retry the batch (idempotent)
    outcomes = await asyncio.gather(
        *(
            retry_transient(lambda s=s, c=c: s.process(c), what="batch")
            for s, c in zip(services, chunks, strict=True)
        )
    )
    flat = [r for batch in outcomes for r in batch]
    redeemed = [r for r in flat if r.outcome is O.REDEEMED]
    assert len(redeemed) == 100
    assert len({r.user_id for r in redeemed}) == 100
    assert {r.outcome for r in flat} - {O.REDEEMED} == {O.ALREADY_USED}
    assert code_row(container, seeded.tenant_id, code)[1] == 100
    [again] = await services[0].process([repeat])
    assert again.outcome in {O.USER_LIMIT_REACHED, O.ALREADY_USED}


async def test_per_user_limit_across_codes(container) -> None:
    seeded = seed_campaign(
        container,
        count=3,
        rule={"perUserLimit": 2, "rewardRules": [{"type": "COUPON", "id": "X"}]},
    )
    service, _ = make_service(container)
    results = await service.process([request(seeded, c, user="same-user") for c in seeded.codes])
    assert [r.outcome for r in results] == [O.REDEEMED, O.REDEEMED, O.USER_LIMIT_REACHED]


async def test_lost_per_user_count_is_restored_from_mysql(container) -> None:
    seeded = seed_campaign(container, count=2)  # per-user limit 1
    service, _ = make_service(container)
    [first] = await service.process([request(seeded, seeded.codes[0], user="once")])
    assert first.outcome is O.REDEEMED
    per_user = container.keys.per_user(seeded.tenant_id, seeded.campaign_id)
    container.redis.delete(per_user)  # Redis forgot the user's count, codes still cached
    [second] = await service.process([request(seeded, seeded.codes[1], user="once")])
    assert second.outcome is O.USER_LIMIT_REACHED, "MySQL enforces the per-user limit"
    assert container.redis.hget(per_user, "once") == "1", "Redis repaired to MySQL's count"
    [other] = await service.process([request(seeded, seeded.codes[1], user="someone")])
    assert other.outcome is O.REDEEMED, "the refused claim released the code"


async def test_reward_rules_follow_user_tags(container) -> None:
    seeded = seed_campaign(
        container,
        count=2,
        rule={
            "rewardRules": [
                {"type": "COUPON", "id": "BASE"},
                {"type": "MEMBERSHIP_CARD", "id": "VIP", "condition": {"userTag": "invited_user"}},
            ]
        },
    )
    service, publisher = make_service(container)
    tagged, plain = await service.process(
        [
            request(seeded, seeded.codes[0], user_tags=["invited_user"]),
            request(seeded, seeded.codes[1]),
        ]
    )
    assert len(tagged.grant_ids) == 2 and len(plain.grant_ids) == 1
    kinds = {(g.user_id, g.reward.id) for g in grants_of(publisher)}
    assert (tagged.user_id, "VIP") in kinds and (plain.user_id, "VIP") not in kinds


async def test_rate_limits_per_product_and_failed_attempts(base_settings, container) -> None:
    from core.bootstrap import bootstrap
    from core.settings import RateLimitTier

    seeded = seed_campaign(container, count=4)
    strict = base_settings.model_copy(
        update={"rate_limits": {"APP_A": RateLimitTier(hour=3, day=100)}}
    )
    with bootstrap(strict) as limited:
        service, _ = make_service(limited)
        results = await service.process([request(seeded, c) for c in seeded.codes])
    assert [r.outcome for r in results].count(O.REDEEMED) == 3
    assert results[-1].outcome is O.RATE_LIMITED

    guesser = seed_campaign(container, count=1)
    throttled = base_settings.model_copy(update={"user_failed_attempts_per_hour": 2})
    with bootstrap(throttled) as limited:
        service, _ = make_service(limited)
        wrong = [request(guesser, guesser.codec.generate(), user="guesser") for _ in range(3)]
        right = request(guesser, guesser.codes[0], user="guesser")
        results = await service.process(wrong)
        results += await service.process([right])
        other_user = await service.process([request(guesser, guesser.codes[0], user="honest")])
    assert [r.outcome for r in results] == [
        O.NOT_FOUND,
        O.NOT_FOUND,
        O.RATE_LIMITED,
        O.RATE_LIMITED,
    ]
    assert other_user[0].outcome is O.REDEEMED, "throttling is per user"


async def test_rate_limit_windows_expire_two_window_sizes_after_their_first_count(
    container,
) -> None:
    seeded = seed_campaign(container, count=3)
    service, _ = make_service(container)
    unknown = seeded.codec.generate()
    await service.process([request(seeded, c, user="w") for c in [*seeded.codes, unknown]])
    client, keys = container.redis, container.keys
    product = keys.product_attempts(seeded.tenant_id, seeded.product_code)
    user = keys.user_failures(seeded.tenant_id, "w")
    sizes = {f"{product}:h:": 3_600_000, f"{product}:d:": 86_400_000, f"{user}:": 3_600_000}
    windows = {  # a large COUNT: the walk covers the whole shared keyspace, not just ours
        base: [client.pttl(key) for key in client.scan_iter(match=f"{base}*", count=10_000)]
        for base in sizes
    }
    for base, ttls in windows.items():
        assert len(ttls) == 1 and 0 < ttls[0] <= 2 * sizes[base], (base, ttls)
    hour = next(client.scan_iter(match=f"{product}:h:*", count=10_000))
    assert int(client.get(hour)) == 4, "every attempt counted, the expiry set once"
    ttl = client.pttl(hour)
    await service.process([request(seeded, seeded.codec.generate(), user="w2")])
    assert int(client.get(hour)) == 5, "a later call adds to the window"
    assert 0 < client.pttl(hour) <= ttl, "and leaves its expiry as it was"


async def test_crash_after_commit_before_grants_converges(container) -> None:
    seeded = seed_campaign(container, count=1)
    service, publisher = make_service(container)
    req = request(seeded, seeded.codes[0])
    publisher.fail_next = 1
    with pytest.raises(Exception, match="broker down"):
        await service.process([req])
    with container.engine.connect() as conn:
        status = conn.execute(
            text("SELECT status FROM redemptions WHERE request_id=:r"), {"r": req.request_id}
        ).scalar()
    assert status == 1, "committed in MySQL, grant still pending"
    [result] = await service.process([req])
    assert result.outcome is O.REDEEMED
    assert [g.grant_id for g in grants_of(publisher)] == result.grant_ids
    assert code_row(container, seeded.tenant_id, seeded.codes[0])[0] == 2
    with container.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT grant_ids_json FROM request_outcomes WHERE request_id=:r"),
            {"r": req.request_id},
        ).scalar()
    assert orjson.loads(stored) == result.grant_ids


async def test_request_ids_are_idempotency_keys_per_tenant(container) -> None:
    first, second = seed_campaign(container, count=2), seed_campaign(container, count=2)
    service, publisher = make_service(container)
    shared = "order-42"
    a = request(first, first.codes[0], request_id=shared)
    b = request(second, second.codes[0], request_id=shared)
    together = await service.process([a, b])
    assert [r.outcome for r in together] == [O.REDEEMED, O.REDEEMED]
    assert [r.tenant_id for r in together] == [first.tenant_id, second.tenant_id]
    assert together[0].redemption_id != together[1].redemption_id
    c = request(first, first.codes[1], request_id="order-43")
    d = request(second, second.codes[1], request_id="order-43")
    [alone] = await service.process([c])
    [other] = await service.process([d])  # same id, other tenant: its own request, not a replay
    assert alone.outcome is other.outcome is O.REDEEMED
    assert alone.redemption_id != other.redemption_id
    replayed = await service.process([b, d])
    assert [r.redemption_id for r in replayed] == [together[1].redemption_id, other.redemption_id]
    assert len(grants_of(publisher)) == 4


async def test_overlapping_batches_keep_per_code_order(container) -> None:
    """Batches started one after the other but processed overlapping: for every code the
    request of the earlier batch wins, and a request repeated in a later batch is replayed."""
    seeded = seed_campaign(container, count=6)
    service, publisher = make_service(container)
    earlier = [request(seeded, code, user=f"first-{i}") for i, code in enumerate(seeded.codes)]
    later = [request(seeded, code, user=f"second-{i}") for i, code in enumerate(seeded.codes)]
    batches = [[r] for r in earlier] + [[r] for r in later] + [[earlier[0]]]
    results = await asyncio.gather(*(service.process(b) for b in batches))
    outcomes = [r.outcome for [r] in results]
    assert outcomes == [O.REDEEMED] * 6 + [O.ALREADY_USED] * 6 + [O.REDEEMED]
    assert results[-1][0].redemption_id == results[0][0].redemption_id
    assert len(grants_of(publisher)) == 6
    assert service.stages.in_flight == 0


async def test_recording_grants_reads_committed_for_that_transaction_only(container) -> None:
    """record_granted runs READ COMMITTED (no gap locks for the next batch's commit to
    deadlock with); it stays idempotent, and the connection's next transaction is back at
    the server's REPEATABLE READ (a snapshot that a concurrent commit does not change)."""
    seeded = seed_campaign(container, count=1)
    service, publisher = make_service(container)
    [result] = await service.process([request(seeded, seeded.codes[0])])
    granted = GrantedRedemption(
        seeded.tenant_id, result.redemption_id or "", seeded.codes[0], grants_of(publisher)
    )
    level = text(
        "SELECT trx_isolation_level FROM information_schema.innodb_trx"
        " WHERE trx_mysql_thread_id = CONNECTION_ID()"
    )
    count = text("SELECT COUNT(*) FROM reward_records WHERE tenant_id = :t")
    with container.engine.connect() as conn:
        with conn.begin():
            record_granted(conn, [granted], datetime.now(UTC).replace(tzinfo=None))
            assert conn.execute(level).scalar() == "READ COMMITTED"
        with conn.begin():
            before = conn.execute(count, {"t": seeded.tenant_id}).scalar()
            with container.engine.begin() as other:
                other.execute(
                    text(
                        "INSERT INTO reward_records (grant_id, redemption_id, tenant_id,"
                        " user_id, campaign_id, code, reward_type, reward_id, quantity,"
                        " recorded_at) SELECT CONCAT(grant_id, '-copy'), redemption_id,"
                        " tenant_id, user_id, campaign_id, code, reward_type, reward_id,"
                        " quantity, recorded_at FROM reward_records WHERE tenant_id = :t"
                    ),
                    {"t": seeded.tenant_id},
                )
            assert conn.execute(count, {"t": seeded.tenant_id}).scalar() == before == 1
    assert code_row(container, seeded.tenant_id, seeded.codes[0]) == (2, 1)


class _KilledBetweenSteps(RedemptionStore):
    """Loses its commit connection after the locked reads, before the writes (once)."""

    def __init__(self, engine, admin_engine) -> None:
        super().__init__(engine)
        self._admin = admin_engine
        self.killed = False

    def _finish(self, conn, script) -> None:
        if not self.killed:
            self.killed = True
            victim = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
            with self._admin.begin() as admin:
                admin.exec_driver_sql(f"KILL CONNECTION {int(victim)}")
        super()._finish(conn, script)


async def test_a_commit_losing_its_connection_between_steps_writes_nothing(container) -> None:
    """The commit's locked reads and its writes are two executor steps of one transaction:
    a connection lost in between fails the batch retryably, leaves no row and no lock, and
    the retried batch redeems."""
    seeded = seed_campaign(container, count=1)
    store = _KilledBetweenSteps(container.hot_engine, container.engine)
    service, publisher = make_service(container, store)
    wanted = request(seeded, seeded.codes[0])
    with pytest.raises(StorageUnavailable):
        await service.process([wanted])
    assert store.killed
    assert code_row(container, seeded.tenant_id, seeded.codes[0]) == (0, 0)
    assert results_of(publisher) == [] and grants_of(publisher) == []
    [result] = await asyncio.wait_for(service.process([wanted]), 20)  # no lock left behind
    assert result.outcome is O.REDEEMED
    assert code_row(container, seeded.tenant_id, seeded.codes[0]) == (2, 1)


class _RefusingFirst(RecordingPublisher):
    """Keeps the first messages it is asked to send and refuses them; records the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[OutboundMessage] = []

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        if not self.refused:
            self.refused = list(messages)
            raise BrokerUnavailable("broker down (simulated)")
        await super().publish(messages)


async def test_codes_of_two_campaigns_in_one_batch_and_grants_rebuilt_from_the_row(
    container,
) -> None:
    single = seed_campaign(container, count=2)
    multi = seed_campaign(
        container,
        count=1,
        tenant_id=single.tenant_id,
        rule={"useLimit": 3, "perUserLimit": 1, "rewardRules": [{"type": "COUPON", "id": "X"}]},
    )
    # the batch's first produce fails after its commit: the retry re-emits from the rows
    service, publisher = make_service(container, publisher=_RefusingFirst())
    assert isinstance(publisher, _RefusingFirst)
    batch = [
        request(single, single.codes[0], user="ua"),
        request(multi, multi.codes[0], user="ub"),
        request(multi, multi.codes[0], user="uc"),
    ]
    with pytest.raises(BrokerUnavailable):
        await service.process(batch)
    results = await service.process(batch)
    assert [r.outcome for r in results] == [O.REDEEMED] * 3
    refused = sorted(m.value for m in publisher.refused if m.topic.endswith("reward.grants"))
    resent = sorted(m.value for m in publisher.on("reward.grants"))
    assert resent == refused, "grants rebuilt from the row are the messages first built"
    with container.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, campaign_id, status, used_count, act_user_id FROM redeem_codes"
                " WHERE tenant_id = :t ORDER BY code"
            ),
            {"t": single.tenant_id},
        ).all()
    by_lookup = {r.code: r[1:] for r in rows}  # MySQL keeps lookups, never the codes

    def by_code(code: str) -> tuple:
        return tuple(by_lookup[lookup(container, single.tenant_id, code)])

    assert by_code(single.codes[0]) == (single.campaign_id, 2, 1, "ua")
    assert by_code(single.codes[1]) == (single.campaign_id, 0, 0, None)
    assert by_code(multi.codes[0]) == (multi.campaign_id, 0, 2, "uc")
