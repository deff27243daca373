"""The scenario of ``redeemflow demo`` on a running local stack: tenants, campaigns, exports,
a mix of redemption requests, and a summary of what came back."""

from __future__ import annotations

import csv
import secrets
import time
from collections import Counter
from pathlib import Path

import typer

from cli.common import console
from cli.stack import LocalStack
from core.bootstrap import Container, bootstrap
from core.export import export_codes
from core.settings import Settings
from core.topics import Topic
from producers.demo import DEMO_ACCOUNT, DemoIds, campaign_requests, request_mix, tenant_events
from producers.reader import read_topic
from schemas.campaign import CreateCampaignResult
from schemas.events import RedeemResult, RewardGrant


def run_scenario(stack: LocalStack, codes: int, work: Path) -> dict[str, object]:
    """Run the scenario through the stack's worker; the summary ``_print_summary`` shows."""
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
