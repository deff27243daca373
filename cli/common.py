"""What every CLI command shares: settings, the container, output and error reporting."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import orjson
import typer
from rich.console import Console

from core.bootstrap import Container, bootstrap
from core.errors import PermanentError, RedeemflowError, RetryableError
from core.settings import load_settings

P = ParamSpec("P")
R = TypeVar("R")

console = Console(stderr=True)
out = Console()

JSON_OPTION = typer.Option(False, "--json", help="Print a machine-readable JSON summary.")


@contextmanager
def container() -> Iterator[Container]:
    """A container built from the environment's settings, closed afterwards."""
    with bootstrap(load_settings()) as built:
        yield built


def emit_json(payload: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn redeemflow errors into a one-line message and a distinct exit status.

    Exit 2: the input or a business rule was wrong; exit 3: a service is unavailable.
    """

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except RetryableError as exc:
            console.print(f"[red]unavailable:[/red] {exc}")
            raise typer.Exit(3) from exc
        except PermanentError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
        except RedeemflowError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc

    return wrapper
