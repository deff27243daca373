"""Chaos bench plumbing: a throwaway stack, the workload, topic readers, invariant checks.

Everything it creates is its own: an embedded broker, a database ``rf_chaos_<run>`` (dropped
at the end) and the Redis prefix ``rfchaos<run>`` (its keys deleted by prefix; never
FLUSHDB/FLUSHALL, other things share this Redis).
"""

from __future__ import annotations

import collections
import contextlib
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import text

from bench._stack import delete_prefix
from bench._stack import throwaway_stack as shared_stack
from core.adapters.mysql.stored_grants import stored_grant_ids
from core.adapters.redis.client import REDIS_ERRORS
from core.bootstrap import Container
from core.errors import CacheUnavailable
from core.settings import Settings
from schemas.events import RedeemOutcome, RedeemRequested, RedeemResult, RewardGrant
from tests.integration.redeem_support import SeededCampaign, request, seed_campaign


@contextlib.contextmanager
def throwaway_stack(run: str, redis_url: str | None = None) -> Iterator[Settings]:
    """Broker, migrated database and Redis prefix that exist only inside the block (on
    ``redis_url`` when given, e.g. a cluster)."""
    extra: dict[str, object] = {"redis_url": redis_url} if redis_url else {}
    with shared_stack(
        partitions=8,
        redis_key_prefix=f"rfchaos{run}",
        topic_prefix=f"chaos{run}.",
        consumer_group=f"chaos{run}",
        user_failed_attempts_per_hour=10**6,
        device_failed_attempts_per_hour=10**6,
        redeem_batch_size=500,
        **extra,
    ) as settings:
        yield settings


def flush_prefix(settings: Settings, patience: float = 60.0) -> int:
    """Delete every key of this run's prefix (and only those); how many. Retried while
    Redis does not answer (a cluster failing over a killed master), as an operator would."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return delete_prefix(settings.redis_url, settings.redis_key_prefix)
        except (*REDIS_ERRORS, CacheUnavailable):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@dataclass
class Workload:
    """The requests to publish (duplicates included) and what the checks need to know."""

    requests: list[RedeemRequested]
    campaigns: list[SeededCampaign]
    cross_tenant: set[str] = field(default_factory=set)


def build_workload(container: Container, total: int, rng: random.Random) -> Workload:
    """Single-use codes (some contested), multi-use codes with a per-user limit, a second
    tenant, cross-tenant and unknown codes, and ~5% redelivered request ids."""
    roomy = {
        "perUserLimit": 1000,
        "rewardRules": [{"type": "COUPON", "id": "C10"}, {"type": "POINTS", "id": "P5"}],
    }
    single = seed_campaign(container, count=int(total * 0.55), rule=roomy)
    multi = seed_campaign(
        container,
        count=max(total // 100, 1),
        tenant_id=single.tenant_id,
        rule={
            "useLimit": 5,
            "perUserLimit": 1,
            "rewardRules": [{"type": "MEMBERSHIP_CARD", "id": "VIP"}],
        },
    )
    other = seed_campaign(container, count=max(total // 10, 1), rule=roomy)
    users = [f"u{i}" for i in range(max(total // 4, 10))]
    out: list[RedeemRequested] = []
    cross: set[str] = set()
    unique = int(total * 0.95)
    for _ in range(unique):
        roll, user = rng.random(), rng.choice(users)
        if roll < 0.62:
            out.append(request(single, rng.choice(single.codes), user=user))
        elif roll < 0.80:
            out.append(request(multi, rng.choice(multi.codes), user=user))
        elif roll < 0.95:
            out.append(request(other, rng.choice(other.codes), user=user))
        elif roll < 0.98:
            req = request(other, rng.choice(single.codes), user=user)  # A's code, tenant B
            cross.add(req.request_id)
            out.append(req)
        else:
            out.append(request(single, single.codec.generate(), user=user))  # unknown code
    out += [rng.choice(out) for _ in range(total - unique)]
    rng.shuffle(out)
    return Workload(out, [single, multi, other], cross)


class TopicReader:
    """Reads a topic from the beginning, incrementally (call ``poll`` repeatedly)."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap_servers,
                "group.id": f"chaos-reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
            }
        )
        name = settings.topic(topic)
        partitions = self._consumer.list_topics(name, timeout=10).topics[name].partitions
        self._consumer.assign([TopicPartition(name, p, 0) for p in partitions])
        self.values: list[bytes] = []

    def poll(self, seconds: float = 0.5) -> int:
        """Read what is there now; how many new records."""
        batch = self._consumer.consume(5000, seconds)
        fresh = [m.value() for m in batch if m.error() is None]
        self.values.extend(fresh)
        return len(fresh)

    def close(self) -> None:
        """Leave."""
        self._consumer.close()


