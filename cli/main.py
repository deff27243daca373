"""``redeemflow``: one command line for everything, subcommands grouped by noun."""

from __future__ import annotations

import inspect

import typer

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


def _register_optional() -> None:
    """Attach the command groups of the other packages (each owns its module)."""
    import importlib

    for module, name in (
        ("cli.codes", "codes"),
        ("cli.tenant", "tenant"),
        ("cli.campaign", "campaign"),
        ("cli.redeem", "redeem"),
        ("cli.worker", "worker"),
        ("cli.demo", "demo"),
        ("cli.up", "up"),
        ("cli.compensate", "compensate"),
        ("cli.cache", "cache"),
        ("cli.dlq", "dlq"),
        ("cli.gateway", "gateway"),
        ("cli.apikey", "apikey"),
        ("cli.token", "token"),
        ("cli.admin", "admin"),
        ("cli.operator", "operator"),
        ("cli.keys", "keys"),
    ):
        try:
            sub = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        attach(sub.app, name)
    import cli.codes_ops  # noqa: F401  (registers export/allocate/list/void)


_register_optional()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
