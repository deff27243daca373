"""A whole HTTP stack for gateway tests: real gateway and worker processes, the session
broker, MariaDB and Redis; seeded campaigns for two tenants and one API key each."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core.adapters.kafka.admin import create_topics
from core.adapters.kafka.broker import find_free_port
from core.apikeys import issue_key
from core.bootstrap import bootstrap
from core.settings import Settings
from tests.e2e.harness import ROOT, WorkerProcess, settings_env
from tests.integration.redeem_support import SeededCampaign, seed_campaign


class GatewayProcess:
    """``redeemflow gateway`` in a child process on a free port."""

    def __init__(
        self, settings: Settings, log_dir: Path, *, workers: int = 1, **env: str
    ) -> None:
        self.port = find_free_port()
        self.workers = workers
        self.url = f"http://127.0.0.1:{self.port}"
        self._settings = settings
        self._env = env
        self._log = (log_dir / f"gateway-{uuid.uuid4().hex[:6]}.log").open("wb")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> GatewayProcess:
        """Spawn the gateway; returns at once (see :meth:`wait_ready`)."""
        env = {**settings_env(self._settings), "REDEEMFLOW_METRICS_PORT": "0", **self._env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "gateway", "--port", str(self.port),
             *(["--workers", str(self.workers)] if self.workers != 1 else [])],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_up(self, timeout: float = 30.0, path: str = "/healthz") -> None:
        """Block until ``path`` answers 200 (raise with the log tail otherwise)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"gateway exited:\n{self.log_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + path, timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"gateway not answering {path}:\n{self.log_text()[-3000:]}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM the process group, SIGKILL if it lingers; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()
        return self.process.returncode

    def log_text(self) -> str:
        """What the gateway wrote so far."""
        if not self._log.closed:
            self._log.flush()
        return Path(self._log.name).read_text(errors="replace")


@dataclass
class Stack:
    """What a gateway test needs: URL, keys, seeded codes, processes."""

    settings: Settings
    gateway: GatewayProcess
    worker: WorkerProcess
    log_dir: Path
    tenant_a: SeededCampaign
    tenant_b: SeededCampaign
    key_a: str
    key_b: str
    used: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        """The gateway's base URL."""
        return self.gateway.url

    def fresh_code(self, seeded: SeededCampaign | None = None) -> str:
        """A seeded code no test has used yet."""
        campaign = seeded or self.tenant_a
        code = next(c for c in campaign.codes if c not in self.used)
        self.used.add(code)
        return code

    def restart_worker(self) -> None:
        """Start a new worker process in the same consumer group."""
        self.worker = WorkerProcess(self.settings, self.log_dir).start()


def stack_settings(base: Settings, bootstrap_servers: str) -> Settings:
    """Settings with topics of their own (created) on the session broker."""
    settings = base.model_copy(
        update={
            "kafka_bootstrap_servers": bootstrap_servers,
            "topic_prefix": f"t{uuid.uuid4().hex[:12]}.",
            "consumer_group": f"rf-{uuid.uuid4().hex[:8]}",
            "topic_partitions": 4,
        }
    )
    create_topics(settings)
    return settings


def warm_up(url: str, key: str, timeout: float = 90.0) -> None:
    """Wait until a request is decided end to end (worker joined its group)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.post(
            url + "/api/redeem", json={"code": "WARMUP", "userId": f"warm{uuid.uuid4().hex[:6]}"},
            headers={"x-api-key": key, "x-product-code": "APP_A"}, timeout=30,
        )
        if answer.status_code != 202:
            return
    raise AssertionError("the worker never answered a request")


@contextlib.contextmanager
def running_stack(
    base: Settings,
    bootstrap_servers: str,
    log_dir: Path,
    gateway_env: Callable[[str, str], dict[str, str]] | None = None,
    workers: int = 1,
) -> Iterator[Stack]:
    """Seed two tenants, start a worker and a gateway, wait until requests are decided.

    ``gateway_env(tenant_a, tenant_b)`` adds variables to the gateway's environment (e.g.
    CORS origins naming the seeded tenants); ``workers`` is ``gateway --workers``."""
    settings = stack_settings(base, bootstrap_servers)
    with bootstrap(settings) as container:
        tenant_a = seed_campaign(container, count=40)
        tenant_b = seed_campaign(container, count=5)
        store = container.api_key_store
        key_a = issue_key(store, tenant_a.tenant_id, "e2e").secret_key
        key_b = issue_key(store, tenant_b.tenant_id, "e2e").secret_key
    worker = WorkerProcess(settings, log_dir).start()
    extra = gateway_env(tenant_a.tenant_id, tenant_b.tenant_id) if gateway_env else {}
    gateway = GatewayProcess(
        settings, log_dir, workers=workers, REDEEMFLOW_GATEWAY_RESULT_TIMEOUT_SECONDS="3",
        **extra,
    ).start()
    stack = Stack(settings, gateway, worker, log_dir, tenant_a, tenant_b, key_a, key_b)
    try:
        gateway.wait_up(path="/readyz")
        warm_up(gateway.url, key_a)
        yield stack
    finally:
        gateway_code = gateway.stop()
        worker_code = stack.worker.stop()
    # uvicorn re-raises the SIGTERM it handled once shut down gracefully: -15 is clean
    tail = gateway.log_text()[-3000:]
    assert gateway_code in (0, -signal.SIGTERM), f"exit {gateway_code}: {tail}"
    assert worker_code == 0, stack.worker.log_text()[-3000:]
