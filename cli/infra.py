"""Infrastructure commands: the embedded broker, topics, JSON Schemas, migrations."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import JSON_OPTION, console, container, emit_json, out, reports_errors
from schemas.json_schema import DIALECT

broker_app = typer.Typer(help="Run the embedded Kafka-compatible broker (Tansu).")
topics_app = typer.Typer(help="Kafka topic administration.", no_args_is_help=True)
schemas_app = typer.Typer(help="Contract message schemas.", no_args_is_help=True)
db_app = typer.Typer(help="MySQL schema migrations.", no_args_is_help=True)


@broker_app.callback(invoke_without_command=True)
@reports_errors
def broker(
    port: int = typer.Option(9092, "--port", help="TCP port to listen on (127.0.0.1)."),
) -> None:
    """Run the embedded broker in the foreground until Ctrl-C."""
    from core.adapters.kafka.broker import run_foreground

    run_foreground(port)


@topics_app.command("create")
@reports_errors
def topics_create(
    partitions: int = typer.Option(None, "--partitions", help="Partitions per topic."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create every topic of the contract (idempotent)."""
    from core.adapters.kafka.admin import create_topics

    with container() as built:
        created = create_topics(built.settings, partitions)
    if as_json:
        emit_json({"created": created})
    else:
        out.print(f"created {len(created)} topic(s): {', '.join(created) or '-'}")


@schemas_app.command("export")
@reports_errors
def schemas_export(
    directory: Path = typer.Argument(..., help="Folder to write into."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write the JSON Schema (Draft 2020-12) of every contract message and of the rule JSON."""
    from core.contract import export_json_schemas

    written = export_json_schemas(directory)
    if as_json:
        emit_json({"directory": str(directory), "dialect": DIALECT,
                   "files": [{"schema": p.name.removesuffix(".schema.json"), "path": str(p),
                              "bytes": p.stat().st_size} for p in written]})
        return
    for path in written:
        out.print(str(path))
    out.print(f"wrote {len(written)} schema(s) into {directory}")


@schemas_app.command("limits")
@reports_errors
def schemas_limits() -> None:
    """Print the README's table of accepted schema versions and field limits (Markdown)."""
    from core.contract import limits_markdown

    out.print(limits_markdown(), end="", markup=False, highlight=False, soft_wrap=True)


@db_app.command("upgrade")
@reports_errors
def db_upgrade(as_json: bool = JSON_OPTION) -> None:
    """Create the database if missing and apply pending migrations."""
    from core.adapters.mysql.migrate import upgrade

    with container() as built:
        report = upgrade(
            built.engine, on_step=lambda m: console.print(f"applying {m.version}: {m.description}")
        )
    if as_json:
        emit_json(report.__dict__)
    else:
        verb = "created" if report.created_database else "using"
        out.print(
            f"{verb} database {report.database}; applied {report.applied or 'nothing'}; "
            f"schema version {report.current_version}"
        )
