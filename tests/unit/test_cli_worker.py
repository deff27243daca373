"""``redeemflow worker``'s options become settings; bad values end in one line, exit 2."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app


class _Container:
    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[_Container]:
    """Replace the wiring and the worker loop: record what the command would run."""
    runs: list[_Container] = []

    def fake_run_worker(container: _Container, **_: Any) -> None:
        runs.append(container)

    monkeypatch.setattr("core.bootstrap.bootstrap", _Container)
    monkeypatch.setattr("consumers.worker.run_worker", fake_run_worker)
    return runs


def test_batch_options_reach_the_settings(started: list[_Container]) -> None:
    result = CliRunner().invoke(
        app,
        ["worker", "--batch-size", "250", "--batch-window", "0.02", "--batches-in-flight", "3"],
    )
    assert result.exit_code == 0, result.output
    (container,) = started
    assert container.settings.redeem_batch_size == 250
    assert container.settings.redeem_batch_window_seconds == 0.02
    assert container.settings.redeem_batches_in_flight == 3
    assert container.closed


def test_an_invalid_option_is_one_clear_error(started: list[_Container]) -> None:
    result = CliRunner().invoke(app, ["worker", "--batches-in-flight", "0"])
    assert result.exit_code == 2
    assert "REDEEMFLOW_REDEEM_BATCHES_IN_FLIGHT" in result.output
    assert "Traceback" not in result.output
    assert started == []


def test_metrics_port_option_reaches_the_settings(started: list[_Container]) -> None:
    result = CliRunner().invoke(app, ["worker", "--metrics-port", "0"])
    assert result.exit_code == 0, result.output
    (container,) = started
    assert container.settings.metrics_port == 0
