"""Grants handed to the producer are recorded only once the broker has them (real MariaDB
and Redis; the broker's answer comes late, or is a failure)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

import pytest
from sqlalchemy import text

from core.errors import BrokerUnavailable
from core.ports import OutboundMessage
from schemas.events import RedeemOutcome as O
from tests.fakes import RecordingPublisher
from tests.integration.redeem_support import make_service, request, seed_campaign

pytestmark = pytest.mark.integration


class _LateAnswers(RecordingPublisher):
    """Takes every hand-over at once; the broker's answer for each comes when the test
    says (``answer``), as a success or as ``BrokerUnavailable``."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[asyncio.Future[None]] = []

    async def hand_over(self, messages: Sequence[OutboundMessage]) -> Awaitable[object]:
        self.messages.extend(messages)
        self.pending.append(asyncio.get_running_loop().create_future())
        return self.pending[-1]

    def answer(self, index: int, failed: bool = False) -> None:
        if failed:
            self.pending[index].set_exception(BrokerUnavailable("not acknowledged (simulated)"))
        else:
            self.pending[index].set_result(None)


def _statuses(container, tenant: str) -> list[tuple[str, int]]:
    with container.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT r.code, r.status, (SELECT COUNT(*) FROM reward_records w"
                " WHERE w.redemption_id = r.redemption_id) FROM redemptions r"
                " WHERE r.tenant_id = :t ORDER BY r.code"
            ),
            {"t": tenant},
        ).all()
    return [(code, status, records) for code, status, records in rows]


async def _until(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_the_next_batch_hands_over_before_the_first_is_acknowledged(container) -> None:
    seeded = seed_campaign(container, count=2, protected=False)
    publisher = _LateAnswers()
    service, _ = make_service(container, publisher=publisher)
    first = asyncio.ensure_future(service.process([request(seeded, seeded.codes[0])]))
    second = asyncio.ensure_future(service.process([request(seeded, seeded.codes[1])]))
    await _until(lambda: len(publisher.pending) == 2)  # both handed over, none answered
    codes = sorted(seeded.codes)
    assert _statuses(container, seeded.tenant_id) == [
        (codes[0], 1, 0),
        (codes[1], 1, 0),
    ], "nothing is recorded before the broker has it"
    publisher.answer(1)
    publisher.answer(0)
    [one], [two] = await asyncio.wait_for(asyncio.gather(first, second), 10)
    assert one.outcome is two.outcome is O.REDEEMED
    assert _statuses(container, seeded.tenant_id) == [(codes[0], 2, 1), (codes[1], 2, 1)]


async def test_a_delivery_failing_after_the_hand_over_fails_the_batch_unrecorded(
    container,
) -> None:
    seeded = seed_campaign(container, count=1, protected=False)
    publisher = _LateAnswers()
    service, _ = make_service(container, publisher=publisher)
    wanted = request(seeded, seeded.codes[0])
    attempt = asyncio.ensure_future(service.process([wanted]))
    await _until(lambda: len(publisher.pending) == 1)
    publisher.answer(0, failed=True)
    with pytest.raises(BrokerUnavailable):
        await asyncio.wait_for(attempt, 10)
    assert _statuses(container, seeded.tenant_id) == [(seeded.codes[0], 1, 0)]
    retried = asyncio.ensure_future(service.process([wanted]))  # as the batch runner does
    await _until(lambda: len(publisher.pending) == 2)
    publisher.answer(1)
    [result] = await asyncio.wait_for(retried, 10)
    assert result.outcome is O.REDEEMED
    assert _statuses(container, seeded.tenant_id) == [(seeded.codes[0], 2, 1)]
    grants = publisher.on("reward.grants")
    assert len(grants) == 2 and grants[0].value == grants[1].value, "the same grant, again"
