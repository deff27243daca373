"""What every CLI command shares: settings, the container, output and error reporting."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


class KeyStore(Protocol):
    """A key store the key commands list and revoke in (API keys, signing keys)."""

    def list_keys(self, tenant_id: str | None) -> list[Any]: ...

    def revoke(self, key_id: str) -> KeyRecord: ...


@dataclass(frozen=True)
class CreatedKey:
    """What a key ``create`` command shows: its JSON summary, or a heading and the secret
    line (printed unwrapped, to be copied whole)."""

    summary: dict[str, Any]
    heading: str
    secret_line: str


def create_command(
    make: Callable[[Container, str, str], CreatedKey], doc: str, tenant_help: str, name_help: str
) -> Any:
    """A ``create --tenant-id ID [--name LABEL] [--json]`` command: ``make(built, tenant_id,
    name)`` creates the key; its secret is shown this once."""

    def create(
        tenant_id: str = typer.Option(..., "--tenant-id", help=tenant_help),
        name: str = typer.Option("", "--name", help=name_help),
        as_json: bool = JSON_OPTION,
    ) -> None:
        with container() as built:
            created = make(built, tenant_id, name)
        if as_json:
            emit_json(created.summary)
            return
        out.print(created.heading)
        out.print(created.secret_line, soft_wrap=True)

    create.__doc__ = doc
    return reports_errors(create)


def list_command(
    store: Callable[[Container], KeyStore],
    doc: str,
    row: Callable[[Any], dict[str, Any]],
    line: Callable[[dict[str, Any]], str],
    *,
    count: bool = False,
) -> Any:
    """A ``list [--tenant-id ID] [--json]`` command over ``store``: ``row(record)`` per key,
    as JSON or one ``line(row)`` each (and, with ``count``, how many)."""

    def list_keys(
        tenant_id: str = typer.Option(None, "--tenant-id", help="Only this tenant's keys."),
        as_json: bool = JSON_OPTION,
    ) -> None:
        with container() as built:
            records = store(built).list_keys(tenant_id)
        rows = [row(r) for r in records]
        emit_rows(rows, as_json, line)
        if count and not as_json:
            out.print(f"{len(rows)} key(s)")

    list_keys.__doc__ = doc
    return reports_errors(list_keys)


def revoke_command(store: Callable[[Container], KeyStore], doc: str, key_help: str) -> Any:
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
