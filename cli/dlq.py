"""``redeemflow dlq``: inspect dead-lettered messages and replay them after a fix."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.common import JSON_OPTION, console, container, emit_json, out, reports_errors

app = typer.Typer(help="Dead-letter topics: list, replay.", no_args_is_help=True)
TOPIC_OPTION = typer.Option(..., "--topic", help="The consumed topic, e.g. redeem.requests.")


@app.command("list")
@reports_errors
def list_(
    topic: str = TOPIC_OPTION,
    limit: int = typer.Option(50, "--limit", help="Show at most N dead letters."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show dead letters: partition:offset, key, error headers and a preview of the value."""
    from core.dlq import read_dead_letters

    with container() as built, console.status(f"reading {topic}.dlq..."):
        letters = read_dead_letters(built.topic_reader, built.settings, topic, limit)
    if as_json:
        emit_json([d.as_dict() for d in letters])
        return
    table = Table(title=f"{topic}.dlq ({len(letters)} shown)")
    for column in ("ref", "key", "error_type", "error", "value"):
        table.add_column(column, overflow="fold")
    for d in letters:
        table.add_row(d.ref, (d.key or b"").decode(errors="replace"),
                      d.headers.get("error_type", ""), d.headers.get("error", "")[:200], d.preview)
    out.print(table)


@app.command("replay")
@reports_errors
def replay_(
    topic: str = TOPIC_OPTION,
    offset: list[str] = typer.Option([], "--offset", help="P:N or N (repeatable)."),
    replay_all: bool = typer.Option(False, "--all", help="Replay every dead letter."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be replayed."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Re-publish chosen dead letters (original key and bytes) to the original topic."""
    from core.dlq import original_topic, read_dead_letters, replay, select

    if bool(offset) == replay_all:
        console.print("[red]error:[/red] give --offset (repeatable) or --all")
        raise typer.Exit(2)
    with container() as built:
        letters = read_dead_letters(built.topic_reader, built.settings, topic)
        chosen = letters if replay_all else select(letters, offset)
        targets = [original_topic(built.settings, topic, d) for d in chosen]
        sent = 0 if dry_run else replay(built.event_sink, built.settings, topic, chosen)
    if as_json:
        emit_json({"dry_run": dry_run, "replayed": sent,
                   "selected": [{"ref": d.ref, "to": t} for d, t in zip(chosen, targets,
                                                                          strict=True)]})
        return
    for d, target in zip(chosen, targets, strict=True):
        out.print(f"{d.ref} -> {target}")
    verb = "would replay" if dry_run else "replayed"
    out.print(f"{verb} {len(chosen)} dead letter(s)")
