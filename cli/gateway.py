"""``redeemflow gateway``: serve the HTTP redeem API (uvicorn) until SIGTERM/Ctrl-C."""

from __future__ import annotations

import inspect
import os

import typer

from cli.common import reports_errors

app = typer.Typer(help="Run the HTTP gateway (POST /api/redeem) in the foreground.")


@app.callback(invoke_without_command=True)
@reports_errors
def gateway(
    host: str = typer.Option(None, "--host", help="Bind address (default: settings)."),
    port: int = typer.Option(None, "--port", help="TCP port (default: settings)."),
    timeout: float = typer.Option(
        None, "--result-timeout", help="Seconds to wait for a result before answering 202."
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64,
        help="Processes serving the one port, each with its own producer and results listener.",
    ),
) -> None:
    """Serve /api/redeem, /api/tokens, /healthz, /readyz, /metrics and /docs."""
    import uvicorn

    from core.bootstrap import bootstrap
    from core.logging_setup import configure_logging
    from core.settings import load_settings
    from producers.gateway import create_app
    from producers.gateway.app import edge, gateway_settings, tune_gc

    overrides: dict[str, object] = {}
    if timeout is not None:
        overrides["gateway_result_timeout_seconds"] = timeout
    settings = gateway_settings(load_settings(**overrides))
    configure_logging(settings)
    serve = {
        "host": host or settings.gateway_host,
        "port": settings.gateway_port if port is None else port,
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": 10,
    }
    if workers > 1:
        # uvicorn binds the port once and spawns the processes; each builds its own app
        # (app_from_settings) from these settings, handed over in the environment.
        os.environ.update(settings.to_env())
        if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
            # a process is "started" once its lifespan ran (imports, listener assignment):
            # allow for a busy machine before the supervisor replaces it
            serve["timeout_worker_healthcheck"] = 60
        uvicorn.run("producers.gateway.app:app_from_settings", factory=True, workers=workers,
                    **serve)  # type: ignore[arg-type]
        return
    with bootstrap(settings) as container:
        app = edge(create_app(container), settings)
        tune_gc(settings)
        uvicorn.run(app, **serve)  # type: ignore[arg-type]