def check_invariants(
    container: Container, work: Workload, results: list[bytes], grants: list[bytes]
) -> dict[str, object]:
    """Figures and I1-I7 verdicts from the topics and the database."""
    parsed = [RedeemResult.from_bytes(v) for v in results]
    outcomes: dict[str, set[tuple]] = collections.defaultdict(set)
    for r in parsed:
        outcomes[r.request_id].add((r.outcome, r.redemption_id, tuple(r.grant_ids), r.tenant_id))
    grant_ids = [RewardGrant.from_bytes(v).grant_id for v in grants]
    by_id = {r.request_id: r for r in work.requests}
    with container.engine.connect() as conn:
        redemptions = conn.execute(
            text(
                "SELECT redemption_id, request_id, tenant_id, code, campaign_id, user_id, status,"
                " grants_json FROM redemptions"
            )
        ).all()
        codes = conn.execute(
            text("SELECT tenant_id, code, use_limit, used_count, status FROM redeem_codes")
        ).all()
        limits = dict(conn.execute(text("SELECT campaign_id, per_user_limit FROM campaigns")).all())
    per_code = collections.Counter((r.tenant_id, r.code) for r in redemptions)
    per_user = collections.Counter((r.campaign_id, r.user_id) for r in redemptions)
    rows = {r.request_id: r for r in redemptions}
    stored_grants = {g for r in redemptions for g in stored_grant_ids(r.grants_json)}
    redeemed = [rid for rid, v in outcomes.items() if next(iter(v))[0] is RedeemOutcome.REDEEMED]
    i1 = all(per_code[(c.tenant_id, c.code)] == c.used_count <= c.use_limit for c in codes) and all(
        n <= limits[c] for (c, _u), n in per_user.items()
    )
    i2 = all(
        rid in rows
        and rows[rid].redemption_id == next(iter(outcomes[rid]))[1]
        and sorted(stored_grant_ids(rows[rid].grants_json)) == sorted(next(iter(outcomes[rid]))[2])
        for rid in redeemed
    ) and len(rows) == len(redeemed)
    i3 = set(grant_ids) == stored_grants
    i4 = set(outcomes) == set(by_id) and all(len(v) == 1 for v in outcomes.values())
    stuck = sum(1 for c in codes if c.status == 1) + sum(1 for r in redemptions if r.status == 1)
    found = redis_mismatches(container, work)
    mismatches = len(found)
    i7 = (
        all(next(iter(v))[3] == by_id[rid].tenant_id for rid, v in outcomes.items())
        and all(
            next(iter(outcomes[rid]))[0] is RedeemOutcome.NOT_FOUND for rid in work.cross_tenant
        )
        and all(r.tenant_id == by_id[r.request_id].tenant_id for r in redemptions)
    )
    return {
        "requests": len(work.requests),
        "unique_request_ids": len(by_id),
        "results": len(parsed),
        "redeemed": len(redeemed),
        "grants_distinct": len(set(grant_ids)),
        "grant_duplicates_dropped": len(grant_ids) - len(set(grant_ids)),
        "codes_or_redemptions_in_status_1": stuck,
        "redis_mysql_mismatches": mismatches,
        "redis_mysql_mismatch_samples": found[:5],
        "I1": i1,
        "I2": i2,
        "I3": i3,
        "I4": i4,
        "I5": stuck == 0,
        "I6": mismatches == 0,
        "I7": i7,
    }


def redis_mismatches(container: Container, work: Workload) -> list[str]:
    """Every difference between Redis and MySQL over the workload's tenants."""
    tenants = sorted({c.tenant_id for c in work.campaigns})
    return [m for t in tenants for m in container.cache_rebuild.mismatches(t, limit=10**9)]


def mismatch_kinds(problems: list[str]) -> str:
    """``code 3, user 14`` style summary of mismatch descriptions."""
    kinds = collections.Counter(p.split(" ", 1)[0] for p in problems)
    return ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none"
