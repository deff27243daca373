"""Sign in, sign out, the language switch and the health probe."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from admin.i18n import LANGUAGES
from admin.web import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfRefused,
    Page,
    client_ip,
    new_login_token,
    posted,
    public,
)
from core.backoffice.errors import SignInFailed

router = APIRouter()

_MESSAGES = {"session": "session_ended", "out": "signed_out"}


def _login_page(page: Page, status: int = 200, error: str = "", email: str = "") -> Response:
    token = new_login_token()
    message = _MESSAGES.get(page.request.query_params.get("m", ""), "")
    response = page.render("login.html", status_code=status, login_csrf=token, error=error,
                           email=email, message_key=message)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=page.container.settings.admin_cookie_secure, path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(page: Page = Depends(public)) -> Response:
    """The sign-in form."""
    return _login_page(page)


@router.post("/login")
async def login(request: Request, page: Page = Depends(public)) -> Response:
    """Check the credentials (throttled, audited) and open a session."""
    form = await request.form()
    email, password = str(form.get("email", ""))[:300], str(form.get("password", ""))[:300]
    cookie, field = request.cookies.get(LOGIN_CSRF_COOKIE, ""), str(form.get("csrf_token", ""))
    if not cookie or not hmac.compare_digest(cookie.encode(), field.encode()):
        raise CsrfRefused()
    office, ip = page.office, client_ip(request)
    try:
        operator = await run_in_threadpool(office.operators.authenticate, email, password, ip)
    except SignInFailed as exc:
        return _login_page(page, 401, str(exc), email)
    token, principal = await run_in_threadpool(office.sessions.open, operator, ip)
    await run_in_threadpool(office.audit.record, principal, "login")
    response = RedirectResponse("/", status_code=303)
    settings = page.container.settings
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                        secure=settings.admin_cookie_secure, path="/",
                        max_age=settings.admin_session_max_seconds)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(page: Page = Depends(posted)) -> Response:
    """End the session."""
    page.office.audit.record(page.me, "logout")
    page.office.sessions.close(page.me)
    response = RedirectResponse("/login?m=out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def switch_language(code: str, request: Request) -> Response:
    """Remember the chosen language and go back to the page it was chosen on."""
    back = request.query_params.get("next", "/")
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    response = RedirectResponse(back, status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, samesite="strict", path="/",
                            max_age=365 * 86400)
    return response


@router.get("/healthz", response_class=PlainTextResponse)
def healthz() -> str:
    """Liveness: the process answers."""
    return "ok"
