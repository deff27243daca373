"""Serve the back office with uvicorn (``redeemflow admin``)."""

from __future__ import annotations

import uvicorn

from admin.app import create_app
from core.bootstrap import Container


def serve(container: Container, host: str, port: int) -> None:
    """Run until SIGTERM/Ctrl-C; access logs are off (URLs never carry codes, but keep
    logs lean), errors go through the project's logging."""
    uvicorn.run(create_app(container), host=host, port=port, log_config=None,
                access_log=False, server_header=False, timeout_graceful_shutdown=10)
