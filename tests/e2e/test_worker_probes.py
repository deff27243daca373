"""The worker answers /healthz and /readyz (Kafka, MySQL, Redis) on its web port."""

from __future__ import annotations

import time

import httpx
import pytest

from core.adapters.kafka.broker import find_free_port
from tests.e2e.harness import WorkerProcess

pytestmark = pytest.mark.e2e


def test_worker_health_and_readiness(e2e_settings, tmp_path) -> None:
    port = find_free_port()
    settings = e2e_settings.model_copy(update={"metrics_port": 0})
    worker = WorkerProcess(settings, tmp_path, "probed", web_port=port).start()
    try:
        ready = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert ready is not None, worker.log_text()[-2000:]
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert {name for name, c in checks.items() if c["ok"]} >= {"kafka", "mysql", "redis"}
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.json() == {"status": "ok"}
    finally:
        assert worker.stop() == 0, worker.log_text()[-2000:]
