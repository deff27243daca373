"""``redeemflow admin``: serve the back office (管理后台) until SIGTERM/Ctrl-C."""

from __future__ import annotations

import typer

from cli.common import console, reports_errors

app = typer.Typer(help="Run the back office web application in the foreground.")


@app.callback(invoke_without_command=True)
@reports_errors
def admin(
    host: str = typer.Option(None, "--host", help="Bind address (default: settings)."),
    port: int = typer.Option(None, "--port", help="TCP port (default: settings; 0: any free)."),
) -> None:
    """Serve the back office (sign in with an operator from `redeemflow operator create`)."""
    from admin.server import serve
    from core.bootstrap import bootstrap
    from core.logging_setup import configure_logging
    from core.settings import load_settings

    settings = load_settings()
    configure_logging(settings)
    bind_host = host or settings.admin_host
    bind_port = settings.admin_port if port is None else port
    console.print(f"back office on http://{bind_host}:{bind_port}/")
    with bootstrap(settings) as container:
        serve(container, bind_host, bind_port)
