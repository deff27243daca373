"""Compensation against real MariaDB and Redis: the crash-point matrix, dry run, replay,
scopes. A 'crash' is a WorkerKilled raised at an exact step of a batch; the 'restarted
worker' is a fresh RedemptionService publishing into the same recorded topic log."""

from __future__ import annotations

import collections
from collections.abc import Sequence

import orjson
import pytest
from sqlalchemy import text

from core.adapters.mysql.redemption_store import RedemptionStore
from core.adapters.mysql.stored_grants import stored_grant_ids
from core.bootstrap import Container, build_redemption_service
from core.cache_rebuild import cache_mismatches
from core.compensation import new_job
from core.ports import OutboundMessage
from schemas.events import CompensationReport, RedeemOutcome, RedeemResult, RewardGrant
from tests.fakes import RecordingPublisher
from tests.integration.redeem_support import request, seed_campaign

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


class WorkerKilled(Exception):
    """Stands for a SIGKILL at an exact step: nothing after it runs."""


class CrashPublisher(RecordingPublisher):
    """Records like the fake, but 'dies' once when asked to publish on a topic suffix."""

    def __init__(self) -> None:
        super().__init__()
        self.crash_on: str | None = None

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        suffix = self.crash_on
        if suffix and any(m.topic.endswith(suffix) for m in messages):
            self.crash_on = None
            raise WorkerKilled(f"killed before publishing on {suffix}")
        await super().publish(messages)


class CrashStore(RedemptionStore):
    """A RedemptionStore that 'dies' once at ``begin_commit`` or ``record_grants``."""

    def __init__(self, engine, crash_at: str | None) -> None:
        super().__init__(engine)
        self.crash_at = crash_at

    async def begin_commit(self, *args, **kwargs):
        if self.crash_at == "commit":
            self.crash_at = None
            raise WorkerKilled("after the Redis claim, before the MySQL commit")
        return await super().begin_commit(*args, **kwargs)

    async def record_grants(self, *args, **kwargs) -> None:
        if self.crash_at == "record":
            self.crash_at = None
            raise WorkerKilled("after producing the grants, before the reward records")
        await super().record_grants(*args, **kwargs)


def worker(container: Container, log: CrashPublisher, crash_at: str | None = None):
    """A fresh 'worker process': new service and Redis client, the same topic log."""
    return build_redemption_service(container, log, store=CrashStore(container.engine, crash_at))


async def compensate(container: Container, log, tenant_id, **job) -> CompensationReport:
    fields = {"tenant_id": tenant_id, "older_than_seconds": 0, **job}
    return await container.compensator(log).run(new_job(**fields))


def assert_converged(container: Container, tenant: str, request_ids, log) -> None:
    """Every request one result; redeemed ones granted with exactly their grant ids (dups
    only as the same id); no code in status 1; Redis agrees with MySQL."""
    seen = collections.defaultdict(set)
    for message in log.on("redeem.results"):
        r = RedeemResult.from_bytes(message.value)
        seen[r.request_id].add((r.outcome, r.redemption_id, tuple(r.grant_ids)))
    on_topic = collections.defaultdict(set)
    for message in log.on("reward.grants"):
        grant = RewardGrant.from_bytes(message.value)
        on_topic[grant.redemption_id].add(grant.grant_id)
    with container.engine.connect() as conn:
        rows = {r[1]: r for r in conn.execute(text(
            "SELECT redemption_id, request_id, status, grants_json FROM redemptions"
            " WHERE tenant_id = :t"), {"t": tenant})}
        recorded = {r[0] for r in conn.execute(
            text("SELECT grant_id FROM reward_records WHERE tenant_id = :t"), {"t": tenant})}
        claimed = conn.execute(text("SELECT COUNT(*) FROM redeem_codes WHERE tenant_id = :t"
                                    " AND status = 1"), {"t": tenant}).scalar()
    for request_id in request_ids:
        assert len(seen[request_id]) == 1, (request_id, seen[request_id])
        ((outcome, redemption_id, grant_ids),) = seen[request_id]
        if outcome is not RedeemOutcome.REDEEMED:
            assert request_id not in rows
            continue
        row = rows[request_id]
        assert (row[0], row[2]) == (redemption_id, 2)
        assert sorted(stored_grant_ids(row[3])) == sorted(grant_ids)
        assert on_topic[redemption_id] == set(grant_ids)
        assert set(grant_ids) <= recorded
    assert set(on_topic) <= {r[0] for r in rows.values()}, "no grant without a redemption"
    assert claimed == 0, "no code left in status 1"
    assert cache_mismatches(container, tenant) == []


