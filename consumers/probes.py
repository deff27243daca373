"""``/healthz`` and ``/readyz`` on the worker's faust web server (``--web-port N``).

Readiness probes Kafka, MySQL and Redis with ``core.health.check_readiness``; 503 with the
failing dependency named when one does not answer in time.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View

from core.bootstrap import Container, readiness_probes
from core.health import check_readiness


def register_probes(app: faust.App, container: Container) -> None:
    """Add the two probe pages to the app (served only when its web server is on)."""
    probes = readiness_probes(container, container.async_redis())
    timeout = container.settings.readiness_timeout_seconds

    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/readyz")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            readiness = await check_readiness(probes, timeout)
            body: dict[str, Any] = readiness.as_dict()
            return self.json(body, status=200 if readiness.ready else 503)
