"""What every back-office handler shares: templates, the signed-in principal, CSRF checks.

Blocking work (MySQL, Redis, argon2) runs in Starlette's thread pool: handlers are plain
``def`` functions and the async dependencies hand their blocking calls to the pool.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from admin.i18n import pick, translator
from core.backoffice.errors import AccessDenied, SessionInvalid
from core.backoffice.model import Permission, Principal
from core.backoffice.sessions import csrf_matches
from core.backoffice.wiring import BackOffice
from core.bootstrap import Container

SESSION_COOKIE = "rf_admin_session"
LANG_COOKIE = "rf_lang"
LOGIN_CSRF_COOKIE = "rf_login_csrf"
HERE = Path(__file__).resolve().parent

_ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _number(value: int | None) -> str:
    return f"{value:,}" if value is not None else "-"


_ENV.filters["when"] = _when
_ENV.filters["number"] = _number


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token."""


@dataclass
class Page:
    """The request's context: container, back office, principal (None on the login page)."""

    request: Request
    container: Container
    office: BackOffice
    principal: Principal | None
    form: FormData | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def me(self) -> Principal:
        """The signed-in principal (pages behind sign-in only)."""
        assert self.principal is not None
        return self.principal

    def field(self, name: str, limit: int = 10_000) -> str:
        """A posted form field as text ('' when absent), cut at ``limit`` characters."""
        value = self.form.get(name) if self.form is not None else None
        return value[:limit] if isinstance(value, str) else ""

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        """Render a template with the shared values (labels, principal, CSRF token)."""
        lang = language(self.request)
        html = _ENV.get_template(template).render(
            t=translator(lang), lang=lang, me=self.principal, path=self.request.url.path,
            back=self._back(),
            csrf=self.principal.csrf_token if self.principal else "",
            can_work=bool(self.principal and self.principal.can(Permission.WORK)),
            can_ops=bool(self.principal and self.principal.can(Permission.OPS)),
            can_override=bool(self.principal and self.principal.can(Permission.OVERRIDE_OWNER)),
            **values)
        return HTMLResponse(html, status_code=status_code)


    def _back(self) -> str:
        """Where the language switch returns: this page, or for a form's answer the
        section it belongs to (a POST cannot be repeated by a link)."""
        path = self.request.url.path
        if self.request.method == "GET":
            return path
        return "/" + path.strip("/").split("/")[0]


def language(request: Request) -> str:
    """The page language from its cookie."""
    return pick(request.cookies.get(LANG_COOKIE))


def client_ip(request: Request) -> str:
    """The peer address (the back office is not meant to sit behind an untrusted proxy)."""
    return request.client.host if request.client else ""


def office_of(request: Request) -> tuple[Container, BackOffice]:
    """The container and back office the app was built with."""
    container: Container = request.app.state.container
    return container, container.backoffice


async def signed_in(request: Request) -> Page:
    """Dependency of every page behind sign-in: the principal from the session cookie."""
    container, office = office_of(request)
    principal = await run_in_threadpool(office.sessions.resolve,
                                        request.cookies.get(SESSION_COOKIE), client_ip(request))
    return Page(request, container, office, principal)


async def posted(request: Request) -> Page:
    """Dependency of every state-changing request: signed in, and the form's CSRF token is
    the session's."""
    page = await signed_in(request)
    page.form = await request.form()
    token = page.form.get("csrf_token")
    if not csrf_matches(page.me, token if isinstance(token, str) else None):
        await run_in_threadpool(page.office.audit.record, page.me, "denied",
                                target=request.url.path[:128], detail="missing or wrong CSRF token")
        raise CsrfRefused()
    return page


def public(request: Request) -> Page:
    """Dependency of the sign-in page (no principal)."""
    container, office = office_of(request)
    return Page(request, container, office, None)


def need(page: Page, permission: Permission) -> None:
    """AccessDenied unless the principal has ``permission``."""
    if not page.me.can(permission):
        raise AccessDenied(f"the {page.me.role.value} role may not do this")


def new_login_token() -> str:
    """A random value for the sign-in form's double-submit CSRF cookie."""
    return secrets.token_urlsafe(24)


__all__ = ["CsrfRefused", "Page", "SessionInvalid", "posted", "public", "signed_in"]
