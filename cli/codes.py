"""``redeemflow codes``: generate, resume or roll back code batches; campaign code stats."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from cli.common import JSON_OPTION, console, container, emit_json, out, reports_errors
from core.errors import InvalidRule
from core.generation import ProgressFn
from schemas.code_rule import CodeGenerateRule

app = typer.Typer(help="Generate redemption codes and report on them.", no_args_is_help=True)


@contextmanager
def progress_bar(description: str, quiet: bool = False) -> Iterator[ProgressFn]:
    """A rich progress bar on stderr, driven by (done, total) callbacks."""
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                  disable=quiet, transient=False) as bar:
        task = bar.add_task(description, total=None, visible=False)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, visible=True)

        yield advance


def build_rule(base: CodeGenerateRule | None, overrides: dict[str, Any]) -> CodeGenerateRule | None:
    """The campaign's rule with the given options changed (None when no option was given)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return None
    fields = base.model_dump() if base is not None else {}
    try:
        return CodeGenerateRule.model_validate({**fields, **given})
    except ValidationError as exc:
        raise InvalidRule(f"invalid code rule: {exc.errors()[0]['msg']}") from exc


def print_summary(result: Any, as_json: bool, verb: str) -> None:
    """A one-line summary, or JSON with ``--json``."""
    summary = {"batch_id": result.batch_id, "tenant_id": result.tenant_id,
               "campaign_id": result.campaign_id, "status": result.status,
               "requested": result.requested, "inserted": result.inserted,
               "count": result.written_now, "collisions": result.collisions,
               "seconds": round(result.seconds, 3),
               "codes_per_second": round(result.codes_per_second)}
    if as_json:
        emit_json(summary)
        return
    out.print(f"{verb} {result.written_now:,} codes in {result.seconds:.2f}s "
              f"({result.codes_per_second:,.0f} codes/s); batch {result.batch_id} "
              f"{result.status}: {result.inserted:,}/{result.requested:,} codes")


TENANT_OPTION = typer.Option(
    None, "--tenant-id",
    help="The campaign's tenant; default: found from --campaign-id (campaign ids are unique).",
)


@app.command("generate")
@reports_errors
def generate(
    tenant_id: str = TENANT_OPTION,
    campaign_id: str = typer.Option(None, "--campaign-id"),
    count: int = typer.Option(None, "--count", min=1, help="Codes to add to the campaign."),
    code_type: str = typer.Option(None, "--code-type", help="RANDOM_NUM, RANDOM_ALPHA, ..."),
    length: int = typer.Option(None, "--length", help="Random body length."),
    prefix: str = typer.Option(None, "--prefix"),
    exclude: str = typer.Option(None, "--exclude", help="Characters to leave out."),
    no_check_char: bool = typer.Option(None, "--no-check-char", help="No check character."),
    signed: bool = typer.Option(None, "--signed", help="HMAC-signed codes."),
    account_id: str = typer.Option(None, "--account-id", help="Who generates (seed 002)."),
    resume: str = typer.Option(
        None, "--resume", help="Finish an interrupted batch (in the rule it was started with)."),
    rollback: str = typer.Option(None, "--rollback", help="Remove a batch's codes."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Generate COUNT codes for a campaign, in its rule changed by the rule options given.

    The batch stores the rule it generates with: its codes are redeemable like the
    campaign's own, and --resume continues in the same format.
    """
    from core.generation import stored_rule

    overrides = {"code_type": code_type, "length": length, "prefix": prefix,
                 "exclude_chars": exclude, "signed": signed,
                 "check_char": False if no_check_char else None}
    if (resume or rollback) and any(v is not None for v in overrides.values()):
        raise typer.BadParameter(
            "a batch keeps the rule it was started with: rule options cannot be combined "
            "with --resume or --rollback")
    with container() as built, progress_bar("codes", quiet=as_json) as advance:
        if rollback:
            print_summary(built.generation.rollback_batch(rollback, progress=advance), as_json,
                          "rolled back")
            return
        if resume:
            print_summary(built.generation.resume_batch(resume, progress=advance), as_json,
                          "resumed")
            return
        if not campaign_id or not count:
            raise typer.BadParameter("--campaign-id and --count are needed to generate")
        tenant = built.campaigns.tenant_of(campaign_id, tenant_id)
        base = stored_rule(built.campaigns.get(tenant, campaign_id))
        result = built.generation.generate_codes(tenant, campaign_id, count,
                                rule=build_rule(base, overrides), account_id=account_id,
                                progress=advance)
    print_summary(result, as_json, "generated")


@app.command("stats")
@reports_errors
def stats(
    tenant_id: str = TENANT_OPTION,
    campaign_id: str = typer.Option(..., "--campaign-id"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Issued, unused, claimed, granted, voided and exported codes, and the guess odds."""

    with container() as built:
        tenant_id = built.campaigns.tenant_of(campaign_id, tenant_id)
        figures = built.generation.campaign_stats(tenant_id, campaign_id)
    if as_json:
        emit_json({**figures.__dict__, "code_space": str(figures.code_space)})
        return
    table = Table(title=f"campaign {campaign_id} of tenant {tenant_id}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name in ("issued", "unused", "claimed", "granted", "voided", "exported"):
        table.add_row(name, f"{getattr(figures, name):,}")
    table.add_row("code space", f"{figures.code_space:,}")
    table.add_row("guess odds", f"{figures.guess_odds:.3g} ({figures.guess_odds_text})")
    out.print(table)
