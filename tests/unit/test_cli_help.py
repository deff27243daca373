"""Every command of the ``redeemflow`` CLI answers ``--help`` (no I/O happens for that)."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import typer.main
import typer.testing
from typer.testing import CliRunner

from cli.main import app

EXPECTED_GROUPS = {
    "broker",
    "topics",
    "schemas",
    "db",
    "codes",
    "tenant",
    "campaign",
    "redeem",
    "worker",
    "demo",
    "up",
    "compensate",
    "cache",
    "dlq",
    "gateway",
    "apikey",
    "token",
    "admin",
    "operator",
}


@pytest.fixture(autouse=True)
def _converted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """typer's CliRunner converts the whole Typer app into its click command on every
    ``invoke`` (most of this module's time, with ~70 invocations): convert it once."""
    monkeypatch.setattr(typer.testing, "_get_command", _command_of)


@cache
def _command_of(app: typer.Typer) -> Any:
    return typer.main.get_command(app)


def _paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    if hasattr(command, "commands"):  # a group (typer vendors its own click)
        for name, sub in command.commands.items():
            paths.extend(_paths(sub, (*prefix, name)))
    return paths


def test_top_level_lists_every_group() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    root: Any = typer.main.get_command(app)
    assert set(root.commands) >= EXPECTED_GROUPS
    for name in EXPECTED_GROUPS:
        assert name in result.output


def test_every_subcommand_has_help() -> None:
    root = typer.main.get_command(app)
    paths = [p for p in _paths(root) if p]
    assert len(paths) > len(EXPECTED_GROUPS)
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output, path


SINGLE_ACTIONS = ("broker", "worker", "gateway", "compensate", "demo", "up", "redeem")


def test_single_action_commands_show_no_phantom_subcommand() -> None:
    """``worker`` & co. take options only: their usage line names no COMMAND to give."""
    runner = CliRunner()
    for name in SINGLE_ACTIONS:
        result = runner.invoke(app, [name, "--help"], terminal_width=200)
        assert result.exit_code == 0, (name, result.output)
        usage = next(line for line in result.output.splitlines() if "Usage:" in line)
        assert f"redeemflow {name} [OPTIONS]" in usage, usage
        assert "COMMAND" not in usage, usage


def test_groups_still_list_their_subcommands() -> None:
    result = CliRunner().invoke(app, ["codes", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "COMMAND [ARGS]" in result.output and "generate" in result.output
