"""Structured logging for every redeemflow process: one JSON object per line on stderr.

Entry points call :func:`configure_logging` once. Code handling a request binds its ids with
:func:`request_context`; a filter copies them onto every record logged meanwhile (any logger,
any module), so each line about a request carries ``request_id`` and ``tenant_id``. Codes are
never logged in full: log :func:`mask_code` of them (``AB********YZ``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from core.settings import Settings

try:
    from core.masking import mask_code
except ModuleNotFoundError:  # pragma: no cover - core.masking ships with the export work

    def mask_code(code: str) -> str:
        """``AB********YZ``: the ends of a code, the rest masked (same length)."""
        shown = 2 if len(code) >= 8 else 1 if len(code) >= 5 else 0
        if shown == 0:
            return "*" * len(code)
        return code[:shown] + "*" * (len(code) - 2 * shown) + code[-shown:]

__all__ = [
    "configure_logging",
    "current_request",
    "logging_config",
    "mask_code",
    "request_context",
]

_REQUEST_ID: ContextVar[str | None] = ContextVar("redeemflow_request_id", default=None)
_TENANT_ID: ContextVar[str | None] = ContextVar("redeemflow_tenant_id", default=None)
_JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s %(tenant_id)s] %(message)s"
_HANDLER_NAME = "redeemflow"


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` / ``tenant_id`` of the current context to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate (never drop) the record."""
        if not hasattr(record, "request_id"):
            record.request_id = _REQUEST_ID.get()
        if not hasattr(record, "tenant_id"):
            record.tenant_id = _TENANT_ID.get()
        return True


@contextmanager
def request_context(request_id: str | None, tenant_id: str | None) -> Iterator[None]:
    """Bind a request's ids for the log lines written inside the block (task-local)."""
    tokens = (_REQUEST_ID.set(request_id), _TENANT_ID.set(tenant_id))
    try:
        yield
    finally:
        _REQUEST_ID.reset(tokens[0])
        _TENANT_ID.reset(tokens[1])


def current_request() -> tuple[str | None, str | None]:
    """``(request_id, tenant_id)`` bound in the current context."""
    return _REQUEST_ID.get(), _TENANT_ID.get()


def _formatter_config(settings: Settings) -> dict[str, Any]:
    if settings.log_format == "text":
        return {"format": _TEXT_FORMAT}
    return {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": _JSON_FORMAT,
        "rename_fields": {"levelname": "level", "name": "logger", "asctime": "time"},
    }


def logging_config(settings: Settings) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document: root -> stderr, JSON (or text) lines.

    Also accepted by ``faust.Worker(logging_config=...)`` so worker lines are JSON too.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestContextFilter}},
        "formatters": {"default": _formatter_config(settings)},
        "handlers": {
            _HANDLER_NAME: {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request"],
            }
        },
        "root": {"level": settings.log_level.upper(), "handlers": [_HANDLER_NAME]},
        "loggers": {
            "uvicorn.access": {"level": "WARNING"},
            "uvicorn.error": {"level": settings.log_level.upper()},
        },
    }


def configure_logging(settings: Settings) -> None:
    """Install the JSON handler on the root logger (replacing earlier handlers); idempotent."""
    import logging.config

    logging.config.dictConfig(logging_config(settings))
    logging.captureWarnings(True)
