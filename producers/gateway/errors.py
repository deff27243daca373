"""The gateway's error answers in one place: ``{"error", "message", "fields"}``.

Used by FastAPI's exception handlers (app.py) and by the redeem fast path (fast.py), so a
refusal looks the same whichever way the request was served.
"""

from __future__ import annotations

import logging

from fastapi.exceptions import RequestValidationError

from core.errors import PermanentError, RetryableError
from producers.gateway.auth import Unauthorized
from producers.gateway.models import ErrorAnswer

log = logging.getLogger("redeemflow.gateway")

#: (status, extra headers, JSON body) of an answer.
Rendered = tuple[int, dict[str, str], bytes]


def error(status: int, code: str, message: str,
          fields: list[dict[str, str]] | None = None,
          headers: dict[str, str] | None = None) -> Rendered:
    """An error answer."""
    body = ErrorAnswer(error=code, message=message, fields=fields or [])
    return status, headers or {}, body.model_dump_json().encode()


def field_of(problem: dict[str, object]) -> dict[str, str]:
    """``{"field", "location", "message"}`` of one pydantic/FastAPI validation error."""
    loc = [str(p) for p in problem.get("loc", ()) or ()]  # type: ignore[attr-defined]
    location = loc[0] if loc else ""
    name = ".".join(loc[1:]) if len(loc) > 1 else location
    return {"field": name, "location": location, "message": str(problem.get("msg", ""))}


def render(exc: Exception) -> Rendered | None:
    """The answer of a refusal the gateway knows, or None (then it is a bug: 500)."""
    if isinstance(exc, Unauthorized):
        return error(401, "unauthorized", str(exc), headers={"WWW-Authenticate": exc.scheme})
    if isinstance(exc, RequestValidationError):
        fields = [field_of(e) for e in exc.errors()]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return error(422, "validation_error", f"invalid field(s): {summary}", fields)
    if isinstance(exc, RetryableError):
        log.warning("dependency unavailable: %s", exc)
        return error(503, "unavailable", "a backing service is unavailable; retry later",
                     headers={"Retry-After": "1"})
    if isinstance(exc, PermanentError):
        log.error("request failed: %s", exc)
        return error(503, "unavailable", "the request could not be published")
    return None
