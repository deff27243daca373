"""Drive real worker processes against the broker, MariaDB and Redis of the test session."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.adapters.kafka.producer import EventProducer
from core.settings import Settings, child_environment
from core.topics import Topic
from producers.reader import read_topic
from schemas.events import RedeemRequested, RedeemResult

ROOT = Path(__file__).resolve().parents[2]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process see ``settings``."""
    return child_environment(settings)


class WorkerProcess:
    """``redeemflow worker`` in a child process with its own process group."""

    def __init__(
        self,
        settings: Settings,
        log_dir: Path,
        name: str = "worker",
        web_port: int = 0,
        *,
        metrics_port: int = 0,
        loglevel: str = "warning",
    ) -> None:
        self._settings = settings
        self._web_port = web_port
        self._metrics_port = metrics_port
        self._loglevel = loglevel
        self._log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self._log = self._log_path.open("wb")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        """Spawn the worker (web server off unless a port was given; metrics on a free port)."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "worker",
                "--web-port",
                str(self._web_port),
                "--metrics-port",
                str(self._metrics_port),
                "--loglevel",
                self._loglevel,
            ],
            cwd=ROOT,
            env=settings_env(self._settings),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL the worker (a crash)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not stop in time; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.process.returncode

    def log_text(self) -> str:
        """What the worker printed so far (also after ``stop`` closed the log)."""
        if not self._log.closed:
            self._log.flush()
        return self._log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        """Return once the worker has printed ``text``; fail the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            assert time.monotonic() < deadline, f"never logged {text!r}: {self.log_text()[-2000:]}"
            time.sleep(0.1)


def publish(settings: Settings, topic: str, messages: Iterable[tuple[bytes | str, bytes]]) -> int:
    """Produce (key, value) pairs to a contract topic and wait for delivery."""
    count = 0
    with EventProducer(settings) as producer:
        for key, value in messages:
            producer.produce(settings.topic(topic), key, value)
            count += 1
        producer.flush(60)
    return count


def publish_requests(settings: Settings, requests: Iterable[RedeemRequested]) -> int:
    """Publish redemption requests as an upstream service would, keyed by code."""
    return publish(
        settings, Topic.REDEEM_REQUESTS, [(r.kafka_key(), r.to_bytes()) for r in requests]
    )


def outcomes_by_request(results: Iterable[Any]) -> dict[str, set[tuple[str, tuple[str, ...]]]]:
    """Every (outcome, grant ids) answered per request_id, from redeem.results records."""
    outcomes: dict[str, set[tuple[str, tuple[str, ...]]]] = collections.defaultdict(set)
    for message in results:
        result = RedeemResult.from_bytes(message.value())
        outcomes[result.request_id].add((result.outcome, tuple(result.grant_ids)))
    return outcomes


def consume_all(settings: Settings, topic: str, expected: int, timeout: float = 120.0) -> list:
    """Read a topic from the beginning until ``expected`` records arrived (plus a second of
    stragglers, so duplicates show up) or time ran out."""
    return read_topic(
        settings, topic, done=lambda records: len(records) >= expected, timeout=timeout,
        linger=1.0,
    )
