"""``redeemflow compensate``: run (or replay) a compensation job and print its report."""

from __future__ import annotations

import asyncio

import typer
from rich.table import Table

from cli.common import JSON_OPTION, console, container, emit_json, out, reports_errors
from schemas.events import CompensationJob, CompensationReport

app = typer.Typer(help="Repair codes left claimed but not granted (dry-run first).")


@app.callback(invoke_without_command=True)
@reports_errors
def compensate(
    tenant_id: str = typer.Option(None, "--tenant-id", help="Only this tenant."),
    campaign_id: str = typer.Option(None, "--campaign-id", help="Only this campaign."),
    older_than: str = typer.Option(
        None, "--older-than", help="Only rows older than this (30s, 5m, 2h; default: setting)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, change nothing."),
    inline: bool = typer.Option(False, "--inline", help="Run in this process, without a worker."),
    wait_timeout: float = typer.Option(300.0, "--wait-timeout", help="Seconds to wait."),
    job_id: str = typer.Option(None, "--job-id", help="Replay this job id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Publish a CompensationJob and wait for its report (or run it here with --inline)."""
    from core.compensation import new_job, parse_duration

    with container() as built:
        threshold = (
            parse_duration(older_than) if older_than
            else built.settings.compensation_threshold_seconds
        )
        job = new_job(tenant_id=tenant_id, campaign_id=campaign_id, older_than_seconds=threshold,
                      dry_run=dry_run, requested_by="cli", job_id=job_id)
        report = _inline(built, job) if inline else _via_worker(built, job, wait_timeout)
    if report is None:
        console.print(f"[yellow]no report for {job.job_id} within {wait_timeout}s[/yellow]"
                      " (is a worker running? the job stays queued)")
        raise typer.Exit(4)
    if as_json:
        emit_json(report.model_dump(mode="json"))
    else:
        out.print(_table(report))


def _inline(built: object, job: CompensationJob) -> CompensationReport:
    from core.bootstrap import Container

    assert isinstance(built, Container)
    counts: dict[str, int] = {}
    with console.status(f"compensation {job.job_id}...") as status:

        def progress(phase: str, n: int) -> None:
            counts[phase] = counts.get(phase, 0) + n
            status.update(f"compensation {job.job_id}: "
                          + ", ".join(f"{k} {v}" for k, v in counts.items()))

        return asyncio.run(built.compensator().run(job, progress))


def _via_worker(built: object, job: CompensationJob, timeout: float) -> CompensationReport | None:
    from core.bootstrap import Container
    from core.compensation.reports import ReportWatcher, publish_job

    assert isinstance(built, Container)
    with ReportWatcher(built.topic_reader, built.settings) as watcher:
        publish_job(built.event_sink, built.settings, job)
        with console.status(f"job {job.job_id} published; waiting for its report..."):
            return watcher.wait(job.job_id, timeout)


def _table(report: CompensationReport) -> Table:
    title = f"compensation {report.job_id}" + (" (dry run: nothing changed)" if report.dry_run
                                              else "")
    table = Table(title=title)
    table.add_column("action")
    table.add_column("count", justify="right")
    for name in ("examined", "marked_granted", "regranted", "released_in_cache", "failed"):
        table.add_row(name.replace("_", " "), str(getattr(report, name)))
    table.add_row("duration", f"{report.duration_seconds:.2f}s")
    return table
