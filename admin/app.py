"""The back office's FastAPI application: routes, error pages, limits and security headers."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from admin import routes_auth, routes_campaigns, routes_codes, routes_ops, routes_support
from admin.web import HERE, SESSION_COOKIE, CsrfRefused, Page, public
from core.backoffice.errors import AccessDenied, SessionInvalid
from core.bootstrap import Container
from core.errors import (
    DomainRuleViolation,
    InvalidMessage,
    NotFound,
    PermanentError,
    RetryableError,
)

LOG = logging.getLogger("redeemflow.admin")

_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
     b" form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class LimitsAndHeaders:
    """Refuses bodies over ``max_body`` (413, before reading them) and adds security headers."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_body:
            await _too_large(send, self.max_body)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise _BodyTooLarge()
            return message

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _HEADERS
            await send(message)

        try:
            await self.app(scope, limited, secured)
        except _BodyTooLarge:
            await _too_large(send, self.max_body)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = f"Request body too large: the back office accepts at most {limit:,} bytes.".encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *_HEADERS]})
    await send({"type": "http.response.body", "body": body})


def create_app(container: Container) -> FastAPI:
    """The back office over ``container`` (its settings, MySQL, Redis and broker)."""
    app = FastAPI(title="redeemflow back office", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.container = container
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (routes_auth, routes_campaigns, routes_codes, routes_support, routes_ops):
        app.include_router(module.router)
    _error_pages(app)
    app.add_middleware(LimitsAndHeaders, max_body=container.settings.admin_max_body_bytes)
    return app


def _page(request: Request) -> Page:
    return public(request)


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(SessionInvalid)
    async def session_invalid(request: Request, exc: SessionInvalid) -> Response:
        response = RedirectResponse("/login?m=session", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, "not_found", "not_found_text")

    @app.exception_handler(404)
    async def no_route(request: Request, exc: Exception) -> Response:
        return _error(request, 404, "not_found", "not_found_text")

    @app.exception_handler(405)
    async def wrong_method(request: Request, exc: Exception) -> Response:
        return _error(request, 405, "error", message="This address does not take this method.")

    @app.exception_handler(AccessDenied)
    async def denied(request: Request, exc: AccessDenied) -> Response:
        return _error(request, 403, "forbidden", message=str(exc))

    @app.exception_handler(CsrfRefused)
    async def csrf(request: Request, exc: CsrfRefused) -> Response:
        return _error(request, 403, "forbidden", message="The form's security token (CSRF) is "
                      "missing or wrong: nothing was changed. Reload the page and try again.")

    @app.exception_handler(RetryableError)
    async def unavailable(request: Request, exc: RetryableError) -> Response:
        # a storage error's text may quote SQL parameters (a code): never shown or logged
        LOG.warning("back office: %s on %s", exc.__class__.__name__, request.url.path)
        return _error(request, 503, "unavailable",
                      message="A service the back office needs is unavailable; try again.")

    @app.exception_handler(PermanentError)
    async def refused(request: Request, exc: PermanentError) -> Response:
        shown = isinstance(exc, DomainRuleViolation | InvalidMessage)
        LOG.warning("back office: %s on %s", exc.__class__.__name__, request.url.path)
        return _error(request, 400, "error",
                      message=str(exc)[:300] if shown else "The request was refused.")


def _error(request: Request, status: int, title: str, text_key: str = "",
           message: str = "") -> HTMLResponse:
    return _page(request).render("error.html", status_code=status, title=title,
                                 text_key=text_key, message=message)