CRASH_POINTS = {
    "after_claim": ("commit", None),
    "after_commit": (None, "reward.grants"),
    "after_grants": ("record", None),
    "after_record": (None, "redeem.results"),
}


@pytest.mark.parametrize("order", ["compensate_first", "redeliver_first"])
@pytest.mark.parametrize("point", list(CRASH_POINTS))
async def test_crash_point_converges(container, point: str, order: str) -> None:
    single = seed_campaign(container, count=2)
    multi = seed_campaign(container, count=1, tenant_id=single.tenant_id,
                          rule={"useLimit": 2, "rewardRules": [{"type": "COUPON", "id": "M"},
                                                                {"type": "POINTS", "id": "P100"}]})
    batch = [request(single, single.codes[0]), request(multi, multi.codes[0]),
             request(multi, multi.codes[0]), request(single, single.codes[1])]
    batch.append(batch[0])  # a duplicate delivery inside the batch
    log = CrashPublisher()
    store_crash, publish_crash = CRASH_POINTS[point]
    log.crash_on = publish_crash
    with pytest.raises(WorkerKilled):
        await worker(container, log, store_crash).process(batch)

    if order == "compensate_first":
        await compensate(container, log, single.tenant_id)
    results = await worker(container, log).process(batch)  # redelivery to a restarted worker
    if order == "redeliver_first":
        await compensate(container, log, single.tenant_id)

    assert [r.outcome for r in results] == [RedeemOutcome.REDEEMED] * 5
    assert_converged(container, single.tenant_id, [r.request_id for r in batch], log)
    again = await compensate(container, log, single.tenant_id)
    assert (again.examined, again.regranted, again.marked_granted) == (0, 0, 0)


async def test_abandoned_claim_is_released_and_the_code_redeemable(container) -> None:
    seeded = seed_campaign(container, count=1)
    log = CrashPublisher()
    lost = request(seeded, seeded.codes[0])
    with pytest.raises(WorkerKilled):
        await worker(container, log, "commit").process([lost])
    dry = await compensate(container, log, seeded.tenant_id, dry_run=True)
    assert (dry.examined, dry.released_in_cache) == (1, 1)
    assert cache_mismatches(container, seeded.tenant_id) != [], "dry run changes nothing"
    report = await compensate(container, log, seeded.tenant_id)
    assert (report.released_in_cache, report.failed) == (1, 0)
    assert cache_mismatches(container, seeded.tenant_id) == []
    other = request(seeded, seeded.codes[0])
    [result] = await worker(container, log).process([other])
    assert result.outcome is RedeemOutcome.REDEEMED
    [late] = await worker(container, log).process([lost])  # the lost one shows up at last
    assert late.outcome is RedeemOutcome.ALREADY_USED
    assert_converged(container, seeded.tenant_id, [other.request_id, lost.request_id], log)


async def test_dry_run_then_run_then_replay(container) -> None:
    seeded = seed_campaign(container, count=3)
    log = CrashPublisher()
    log.crash_on = "reward.grants"
    batch = [request(seeded, code) for code in seeded.codes]
    with pytest.raises(WorkerKilled):
        await worker(container, log).process(batch)

    dry = await compensate(container, log, seeded.tenant_id, dry_run=True)
    assert (dry.dry_run, dry.examined, dry.regranted) == (True, 3, 3)
    assert log.on("reward.grants") == []
    job = new_job(tenant_id=seeded.tenant_id, older_than_seconds=0)
    first = await container.compensator(log).run(job)
    assert (first.examined, first.regranted, first.marked_granted, first.failed) == (3, 3, 0, 0)
    assert len(log.on("reward.grants")) == 3
    replay = await container.compensator(log).run(job)
    assert replay == first, "the same job_id returns its stored report"
    second = await compensate(container, log, seeded.tenant_id)
    assert (second.examined, second.regranted) == (0, 0)
    assert len(log.on("reward.grants")) == 3, "nothing re-emitted the second time"


