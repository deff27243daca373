"""``redeemflow worker``: run every agent in the foreground."""

from __future__ import annotations

import typer

from cli.common import reports_errors

app = typer.Typer(help="Run a stream worker (all agents) in the foreground.")


@app.callback(invoke_without_command=True)
@reports_errors
def worker(
    web_port: int = typer.Option(
        None, "--web-port", help="faust web port (0 disables; distinct per worker on one host)."
    ),
    batch_size: int = typer.Option(None, "--batch-size", help="Max requests per batch."),
    batch_window: float = typer.Option(
        None, "--batch-window", help="Seconds to wait while filling a batch."
    ),
    batches_in_flight: int = typer.Option(
        None,
        "--batches-in-flight",
        help="Redemption batches processed at once, overlapping stage by stage (1: one at a"
        " time). Each agent itself stays at concurrency 1; add workers to use more partitions.",
    ),
    metrics_port: int = typer.Option(
        None, "--metrics-port",
        help="Port of this worker's /metrics (0: a free port, logged). One worker per core on"
        " a host: give each its own port, or 0. Default: REDEEMFLOW_METRICS_PORT (9108).",
    ),
    loglevel: str = typer.Option("info", "--loglevel", help="faust log level."),
) -> None:
    """Consume the contract topics until SIGTERM/Ctrl-C; the batch in hand is finished first."""
    from consumers.worker import run_worker
    from core.bootstrap import bootstrap
    from core.settings import load_settings

    overrides: dict[str, object] = {}
    if batch_size is not None:
        overrides["redeem_batch_size"] = batch_size
    if batch_window is not None:
        overrides["redeem_batch_window_seconds"] = batch_window
    if batches_in_flight is not None:
        overrides["redeem_batches_in_flight"] = batches_in_flight
    if metrics_port is not None:
        overrides["metrics_port"] = metrics_port
    container = bootstrap(load_settings(**overrides))
    try:
        run_worker(container, web_port=web_port, loglevel=loglevel)
    finally:
        container.close()
