"""A tenant.updated suspending a tenant stops its redemptions on a running worker within
seconds: TENANT_INACTIVE, nothing claimed; re-activated, it redeems again."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from core.bootstrap import bootstrap
from core.topics import Topic
from schemas.events import RedeemOutcome as O
from schemas.events import RedeemResult, TenantUpdated
from tests.code_support import lookup
from tests.e2e.harness import WorkerProcess, consume_all, publish, publish_requests
from tests.integration.redeem_support import request, seed_campaign

pytestmark = pytest.mark.e2e


def _status_event(tenant_id: str, status: str, version: int) -> tuple[bytes, bytes]:
    event = TenantUpdated(tenant_id=tenant_id, name="Tenant", type="CHANNEL", status=status,
                          code_quota=1000, version=version)
    return tenant_id.encode(), event.to_bytes()


def _wait_for_status(container, tenant_id: str, status: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (record := container.tenants.get(tenant_id)) is None or record.status != status:
        assert time.monotonic() < deadline, f"tenant never became {status}"
        time.sleep(0.1)


def test_a_tenant_suspended_while_workers_run_stops_redeeming_within_seconds(
    e2e_settings, tmp_path
) -> None:
    refresh = e2e_settings.tenant_status_refresh_seconds
    with bootstrap(e2e_settings) as container:
        seeded = seed_campaign(container, count=3)
        tenant = seeded.tenant_id
        worker = WorkerProcess(e2e_settings, tmp_path).start()
        try:
            publish(e2e_settings, Topic.TENANT_UPDATED, [_status_event(tenant, "ACTIVE", 1)])
            _wait_for_status(container, tenant, "ACTIVE")
            before = request(seeded, seeded.codes[0])
            publish_requests(e2e_settings, [before])
            consume_all(e2e_settings, Topic.REDEEM_RESULTS, expected=1, timeout=90)

            publish(e2e_settings, Topic.TENANT_UPDATED, [_status_event(tenant, "SUSPENDED", 2)])
            _wait_for_status(container, tenant, "SUSPENDED")  # applied by the worker's agent
            time.sleep(refresh + 0.5)  # every worker's copy is at most this old
            during = request(seeded, seeded.codes[1])
            publish_requests(e2e_settings, [during])
            consume_all(e2e_settings, Topic.REDEEM_RESULTS, expected=2, timeout=60)

            publish(e2e_settings, Topic.TENANT_UPDATED, [_status_event(tenant, "ACTIVE", 3)])
            _wait_for_status(container, tenant, "ACTIVE")
            time.sleep(refresh + 0.5)
            after = request(seeded, seeded.codes[2])
            publish_requests(e2e_settings, [after])
            records = consume_all(e2e_settings, Topic.REDEEM_RESULTS, expected=3, timeout=60)
        finally:
            assert worker.stop() == 0, worker.log_text()[-3000:]
        with container.engine.connect() as conn:
            used = conn.execute(
                text("SELECT status FROM redeem_codes WHERE tenant_id=:t AND code=:c"),
                {"t": tenant, "c": lookup(container, tenant, seeded.codes[1])},
            ).scalar()
    outcomes = {
        (r := RedeemResult.from_bytes(m.value())).request_id: r.outcome for m in records
    }
    assert outcomes == {
        before.request_id: O.REDEEMED,
        during.request_id: O.TENANT_INACTIVE,
        after.request_id: O.REDEEMED,
    }
    assert used == 0, "a suspended tenant's request claims nothing"
