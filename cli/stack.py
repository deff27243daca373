"""The local stack behind ``redeemflow up`` and ``redeemflow demo``.

A broker (the configured one when it answers, else an embedded Tansu on a free port), the
database migrated, the topics created, and child processes (worker, gateway) started with
the same settings; everything is stopped when the block ends, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine

from cli.common import console
from core.adapters.kafka.admin import create_topics, existing_topics
from core.adapters.kafka.broker import EmbeddedBroker
from core.adapters.mysql.migrate import upgrade
from core.errors import BrokerUnavailable
from core.settings import Settings, child_environment


@dataclass
class LocalStack:
    """What is running: the settings every part shares and the child processes."""

    settings: Settings
    embedded_broker: bool
    log_dir: Path
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start ``redeemflow ARGS`` as a child with these settings, logging to a file."""
        log = (self.log_dir / f"{name}.log").open("wb")
        child = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            env=child_environment(self.settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.children[name] = child
        return child

    def check_children(self) -> None:
        """Raise if a child died (its log tail in the message)."""
        for name, child in self.children.items():
            if child.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {child.returncode}:\n{tail}")

    def stop_children(self, timeout: float = 30.0) -> None:
        """SIGTERM every child (they finish what they hold), SIGKILL stragglers."""
        for child in self.children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(5)


def broker_answers(settings: Settings) -> bool:
    """Whether the configured broker answers a metadata request within a few seconds."""
    try:
        existing_topics(settings, timeout=3.0)
    except BrokerUnavailable:
        return False
    return True


@contextlib.contextmanager
def local_stack(settings: Settings, log_dir: Path) -> Iterator[LocalStack]:
    """Broker up, schema migrated, topics created; children stopped on exit."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        embedded = not broker_answers(settings)
        if embedded:
            broker = stack.enter_context(EmbeddedBroker())
            settings = settings.model_copy(
                update={"kafka_bootstrap_servers": broker.bootstrap_servers}
            )
            console.print(f"started embedded broker on {broker.bootstrap_servers}")
        engine = create_engine(settings.database_url)
        report = upgrade(engine)
        engine.dispose()
        console.print(f"database {report.database} at schema version {report.current_version}")
        created = create_topics(settings)
        console.print(f"topics ready ({len(created)} created)")
        running = LocalStack(settings, embedded, log_dir)
        try:
            yield running
        finally:
            running.stop_children()
