"""A hung Redis (a private redis-server, paused with SIGSTOP) fails a batch as retryable
within the configured socket timeout, and the retried batch completes once it answers."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from core.bootstrap import bootstrap
from core.errors import CacheUnavailable, RetryableError
from core.pipeline import retry_transient
from core.settings import Settings
from schemas.events import RedeemOutcome as O
from tests.integration.redeem_support import make_service, request, seed_campaign

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

SOCKET_TIMEOUT = 1.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def private_redis(tmp_path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A redis-server of this test alone, on a free port (it is paused and resumed)."""
    port = _free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "private redis-server did not start"
                time.sleep(0.05)
        yield process, url
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(10)


async def test_a_paused_redis_fails_the_batch_in_time_and_the_retry_completes(
    base_settings: Settings, private_redis
) -> None:
    process, url = private_redis
    settings = base_settings.model_copy(
        update={"redis_url": url, "redis_socket_timeout_seconds": SOCKET_TIMEOUT,
                "redis_connect_timeout_seconds": SOCKET_TIMEOUT}
    )
    with bootstrap(settings) as container:
        seeded = seed_campaign(container, count=2)
        service, _ = make_service(container)
        [warm] = await service.process([request(seeded, seeded.codes[0])])
        assert warm.outcome is O.REDEEMED

        os.kill(process.pid, signal.SIGSTOP)
        paused = request(seeded, seeded.codes[1])
        started = time.monotonic()
        with pytest.raises(CacheUnavailable) as failure:
            await asyncio.wait_for(service.process([paused]), 30)
        took = time.monotonic() - started
        assert isinstance(failure.value, RetryableError)
        assert took < SOCKET_TIMEOUT + 2.0, f"the batch waited {took:.1f}s on a hung Redis"

        retried = asyncio.ensure_future(
            retry_transient(lambda: service.process([paused]), what="batch")
        )
        await asyncio.sleep(2.5)  # a few attempts fail while Redis is still paused
        assert not retried.done()
        os.kill(process.pid, signal.SIGCONT)
        [result] = await asyncio.wait_for(retried, 30)
        assert result.outcome is O.REDEEMED
