"""SIGTERM while a batch is in hand: the worker finishes that batch, commits its offsets and
exits 0; the next worker in the group does not see those requests again.

The batch is kept in hand by cutting the worker's MariaDB (:class:`CuttableProxy`): it
retries until the database is back, which happens only after the SIGTERM.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from core.bootstrap import bootstrap
from core.topics import Topic
from schemas.events import RedeemOutcome as O
from schemas.events import RedeemResult
from tests.e2e.harness import WorkerProcess, consume_all, publish_requests
from tests.e2e.outage import CuttableProxy, service_address, through
from tests.integration.redeem_support import request, seed_campaign

pytestmark = pytest.mark.e2e


def test_sigterm_finishes_the_batch_in_hand_and_commits(e2e_settings, tmp_path) -> None:
    with bootstrap(e2e_settings) as container:
        seeded = seed_campaign(container, count=11)
    first = [request(seeded, code) for code in seeded.codes[:5]]
    in_hand = [request(seeded, code) for code in seeded.codes[5:10]]
    marker = request(seeded, seeded.codes[10])
    with CuttableProxy(*service_address(e2e_settings, "mysql")) as proxy:
        worker = WorkerProcess(through(e2e_settings, "mysql", proxy), tmp_path).start()
        try:
            publish_requests(e2e_settings, first)
            assert len(consume_all(e2e_settings, Topic.REDEEM_RESULTS, 5, timeout=90)) == 5
            proxy.cut()
            publish_requests(e2e_settings, in_hand)
            worker.wait_for_log("transient failure, retrying")  # the batch is in hand
            assert worker.process is not None
            os.killpg(worker.process.pid, signal.SIGTERM)
            time.sleep(2.0)
            assert worker.process.poll() is None, "it waits for its batch, not for the kill"
            proxy.restore()
            assert worker.process.wait(60) == 0, worker.log_text()[-3000:]
        finally:
            worker.stop()
    after_stop = consume_all(e2e_settings, Topic.REDEEM_RESULTS, 11, timeout=5)
    assert len(after_stop) == 10, "the batch in hand was finished before the exit"

    successor = WorkerProcess(e2e_settings, tmp_path, "successor").start()
    try:
        publish_requests(e2e_settings, [marker])
        consume_all(e2e_settings, Topic.REDEEM_RESULTS, 11, timeout=90)  # it is consuming
        # a redelivered batch would answer again meanwhile (a replayed outcome, republished)
        results = consume_all(e2e_settings, Topic.REDEEM_RESULTS, 12, timeout=3)
    finally:
        assert successor.stop() == 0, successor.log_text()[-3000:]
    parsed = [RedeemResult.from_bytes(m.value()) for m in results]
    ids = [r.request_id for r in parsed]
    assert sorted(ids) == sorted(r.request_id for r in [*first, *in_hand, marker]), (
        "each request answered once: the successor did not get the finished batch again"
    )
    assert {r.outcome for r in parsed} == {O.REDEEMED}
