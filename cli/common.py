"""What every CLI command shares: settings, the container, output and error reporting."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

import orjson
import typer
from rich.console import Console

from core.errors import PermanentError, RedeemflowError, RetryableError
from core.settings import load_settings
from core.stored_keys import KeyRecord

if TYPE_CHECKING:
    from core.bootstrap import Container

P = ParamSpec("P")
R = TypeVar("R")

console = Console(stderr=True)
out = Console()

JSON_OPTION = typer.Option(False, "--json", help="Print a machine-readable JSON summary.")


@contextmanager
def container() -> Iterator[Container]:
    """A container built from the environment's settings, closed afterwards.

    ``core.bootstrap`` (every driver) is imported here, when a command runs: ``--help`` and
    commands that need no service start without loading the drivers."""
    from core.bootstrap import bootstrap

    with bootstrap(load_settings()) as built:
        yield built


def emit_json(payload: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def emit_rows(
    rows: list[dict[str, Any]], as_json: bool, line: Callable[[dict[str, Any]], str]
) -> None:
    """The rows as one JSON list, or one printed ``line(row)`` each."""
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        out.print(line(row))


class Revoker(Protocol):
    """A key store that revokes by key id."""

    def revoke(self, key_id: str) -> KeyRecord: ...


def revoke_command(store: Callable[[Container], Revoker], doc: str, key_help: str) -> Any:
    """A ``revoke --key-id ID [--json]`` command over ``store`` (API keys, signing keys):
    revokes the key and prints its id, its tenant and when."""

    def revoke(
        key_id: str = typer.Option(..., "--key-id", help=key_help),
        as_json: bool = JSON_OPTION,
    ) -> None:
        with container() as built:
            record = store(built).revoke(key_id)
        if as_json:
            emit_json({"key_id": record.key_id, "revoked_at": str(record.revoked_at)})
        else:
            out.print(f"revoked {record.key_id} (tenant {record.tenant_id})")

    revoke.__doc__ = doc
    return reports_errors(revoke)


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
