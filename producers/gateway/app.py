"""The FastAPI application factory of the HTTP gateway (``redeemflow gateway``).

``create_app(container)`` builds the app without connecting anywhere; the lifespan wires the
shared state, starts the ``redeem.results`` listener and tears it all down on shutdown. The
caller owns the container (and closes it after the server stopped). ``app_from_settings`` is
the factory each process of ``redeemflow gateway --workers N`` calls: it loads the settings
and owns a container of its own (one producer, one results listener per process).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from core.bootstrap import Container, bootstrap
from core.errors import PermanentError, RetryableError
from core.logging_setup import configure_logging
from core.settings import Settings, load_settings
from producers.gateway.auth import Unauthorized
from producers.gateway.cors import CorsMiddleware
from producers.gateway.middleware import (
    BodyLimitMiddleware,
    HeaderLimitMiddleware,
    MetricsMiddleware,
)
from producers.gateway.models import ErrorAnswer
from producers.gateway.routes import router
from producers.gateway.state import GatewayState

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
    """The gateway app over ``container``'s settings and adapters."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _serving(app, container):
            yield

    return _build(container.settings, lifespan)


def app_from_settings() -> FastAPI:
    """The app of one ``--workers`` process: settings from the environment, own container."""
    settings = load_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with bootstrap(settings) as container:
            async with _serving(app, container):
                yield

    return _build(settings, lifespan)


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
    )
    app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, limit=settings.gateway_max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(CorsMiddleware, origins=settings.gateway_cors_origins)
    app.add_middleware(HeaderLimitMiddleware, limit=settings.gateway_max_header_bytes)
    _install_error_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus both security schemes (API key and bearer token)."""
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, description=app.description,
                           routes=app.routes)
        spec.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        app.openapi_schema = spec
    return app.openapi_schema


def _error(status: int, error: str, message: str, **extra: object) -> JSONResponse:
    body = ErrorAnswer(error=error, message=message, **extra)  # type: ignore[arg-type]
    return JSONResponse(body.model_dump(), status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        response = _error(401, "unauthorized", str(exc))
        response.headers["WWW-Authenticate"] = exc.scheme
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [_field(e) for e in exc.errors()]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return _error(422, "validation_error", f"invalid field(s): {summary}", fields=fields)

    @app.exception_handler(RetryableError)
    async def unavailable(request: Request, exc: RetryableError) -> JSONResponse:
        log.warning("dependency unavailable: %s", exc)
        response = _error(503, "unavailable", "a backing service is unavailable; retry later")
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(PermanentError)
    async def refused(request: Request, exc: PermanentError) -> JSONResponse:
        log.error("request failed: %s", exc)
        return _error(503, "unavailable", "the request could not be published")


def _field(error: dict[str, object]) -> dict[str, str]:
    """``{"field", "location", "message"}`` of one pydantic/FastAPI validation error."""
    loc = [str(p) for p in error.get("loc", ()) or ()]  # type: ignore[attr-defined]
    location = loc[0] if loc else ""
    name = ".".join(loc[1:]) if len(loc) > 1 else location
    return {"field": name, "location": location, "message": str(error.get("msg", ""))}
