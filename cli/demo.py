"""``redeemflow demo``: a guided run of the whole pipeline that ends by itself.

The scenario (``cli.demo_scenario``) is imported when the command runs: it loads every driver,
which ``redeemflow --help`` and the other commands do not need.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.table import Table

from cli.common import JSON_OPTION, emit_json, out, reports_errors
from core.settings import load_settings

app = typer.Typer(help="A guided run: tenants, a campaign, a mix of requests, a summary.")


@app.callback(invoke_without_command=True)
@reports_errors
def demo(
    codes: int = typer.Option(1000, "--codes", help="Codes in the main campaign."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Start what is missing, run the scenario through a real worker, print a summary."""
    from cli.demo_scenario import run_scenario
    from cli.stack import local_stack

    log_dir = Path(tempfile.mkdtemp(prefix="redeemflow-demo-"))
    with local_stack(load_settings(), log_dir) as stack:
        stack.spawn("worker", "worker", "--web-port", "0", "--metrics-port", "0",
                    "--loglevel", "warning")
        summary = run_scenario(stack, max(codes, 100), log_dir)
    summary["logs"] = str(log_dir)
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)


def _print_summary(summary: dict[str, object]) -> None:
    table = Table(title="redeemflow demo")
    table.add_column("what")
    table.add_column("count", justify="right")
    for part, count in summary["sent"].items():  # type: ignore[attr-defined]
        table.add_row(f"sent: {part}", str(count))
    for outcome, count in summary["outcomes"].items():  # type: ignore[attr-defined]
        table.add_row(f"outcome: {outcome}", str(count))
    for key in (
        "requests_answered",
        "results_published",
        "grants_published",
        "distinct_grants",
        "dead_lettered",
        "seconds",
        "requests_per_second",
    ):
        table.add_row(key.replace("_", " "), str(summary[key]))
    out.print(table)
    scope = f"--campaign-id {summary['main_campaign_id']}"  # the campaign names its tenant
    out.print(
        "Next, against the same database:\n"
        f"  redeemflow codes stats {scope}\n"
        f"  redeemflow codes list {scope} --limit 5      (codes are masked)\n"
        "  redeemflow compensate --inline --dry-run\n"
        + (
            "The embedded broker kept its topics in memory and stopped with the demo; "
            "`redeemflow up` keeps a whole stack running.\n"
            if summary["embedded_broker"]
            else ""
        )
        + f"docs/internals.md explains the pipeline. Worker logs: {summary['logs']}"
    )
