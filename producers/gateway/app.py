"""The FastAPI application factory of the HTTP gateway (``redeemflow gateway``).

``create_app(container)`` builds the app without connecting anywhere; the lifespan wires the
shared state, starts the ``redeem.results`` listener and tears it all down on shutdown. The
caller owns the container (and closes it after the server stopped).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from core.bootstrap import Container
from core.errors import PermanentError, RetryableError
from producers.gateway.middleware import BodyLimitMiddleware, MetricsMiddleware, PayloadTooLarge
from producers.gateway.models import ErrorAnswer
from producers.gateway.routes import router
from producers.gateway.state import GatewayState, TenantInactive, Unauthorized

log = logging.getLogger("redeemflow.gateway")
#: ``error`` codes of framework errors (any other status: ``http_<status>``).
_HTTP_ERRORS = {400: "validation_error", 404: "not_found", 405: "method_not_allowed",
                413: "payload_too_large"}
_LISTENER_START_WAIT_SECONDS = 10.0


def create_app(container: Container) -> FastAPI:
    """The gateway app over ``container``'s settings and adapters."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = GatewayState.build(container)
        app.state.gateway = state
        state.listener.start()
        if not await state.listener.wait_ready(_LISTENER_START_WAIT_SECONDS):
            log.warning("results listener not ready yet; /readyz reports it")
        try:
            yield
        finally:
            await state.close()

    app = FastAPI(
        title="redeemflow gateway",
        version="1.0.0",
        description="Redeem codes over HTTP (seed 000 §八). See docs/gateway.md.",
        lifespan=lifespan,
    )
    app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, limit=container.settings.gateway_max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    _install_error_handlers(app)
    return app


def _error(status: int, error: str, message: str, **extra: object) -> JSONResponse:
    body = ErrorAnswer(error=error, message=message, **extra)  # type: ignore[arg-type]
    return JSONResponse(body.model_dump(), status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        response = _error(401, "unauthorized", str(exc))
        response.headers["WWW-Authenticate"] = "ApiKey"
        return response

    @app.exception_handler(PayloadTooLarge)
    async def too_large(request: Request, exc: PayloadTooLarge) -> JSONResponse:
        response = _error(413, "payload_too_large", str(exc))
        response.headers["Connection"] = "close"  # the rest of the body was never read
        return response

    @app.exception_handler(TenantInactive)
    async def inactive(request: Request, exc: TenantInactive) -> JSONResponse:
        return _error(403, "tenant_inactive", str(exc))

    @app.exception_handler(HTTPException)
    async def framework(request: Request, exc: HTTPException) -> JSONResponse:
        """404 (no route), 405 (with ``Allow``) and the rest, in the error shape."""
        status = 422 if exc.status_code == 400 else exc.status_code
        error = _HTTP_ERRORS.get(exc.status_code, f"http_{exc.status_code}")
        response = _error(status, error, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal_error", "internal error; retry with the same Idempotency-Key")

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
