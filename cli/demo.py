"""``redeemflow demo``: a guided run of the whole pipeline that ends by itself."""

from __future__ import annotations

import csv
import secrets
import tempfile
import time
from collections import Counter
from pathlib import Path

import typer
from rich.table import Table

from cli.common import JSON_OPTION, console, emit_json, out, reports_errors
from cli.stack import LocalStack, local_stack
from core.bootstrap import Container, bootstrap
from core.export import export_codes
from core.settings import Settings, load_settings
from core.topics import Topic
from producers.demo import DEMO_ACCOUNT, DemoIds, campaign_requests, request_mix, tenant_events
from producers.reader import read_topic
from schemas.campaign import CreateCampaignResult
from schemas.events import RedeemResult, RewardGrant

app = typer.Typer(help="A guided run: tenants, a campaign, a mix of requests, a summary.")


@app.callback(invoke_without_command=True)
@reports_errors
def demo(
    codes: int = typer.Option(1000, "--codes", help="Codes in the main campaign."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Start what is missing, run the scenario through a real worker, print a summary."""
    log_dir = Path(tempfile.mkdtemp(prefix="redeemflow-demo-"))
    with local_stack(load_settings(), log_dir) as stack:
        stack.spawn("worker", "worker", "--web-port", "0", "--metrics-port", "0",
                    "--loglevel", "warning")
        summary = _scenario(stack, max(codes, 100), log_dir)
    summary["logs"] = str(log_dir)
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)


def _scenario(stack: LocalStack, codes: int, work: Path) -> dict[str, object]:
    settings, ids = stack.settings, DemoIds()
    with bootstrap(settings) as container:
        _step("tenant service publishes two tenants on tenant.updated")
        _publish(
            container,
            Topic.TENANT_UPDATED,
            [(e.tenant_id, e.to_bytes()) for e in tenant_events(ids)],
        )
        _wait(
            stack,
            lambda: all(container.tenants.get(t) for t in (ids.tenant, ids.other_tenant)),
            "the tenant registry to be updated by the worker",
            90,
        )
        _step(f"a channel partner asks for campaigns on campaign.requests ({codes:,} codes)")
        requests = campaign_requests(ids, codes)
        _publish(
            container, Topic.CAMPAIGN_REQUESTS, [(r.campaign_id, r.to_bytes()) for r in requests]
        )
        created = _campaign_results(settings, len(requests))
        _step("ops exports codes to CSV (who generates, exports)")
        main = _export(container, ids.tenant, ids.campaign("main"), codes, work)
        old = _export(container, ids.tenant, ids.campaign("old"), 10, work)
        other = _export(container, ids.other_tenant, ids.campaign("other"), 5, work)
        typo = main[0][:-1] + ("X" if main[0][-1] != "X" else "Y")
        unknown = [secrets.token_hex(6).upper() for _ in range(5)] + [typo]
        mix = request_mix(ids, main[: min(len(main), 320)], old, other, unknown)
        total = len(mix.requests) + len(mix.duplicates) + len(mix.malformed)
        _step(f"upstream services publish {total} messages on redeem.requests")
        started = time.perf_counter()
        _publish(
            container,
            Topic.REDEEM_REQUESTS,
            [(r.kafka_key(), r.to_bytes()) for r in [*mix.requests, *mix.duplicates]]
            + [(b"demo:malformed", raw) for raw in mix.malformed],
        )
    expected = {r.request_id for r in mix.requests}
    results = read_topic(
        settings,
        Topic.REDEEM_RESULTS,
        timeout=120,
        linger=1.0,
        done=lambda rs: expected <= {(m.key() or b"").decode() for m in rs},
    )
    elapsed = time.perf_counter() - started
    summary = _summarise(settings, mix.parts, created, results, expected, elapsed)
    summary["tenant_id"], summary["main_campaign_id"] = ids.tenant, ids.campaign("main")
    summary["embedded_broker"] = stack.embedded_broker
    return summary


def _step(text: str) -> None:
    console.print(f"[bold cyan]▶[/bold cyan] {text}")


def _publish(container: object, topic: Topic, messages: list[tuple[bytes | str, bytes]]) -> None:
    producer = container.producer  # type: ignore[attr-defined]
    for key, value in messages:
        producer.produce(container.settings.topic(topic), key, value)  # type: ignore[attr-defined]
    producer.flush(60)


def _wait(stack: LocalStack, check: object, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with console.status(f"waiting for {what} ..."):
        while time.monotonic() < deadline:
            stack.check_children()
            if check():  # type: ignore[operator]
                return
            time.sleep(0.5)
    raise typer.BadParameter(f"timed out waiting for {what}")


def _campaign_results(settings: Settings, count: int) -> list[CreateCampaignResult]:
    with console.status("waiting for campaign.results ..."):
        records = read_topic(
            settings, Topic.CAMPAIGN_RESULTS, timeout=180, done=lambda rs: len(rs) >= count
        )
    results = [CreateCampaignResult.from_bytes(m.value() or b"") for m in records]
    for result in results:
        console.print(
            f"  {result.campaign_id}: {result.outcome.value}, "
            f"{result.codes_generated:,} codes {result.message}"
        )
    return results


def _export(container: Container, tenant: str, campaign: str, count: int, work: Path) -> list[str]:
    path = work / f"{campaign}.csv"
    result = export_codes(container.exporter, tenant, campaign, DEMO_ACCOUNT, count, "csv", path)
    console.print(f"  exported {result.count:,} codes of {campaign} to {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["code"] for row in csv.DictReader(handle)]


def _summarise(
    settings: Settings,
    parts: dict[str, int],
    created: list[CreateCampaignResult],
    results: list,
    expected: set[str],
    elapsed: float,
) -> dict[str, object]:
    outcomes: dict[str, str] = {}
    for message in results:
        result = RedeemResult.from_bytes(message.value() or b"")
        outcomes.setdefault(result.request_id, result.outcome.value)
    grants = read_topic(settings, Topic.REWARD_GRANTS, timeout=5, linger=0.5, done=lambda rs: False)
    dead = read_topic(
        settings,
        Topic.REDEEM_REQUESTS.dlq,
        timeout=5,
        linger=0.5,
        done=lambda rs: len(rs) >= parts.get("malformed messages", 0),
    )
    grant_ids = [RewardGrant.from_bytes(m.value() or b"").grant_id for m in grants]
    return {
        "sent": parts,
        "campaigns": {c.campaign_id: c.outcome.value for c in created},
        "outcomes": dict(Counter(outcomes.values()).most_common()),
        "requests_answered": f"{len(set(outcomes) & expected)}/{len(expected)}",
        "results_published": len(results),
        "grants_published": len(grant_ids),
        "distinct_grants": len(set(grant_ids)),
        "dead_lettered": len(dead),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(results) / elapsed, 1) if elapsed else 0.0,
    }


def _print_summary(summary: dict[str, object]) -> None:
    table = Table(title="redeemflow demo")
    table.add_column("what")
    table.add_column("count", justify="right")
    for part, count in summary["sent"].items():  # type: ignore[attr-defined]
        table.add_row(f"sent: {part}", str(count))
    for outcome, count in summary["outcomes"].items():  # type: ignore[attr-defined]
        table.add_row(f"outcome: {outcome}", str(count))
    for key in (
        "requests_answered",
        "results_published",
        "grants_published",
        "distinct_grants",
        "dead_lettered",
        "seconds",
        "requests_per_second",
    ):
        table.add_row(key.replace("_", " "), str(summary[key]))
    out.print(table)
    scope = f"--campaign-id {summary['main_campaign_id']}"  # the campaign names its tenant
    out.print(
        "Next, against the same database:\n"
        f"  redeemflow codes stats {scope}\n"
        f"  redeemflow codes list {scope} --limit 5      (codes are masked)\n"
        "  redeemflow compensate --inline --dry-run\n"
        + (
            "The embedded broker kept its topics in memory and stopped with the demo; "
            "`redeemflow up` keeps a whole stack running.\n"
            if summary["embedded_broker"]
            else ""
        )
        + f"docs/internals.md explains the pipeline. Worker logs: {summary['logs']}"
    )
