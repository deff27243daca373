"""``redeemflow keys``: the keys that protect codes at rest (docs/codes.md, "Codes at rest").

``migrate`` protects rows written before codes were protected, ``rotate`` re-seals rows to
the active key id; both run online, in batches, and continue where a stopped run left off.
``new`` prints a fresh key file.
"""

from __future__ import annotations

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from cli.common import JSON_OPTION, console, container, emit_json, out, reports_errors

app = typer.Typer(help="Keys of codes at rest: migrate plaintext rows, rotate, new key file.",
                  no_args_is_help=True)

_BATCH = typer.Option(2_000, "--batch-size", min=1, max=50_000, help="Rows per transaction.")
_TENANT = typer.Option(None, "--tenant-id", help="Only this tenant (default: all).")
_MAX = typer.Option(None, "--max-batches", min=1,
                    help="Stop after this many batches (run again to continue).")


def _run(action: str, tenant_id: str | None, batch_size: int, max_batches: int | None,
         as_json: bool) -> None:
    from core.adapters.code_keys import pending_rows, run_key_job

    with container() as built:
        total = pending_rows(built, action, tenant_id)
        columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, disable=as_json) as bar:
            task = bar.add_task(f"{action} codes", total=total)
            report = run_key_job(built, action, tenant_id=tenant_id, batch_size=batch_size,
                                 max_batches=max_batches,
                                 progress=lambda done: bar.update(task, completed=done))
    if as_json:
        emit_json(report.__dict__)
        return
    verb = "protected" if action == "migrate" else f"re-sealed with key {report.active_key_id}"
    out.print(f"{report.rows:,} code rows {verb} in {report.batches} batches"
              f" ({len(report.campaigns)} campaigns, {report.seconds:.2f}s);"
              f" {report.remaining:,} left")
    if action == "migrate":
        out.print(f"dependent rows fixed by the final pass: {report.dependents_fixed}")
    if not report.cache_synced:
        out.print("Redis was unreachable for some batches: their entries reload from MySQL")
    if report.remaining:
        out.print("rows were added or unlocked meanwhile: run the command again")


@app.command("migrate")
def migrate(tenant_id: str = _TENANT, batch_size: int = _BATCH, max_batches: int = _MAX,
            as_json: bool = JSON_OPTION) -> None:
    """Protect rows written before codes were protected (the code in clear): store its
    lookup, seal and mask, rewrite redemptions, reward records, allocations and the Redis
    entries. Online and resumable; redemption keeps working throughout."""
    reports_errors(_run)("migrate", tenant_id, batch_size, max_batches, as_json)


@app.command("rotate")
def rotate(tenant_id: str = _TENANT, batch_size: int = _BATCH, max_batches: int = _MAX,
           as_json: bool = JSON_OPTION) -> None:
    """Re-seal every code whose key id is not the active one (REDEEMFLOW_CODE_KEY_ID, or the
    key file's active_key_id). Keep the old key ids configured until it reports 0 left."""
    reports_errors(_run)("rotate", tenant_id, batch_size, max_batches, as_json)


@app.command("new")
def new(key_id: str = typer.Option("k1", "--key-id", help="Id of the encryption key.")) -> None:
    """Print a fresh key file (a new lookup key and one encryption key). To rotate, add a
    new key to your existing file instead: a new lookup key makes every code unfindable."""
    from core.codes.keyfile import new_key_text

    out.print_json(orjson.dumps({"lookup_key": new_key_text(), "active_key_id": key_id,
                                 "keys": {key_id: new_key_text()}}).decode())
