"""The tenant registry: version-guarded, order-independent updates and redundant copies."""

from __future__ import annotations

import random
import threading

import pytest

from core.bootstrap import Container
from schemas.events import TenantStatus, TenantType, TenantUpdated
from tests.conftest import unique_id
from tests.integration.test_generation import make_campaign, rows

pytestmark = pytest.mark.integration


def event(tenant: str, version: int, **changes: object) -> TenantUpdated:
    values: dict[str, object] = {
        "tenant_id": tenant, "name": f"name-v{version}", "type": TenantType.CHANNEL,
        "status": TenantStatus.ACTIVE, "code_quota": 1000 * version, "version": version,
    }
    return TenantUpdated.model_validate({**values, **changes})


def test_out_of_order_events_end_in_the_newest_state(container: Container) -> None:
    tenant = unique_id("t")
    applied = [container.tenants.apply_update(event(tenant, v)) for v in (3, 1, 2)]
    assert applied == [True, False, False]
    stored = container.tenants.get(tenant)
    assert stored is not None
    assert (stored.name, stored.version, stored.code_quota) == ("name-v3", 3, 3000)


def test_a_duplicate_event_changes_nothing(container: Container) -> None:
    tenant = unique_id("t")
    assert container.tenants.apply_update(event(tenant, 3))
    assert not container.tenants.apply_update(
        event(tenant, 3, name="other", status=TenantStatus.CLOSED)
    )
    stored = container.tenants.get(tenant)
    assert stored is not None and (stored.name, stored.status) == ("name-v3", "ACTIVE")


def test_a_newer_event_updates_the_campaigns_redundant_fields(container: Container) -> None:
    tenant = unique_id("t")
    container.tenants.apply_update(event(tenant, 1))
    campaign = make_campaign(container, tenant, 0)
    container.tenants.apply_update(event(tenant, 2, name="Renamed",
                                                type=TenantType.PLATFORM))
    assert rows(container, "SELECT tenant_name, tenant_type FROM campaigns WHERE"
                " campaign_id = :c", c=campaign) == [("Renamed", "PLATFORM")]
    container.tenants.apply_update(event(tenant, 1, name="Stale"))
    assert rows(container, "SELECT tenant_name FROM campaigns WHERE campaign_id = :c",
                c=campaign) == [("Renamed",)]


def test_concurrent_deliveries_keep_the_highest_version(container: Container) -> None:
    tenant = unique_id("t")
    versions = list(range(1, 31))
    random.shuffle(versions)
    errors: list[BaseException] = []

    def deliver(chunk: list[int]) -> None:
        for v in chunk:
            for _attempt in range(20):
                try:
                    container.tenants.apply_update(event(tenant, v))
                    break
                except Exception as exc:  # noqa: BLE001 - deadlocks are retried below
                    errors.append(exc)
    threads = [threading.Thread(target=deliver, args=(versions[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = container.tenants.get(tenant)
    assert stored is not None and (stored.version, stored.name) == (30, "name-v30")
