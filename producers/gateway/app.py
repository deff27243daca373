"""The FastAPI application factory of the HTTP gateway (``redeemflow gateway``).

``create_app(container)`` builds the app without connecting anywhere; the lifespan wires the
shared state, starts the ``redeem.results`` listener and tears it all down on shutdown. The
caller owns the container (and closes it after the server stopped). ``app_from_settings`` is
the factory each process of ``redeemflow gateway --workers N`` calls: it loads the settings
and owns a container of its own (one producer, one results listener per process).
"""

from __future__ import annotations

import gc
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.bootstrap import Container, bootstrap
from core.errors import PermanentError, RetryableError
from core.logging_setup import configure_logging
from core.settings import Settings, load_settings
from producers.gateway.auth import TenantInactive, Unauthorized
from producers.gateway.cors import CorsMiddleware
from producers.gateway.errors import PayloadTooLarge, error, render
from producers.gateway.fast import RedeemFastPath
from producers.gateway.middleware import (
    BodyLimitMiddleware,
    HeaderLimitMiddleware,
    MetricsMiddleware,
)
from producers.gateway.routes import router
from producers.gateway.state import GatewayState

ASGIApp = Any
log = logging.getLogger("redeemflow.gateway")
_LISTENER_START_WAIT_SECONDS = 10.0
SECURITY_SCHEMES = {
    "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "x-api-key",
                   "description": "A tenant's API key (server to server)."},
    "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "An end-user token (HS256, at most 15 min) minted by the "
                   "tenant's back end (POST /api/tokens or `redeemflow token mint`)."},
}


def create_app(container: Container) -> FastAPI:
    """The gateway's FastAPI app over ``container``'s settings and adapters (routes, error
    handlers, OpenAPI); serve ``edge(create_app(container), settings)``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _serving(app, container):
            yield

    return _build(container.settings, lifespan)


def gateway_settings(settings: Settings) -> Settings:
    """``settings`` as a gateway process uses them (its producer lingers longer)."""
    return settings.model_copy(update={"producer_linger_ms": settings.gateway_producer_linger_ms})


def app_from_settings() -> ASGIApp:
    """The app of one ``--workers`` process: settings from the environment, own container."""
    settings = gateway_settings(load_settings())
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with bootstrap(settings) as container:
            async with _serving(app, container):
                yield

    app = edge(_build(settings, lifespan), settings)
    tune_gc(settings)
    return app


def tune_gc(settings: Settings) -> None:
    """Collect cyclic garbage less often, as the worker does (``worker_gc_gen0_threshold``):
    with the default threshold (700) the collector ran every few requests; py-spy showed it
    at 7-8 % of the gateway's CPU at 700 requests/s. Objects built at start-up (imports, the
    app) are frozen out of the collector's view for good. Call once the app is built."""
    gc.set_threshold(settings.worker_gc_gen0_threshold, 50, 1000)
    gc.freeze()


@asynccontextmanager
async def _serving(app: FastAPI, container: Container) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        state = GatewayState.build(container)
        stack.push_async_callback(state.close)
        app.state.gateway = state
        state.listener.start()
        if not await state.listener.wait_ready(_LISTENER_START_WAIT_SECONDS):
            log.warning("results listener not ready yet; /readyz reports it")
        yield


def _build(settings: Settings, lifespan: Any) -> FastAPI:
    app = FastAPI(
        title="redeemflow gateway",
        version="1.0.0",
        description="Redeem codes over HTTP (seed 000 §八). See docs/gateway.md.",
        lifespan=lifespan,
        **_no_telemetry(),
    )
    app.include_router(router)
    _install_error_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def edge(api: FastAPI, settings: Settings) -> ASGIApp:
    """What uvicorn serves: the limits, CORS and metrics around the redeem fast path, which
    hands every other request to ``api``. Pure ASGI layers, outside FastAPI, so the hot path
    pays for none of FastAPI's own middleware."""
    inner: ASGIApp = RedeemFastPath(api)
    inner = BodyLimitMiddleware(inner, limit=settings.gateway_max_body_bytes)
    inner = MetricsMiddleware(inner)
    inner = CorsMiddleware(inner, origins=settings.gateway_cors_origins)
    return HeaderLimitMiddleware(inner, limit=settings.gateway_max_header_bytes)


def _no_telemetry() -> dict[str, Any]:
    """FastAPI >= 0.16x asks OpenTelemetry on every request whether it is configured; the
    gateway exports Prometheus metrics instead, so switch that off where supported."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus both security schemes (API key and bearer token)."""
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, description=app.description,
                           routes=app.routes)
        spec.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        app.openapi_schema = spec
    return app.openapi_schema


def _install_error_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> Response:
        rendered = render(exc)
        if rendered is None:
            raise exc
        status, headers, body = rendered
        return Response(body, status_code=status, headers=headers, media_type="application/json")

    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        _, headers, body = error(500, "internal_error",
                                 "internal error; retry with the same Idempotency-Key")
        return Response(body, status_code=500, headers=headers, media_type="application/json")

    for known in (Unauthorized, TenantInactive, PayloadTooLarge, RequestValidationError,
                  RetryableError, PermanentError, StarletteHTTPException):
        app.add_exception_handler(known, handle)
    app.add_exception_handler(Exception, crashed)
