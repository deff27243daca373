"""``redeemflow``: one command line for everything, subcommands grouped by noun."""

from __future__ import annotations

import inspect

import typer

from cli import admin as admin_cli
from cli import apikey as apikey_cli
from cli import cache as cache_cli
from cli import campaign as campaign_cli
from cli import codes as codes_cli
from cli import codes_ops  # noqa: F401  (registers export/allocate/list/void)
from cli import compensate as compensate_cli
from cli import demo as demo_cli
from cli import dlq as dlq_cli
from cli import gateway as gateway_cli
from cli import keys as keys_cli
from cli import operator as operator_cli
from cli import redeem as redeem_cli
from cli import tenant as tenant_cli
from cli import token as token_cli
from cli import up as up_cli
from cli import worker as worker_cli
from cli.infra import broker_app, db_app, schemas_app, topics_app

app = typer.Typer(
    name="redeemflow",
    help="Redemption-code platform: Kafka workers, Redis claims, MySQL truth.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def attach(sub: typer.Typer, name: str) -> None:
    """Add a module's Typer under ``name``: a group of subcommands, or a single command.

    A Typer that holds only a callback (``worker``, ``broker``, ``gateway``...) is one action,
    not a group: added as a group, click would print ``Usage: redeemflow worker [OPTIONS]
    COMMAND [ARGS]...`` and accept subcommands it does not have. Registered as a command, its
    usage line is just ``redeemflow worker [OPTIONS]``.
    """
    single = sub.registered_callback
    if single is None or single.callback is None or sub.registered_commands or \
            sub.registered_groups:
        app.add_typer(sub, name=name)
        return
    summary = sub.info.help if isinstance(sub.info.help, str) else ""
    details = inspect.getdoc(single.callback) or ""
    app.command(name, help="\n\n".join(part for part in (summary, details) if part))(
        single.callback)


attach(broker_app, "broker")
attach(topics_app, "topics")
attach(schemas_app, "schemas")
attach(db_app, "db")


for _sub, _name in (
    (codes_cli, "codes"),
    (tenant_cli, "tenant"),
    (campaign_cli, "campaign"),
    (redeem_cli, "redeem"),
    (worker_cli, "worker"),
    (demo_cli, "demo"),
    (up_cli, "up"),
    (compensate_cli, "compensate"),
    (cache_cli, "cache"),
    (dlq_cli, "dlq"),
    (gateway_cli, "gateway"),
    (apikey_cli, "apikey"),
    (token_cli, "token"),
    (admin_cli, "admin"),
    (operator_cli, "operator"),
    (keys_cli, "keys"),
):
    attach(_sub.app, _name)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
