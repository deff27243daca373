"""``redeemflow up``: the whole pipeline in the foreground until Ctrl-C."""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path
from types import FrameType

import typer

from cli.common import console, reports_errors
from core.settings import load_settings

app = typer.Typer(help="Run broker (if none), migrations, topics, workers and the gateway.")


class _Stop(Exception):
    """Raised by the signal handler to leave the wait loop."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


@app.callback(invoke_without_command=True)
@reports_errors
def up(
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (one per core)."),
    gateway: bool = typer.Option(True, "--gateway/--no-gateway", help="Start the HTTP gateway."),
    admin: bool = typer.Option(True, "--admin/--no-admin", help="Start the back office."),
) -> None:
    """Everything in the foreground; Ctrl-C (or SIGTERM) stops it all cleanly."""
    from cli.stack import local_stack  # the drivers, loaded only when the command runs

    log_dir = Path(tempfile.mkdtemp(prefix="redeemflow-up-"))
    signal.signal(signal.SIGTERM, _raise_stop)
    with local_stack(load_settings(), log_dir) as stack:
        base = stack.settings.metrics_port
        for index in range(workers):
            # one /metrics port per worker: consecutive from the configured one (or free ones)
            metrics_port = base + index if base else 0
            stack.spawn(f"worker-{index}", "worker", "--web-port", "0",
                        "--metrics-port", str(metrics_port))
        if gateway:
            stack.spawn("gateway", "gateway")
        if admin:
            stack.spawn("admin", "admin")
        settings = stack.settings
        console.print(
            f"[green]up[/green]: {workers} worker(s)"
            + (f" (metrics on ports {base}-{base + workers - 1})" if base else "")
            + (
                f", gateway on http://{settings.gateway_host}:{settings.gateway_port}"
                if gateway
                else ""
            )
            + (f", back office on http://{settings.admin_host}:{settings.admin_port}"
               if admin else "")
            + f", broker {settings.kafka_bootstrap_servers}, logs in {log_dir}; Ctrl-C stops"
        )
        try:
            while True:
                stack.check_children()
                time.sleep(1.0)
        except (KeyboardInterrupt, _Stop):
            console.print("stopping: workers finish the batch in hand ...")
    console.print("stopped")