async def test_recorded_rewards_are_marked_granted_without_regrant(container) -> None:
    seeded = seed_campaign(container, count=2)
    log = CrashPublisher()
    reqs = [request(seeded, code) for code in seeded.codes]
    await worker(container, log).process(reqs)
    with container.engine.begin() as conn:  # as if the status updates were lost
        conn.execute(text("UPDATE redemptions SET status = 1 WHERE request_id = :r"),
                     {"r": reqs[0].request_id})
        conn.execute(text("UPDATE redeem_codes SET status = 1 WHERE tenant_id = :t"),
                     {"t": seeded.tenant_id})
    grants_before = len(log.on("reward.grants"))
    report = await compensate(container, log, seeded.tenant_id)
    assert (report.marked_granted, report.regranted) == (2, 0)  # one redemption, one code
    assert len(log.on("reward.grants")) == grants_before
    assert_converged(container, seeded.tenant_id, [r.request_id for r in reqs], log)


async def test_scope_and_threshold(container) -> None:
    mine = seed_campaign(container, count=1)
    theirs = seed_campaign(container, count=1)
    log = CrashPublisher()
    for seeded in (mine, theirs):
        log.crash_on = "reward.grants"
        with pytest.raises(WorkerKilled):
            await worker(container, log).process([request(seeded, seeded.codes[0])])
    recent = await compensate(container, log, mine.tenant_id, older_than_seconds=3600)
    assert recent.examined == 0, "younger than the threshold: left to the live worker"
    wrong = await compensate(container, log, mine.tenant_id, campaign_id=theirs.campaign_id)
    assert wrong.examined == 0
    report = await compensate(container, log, mine.tenant_id, campaign_id=mine.campaign_id)
    assert report.regranted == 1
    with container.engine.connect() as conn:
        pending = conn.execute(text("SELECT COUNT(*) FROM redemptions WHERE tenant_id = :t"
                                    " AND status = 1"), {"t": theirs.tenant_id}).scalar()
    assert pending == 1, "another tenant's rows are not touched"
    await compensate(container, log, theirs.tenant_id)


async def test_sweep_publishes_one_job_id_per_interval(base_settings) -> None:
    from datetime import UTC, datetime

    from compensation.sweep import publish_sweep
    from schemas.events import CompensationJob

    log = CrashPublisher()
    at = datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)
    first = await publish_sweep(base_settings, log, lambda: at)
    same = await publish_sweep(base_settings, log, lambda: at.replace(second=40))
    later = await publish_sweep(base_settings, log, lambda: at.replace(minute=1, second=5))
    assert first and same and later
    assert first.job_id == same.job_id != later.job_id
    assert first.older_than_seconds == base_settings.compensation_threshold_seconds
    [message, *_] = log.on("compensation.jobs")
    assert CompensationJob.from_bytes(message.value).job_id == first.job_id
    log.fail_next = 1
    assert await publish_sweep(base_settings, log, lambda: at) is None, "logged, not raised"


def test_cli_inline_dry_run_json(container, base_settings) -> None:
    from typer.testing import CliRunner

    from cli.compensate import app
    from core.compensation import parse_duration
    from tests.e2e.harness import settings_env

    assert [parse_duration(t) for t in ("30s", "5m", "2h", "90")] == [30, 300, 7200, 90]
    seeded = seed_campaign(container, count=1)
    result = CliRunner().invoke(
        app, ["--tenant-id", seeded.tenant_id, "--older-than", "0s", "--dry-run", "--inline",
              "--json"], env=settings_env(base_settings))
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout[result.stdout.index("{"):])
    assert report["dry_run"] is True and report["examined"] == 0
    bad = CliRunner().invoke(app, ["--older-than", "soon", "--inline"],
                             env=settings_env(base_settings))
    assert bad.exit_code == 2
