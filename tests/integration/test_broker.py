"""The embedded Tansu broker starts, answers Kafka metadata and never outlives its owner."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from core.adapters.kafka.broker import EmbeddedBroker, find_free_port
from core.errors import BrokerUnavailable

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int, within: float = 5.0) -> bool:
    """Whether process ``pid`` (and its process group) no longer exists."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.05)
    return False


def _answers_metadata(bootstrap: str) -> bool:
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=5)
    return metadata.orig_broker_id is not None and len(metadata.brokers) >= 1


def test_starts_answers_metadata_and_stops() -> None:
    with EmbeddedBroker() as broker:
        pid = broker.pid
        assert pid is not None and broker.is_running()
        assert broker.bootstrap_servers == f"127.0.0.1:{broker.port}"
        assert _answers_metadata(broker.bootstrap_servers)
    assert not broker.is_running()
    assert _gone(pid)


def test_exception_inside_with_still_stops() -> None:
    with pytest.raises(RuntimeError, match="boom"), EmbeddedBroker() as broker:
        pid = broker.pid
        raise RuntimeError("boom")
    assert pid is not None and _gone(pid)


def test_fixed_port_and_idempotent_stop() -> None:
    port = find_free_port()
    broker = EmbeddedBroker(port).start()
    try:
        assert broker.bootstrap_servers == f"127.0.0.1:{port}"
        assert _answers_metadata(broker.bootstrap_servers)
    finally:
        broker.stop()
        broker.stop()
    assert not broker.is_running()


def test_port_taken_fails_with_broker_output() -> None:
    port = find_free_port()
    with EmbeddedBroker(port), pytest.raises(BrokerUnavailable) as info:
        EmbeddedBroker(port, startup_timeout=10).start()
    assert str(port) in str(info.value)


def _spawn_python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_finalizer_stops_broker_when_owner_exits_without_stop() -> None:
    child = _spawn_python(
        "from core.adapters.kafka.broker import EmbeddedBroker\n"
        "b = EmbeddedBroker().start()\n"
        "print(b.pid, flush=True)\n"
    )
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0, out
    assert _gone(int(out.split()[-1]))


def test_broker_dies_with_killed_owner() -> None:
    child = _spawn_python(
        "import time\n"
        "from core.adapters.kafka.broker import EmbeddedBroker\n"
        "b = EmbeddedBroker().start()\n"
        "print(b.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    try:
        assert child.stdout is not None
        pid = int(child.stdout.readline())
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert _gone(pid)
    finally:
        child.kill()
        child.communicate()


def test_run_foreground_stops_on_sigterm() -> None:
    port = find_free_port()
    child = _spawn_python(
        "from core.adapters.kafka.broker import run_foreground\n"
        f"raise SystemExit(run_foreground({port}))\n"
    )
    try:
        assert child.stdout is not None
        ready = child.stdout.readline()
        assert f"127.0.0.1:{port}" in ready
        assert _answers_metadata(f"127.0.0.1:{port}")
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=15) == 0
    finally:
        child.kill()
        child.communicate()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
