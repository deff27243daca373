"""docker-compose.yml and the Dockerfile agree with the code (no Docker engine needed).

Every ``REDEEMFLOW_*`` variable must be a Settings field, every ``redeemflow`` command and
option must exist in the CLI, every dependency must be a service, and published ports must
match what the processes listen on.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import typer.main
import yaml

from cli.main import app as cli_app
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"kafka", "mysql", "redis", "migrate", "worker", "compensation", "gateway", "admin"}
APP_SERVICES = {"migrate", "worker", "compensation", "gateway", "admin"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _argv(service: dict) -> list[list[str]]:
    """The redeemflow command lines a service runs (entrypoint ``redeemflow`` or ``sh -c``)."""
    command = service.get("command", [])
    if service.get("entrypoint") == ["sh", "-c"]:
        lines = " ".join(command).split("&&")
        return [shlex.split(line)[1:] for line in lines if line.strip()]
    return [list(command)]


def _resolve(argv: list[str]) -> tuple[Any, list[str]]:
    """Walk the CLI's command tree along ``argv``; the command reached and the rest."""
    command: Any = typer.main.get_command(cli_app)
    rest = list(argv)
    while rest and hasattr(command, "get_command") and not rest[0].startswith("-"):
        sub = command.get_command(click.Context(command), rest[0])
        assert sub is not None, f"`redeemflow {' '.join(argv)}`: no command {rest[0]!r}"
        command, rest = sub, rest[1:]
    return command, rest


def test_every_service_is_there(compose: dict) -> None:
    assert set(compose["services"]) == SERVICES
    for name in ("kafka", "mysql", "redis", "gateway"):
        assert "healthcheck" in compose["services"][name], name
    assert compose["services"]["worker"]["deploy"]["replicas"] == 2
    assert compose["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == (
        "broker,controller"
    )


def test_every_redeemflow_variable_is_a_setting(compose: dict) -> None:
    fields = set(Settings.model_fields)
    seen = set()
    for name, service in compose["services"].items():
        for variable in service.get("environment") or {}:
            if not variable.startswith("REDEEMFLOW_"):
                continue
            field = variable.removeprefix("REDEEMFLOW_").lower().split("__")[0]
            assert field in fields, f"{name}: {variable} is not a Settings field"
            seen.add(variable)
    env = compose["services"]["worker"]["environment"]
    parsed = Settings(**{  # the values parse (the secret is interpolated by compose)
        k.removeprefix("REDEEMFLOW_").lower(): v for k, v in env.items()
        if k != "REDEEMFLOW_CODE_SECRET"
    })
    assert parsed.kafka_bootstrap_servers == "kafka:9092"
    assert {"REDEEMFLOW_KAFKA_BOOTSTRAP_SERVERS", "REDEEMFLOW_DATABASE_URL",
            "REDEEMFLOW_REDIS_URL"} <= seen


def test_every_command_and_option_exists(compose: dict) -> None:
    for name in APP_SERVICES:
        service = compose["services"][name]
        for argv in _argv(service):
            command, rest = _resolve(argv)
            options = {opt for p in command.params for opt in p.opts}
            for token in rest:
                if token.startswith("--"):
                    assert token in options, f"{name}: `redeemflow {' '.join(argv)}`: {token}"


def test_dependencies_and_ports_are_consistent(compose: dict) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown {dependency}"
    gateway = services["gateway"]
    port = gateway["command"][gateway["command"].index("--port") + 1]
    assert [p.split(":")[1] for p in gateway["ports"]] == [port]
    assert port in " ".join(gateway["healthcheck"]["test"])
    metrics = services["worker"]["environment"]["REDEEMFLOW_METRICS_PORT"]
    for name in ("worker", "compensation"):
        worker = services[name]
        web = worker["command"][worker["command"].index("--web-port") + 1]
        assert sorted(worker["expose"]) == sorted([web, metrics]), name
        assert f":{web}/readyz" in " ".join(worker["healthcheck"]["test"]), name
    kafka = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert services["worker"]["environment"]["REDEEMFLOW_KAFKA_BOOTSTRAP_SERVERS"] in kafka


def test_dockerfile_builds_the_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "pip install '.[fast]'" in dockerfile and 'ENTRYPOINT ["redeemflow"]' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "node_modules", ".git"} <= set(ignored)
