"""The gateway's store reads happen once per key however many requests need them at once:
concurrent callers share one read (SingleFlight), also through the Authenticator, whose
caches (API keys, tenant statuses) expire for every request of a tenant together."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.datastructures import Headers

from core.apikeys import ApiKeyRecord, ApiKeyResolver, new_key
from core.redemption.tenant_status import TenantStatuses
from producers.gateway.auth import Authenticator, TenantInactive
from producers.gateway.single_flight import SingleFlight


class GatedLoad:
    """A blocking load that counts its calls and returns once ``gate`` is open."""

    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self.calls = 0
        self.gate = threading.Event()
        self._result, self._error = result, error

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        assert self.gate.wait(10), "the test never opened the gate"
        if self._error is not None:
            raise self._error
        return self._result


async def callers_waiting(tasks: list[asyncio.Task[Any]], load: GatedLoad) -> list[Any]:
    """Let every task reach its await, open the gate, collect the outcomes."""
    await asyncio.sleep(0)
    load.gate.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def executor() -> Any:
    with ThreadPoolExecutor(8) as pool:
        yield pool


async def test_concurrent_callers_share_one_read(executor: ThreadPoolExecutor) -> None:
    flights, load = SingleFlight(executor), GatedLoad(result="t1")
    tasks = [asyncio.create_task(flights.run("k", load, "arg")) for _ in range(30)]
    assert await callers_waiting(tasks, load) == ["t1"] * 30
    assert load.calls == 1
    assert await flights.run("k", load, "arg") == "t1" and load.calls == 2  # landed: read again


async def test_a_failed_read_fails_its_callers_and_the_next_call_reads_again(
    executor: ThreadPoolExecutor,
) -> None:
    flights, load = SingleFlight(executor), GatedLoad(error=RuntimeError("store down"))
    tasks = [asyncio.create_task(flights.run("k", load)) for _ in range(5)]
    outcomes = await callers_waiting(tasks, load)
    assert [type(o) for o in outcomes] == [RuntimeError] * 5 and load.calls == 1
    with pytest.raises(RuntimeError):
        await flights.run("k", load)
    assert load.calls == 2


async def test_a_cancelled_caller_leaves_the_read_to_the_others(
    executor: ThreadPoolExecutor,
) -> None:
    flights, load = SingleFlight(executor), GatedLoad(result=42)
    first = asyncio.create_task(flights.run("k", load))
    second = asyncio.create_task(flights.run("k", load))
    await asyncio.sleep(0)
    first.cancel()
    load.gate.set()
    assert await second == 42 and load.calls == 1
    assert first.cancelled()


class CountingKeys:
    """An ApiKeyStore reading one active key of tenant ``t1``, counting its reads."""

    def __init__(self, gate: threading.Event) -> None:
        self.reads = 0
        self._gate = gate

    def find_by_hash(self, key_hash: str) -> ApiKeyRecord:
        self.reads += 1
        assert self._gate.wait(10)
        return ApiKeyRecord("k1", "t1", "unit", datetime.now(UTC), None)


async def test_requests_of_a_tenant_share_its_key_and_status_reads(
    executor: ThreadPoolExecutor,
) -> None:
    statuses = GatedLoad(result={"t1": "ACTIVE"})
    keys = CountingKeys(statuses.gate)
    auth = Authenticator(ApiKeyResolver(keys, 30.0), None, executor,  # type: ignore[arg-type]
                         TenantStatuses(statuses, 2.0))
    headers = Headers({"x-api-key": new_key()[1]})
    tasks = [asyncio.create_task(auth.principal(headers)) for _ in range(30)]
    principals = await callers_waiting(tasks, statuses)
    assert {p.tenant_id for p in principals} == {"t1"}
    assert keys.reads == 1 and statuses.calls == 1


async def test_an_inactive_tenant_is_refused_to_every_waiting_caller(
    executor: ThreadPoolExecutor,
) -> None:
    statuses = GatedLoad(result={"t1": "SUSPENDED"})
    keys = CountingKeys(threading.Event())
    keys._gate.set()
    auth = Authenticator(ApiKeyResolver(keys, 30.0), None, executor,  # type: ignore[arg-type]
                         TenantStatuses(statuses, 2.0))
    headers = Headers({"x-api-key": new_key()[1]})
    await auth.tenant_of_key(headers["x-api-key"])  # the key is cached; statuses are not
    tasks = [asyncio.create_task(auth.principal(headers)) for _ in range(10)]
    outcomes = await callers_waiting(tasks, statuses)
    assert [type(o) for o in outcomes] == [TenantInactive] * 10 and statuses.calls == 1
