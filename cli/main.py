"""``redeemflow``: one command line for everything, subcommands grouped by noun."""

from __future__ import annotations

import typer

from cli.infra import broker_app, db_app, schemas_app, topics_app

app = typer.Typer(
    name="redeemflow",
    help="Redemption-code platform: Kafka workers, Redis claims, MySQL truth.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(broker_app, name="broker")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
app.add_typer(db_app, name="db")


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
    ):
        try:
            sub = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        app.add_typer(sub.app, name=name)
    import cli.codes_ops  # noqa: F401  (registers export/allocate/list/void)


_register_optional()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
