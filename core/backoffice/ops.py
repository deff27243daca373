"""Operations for admins: dead letters (list, replay), compensation (dry run, run), cache
verification. Full codes never reach the page: dead letters of ``redeem.requests`` carry
the code a user typed, so keys and ``code`` fields are masked, and an unreadable value is
shown by its size only."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import orjson

from core.backoffice.audit import Audit
from core.backoffice.campaigns import require
from core.backoffice.errors import InvalidInput
from core.backoffice.model import Permission, Principal
from core.bootstrap import Container
from core.dlq import DeadLetter, read_dead_letters, replay, select
from core.masking import mask_code
from core.topics import CONSUMED_TOPICS
from schemas.events import CompensationReport

TOPICS = tuple(t.value for t in CONSUMED_TOPICS)
_CODE_LINE = re.compile(r"^code (\S+):")


@dataclass(frozen=True)
class LetterView:
    """A dead letter as the page shows it (codes masked)."""

    ref: str
    key: str
    error: str
    error_type: str
    preview: str


def _masked_value(raw: bytes) -> str:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return f"(not JSON, {len(raw)} bytes)"
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        data["code"] = mask_code(data["code"])
    text = orjson.dumps(data).decode()
    return text if len(text) <= 300 else text[:300] + "..."


def _masked_key(topic: str, key: bytes | None) -> str:
    text = (key or b"").decode("utf-8", errors="replace")
    if topic == "redeem.requests" and ":" in text:
        tenant, _, code = text.partition(":")
        return f"{tenant}:{mask_code(code)}"
    return text


def _topic(topic: str) -> str:
    if topic not in TOPICS:
        raise InvalidInput(f"choose one of {', '.join(TOPICS)}", field="topic")
    return topic


def dead_letters(container: Container, principal: Principal, topic: str) -> list[LetterView]:
    """The dead letters of ``topic`` (at most 200), masked."""
    require(principal, Permission.OPS)
    letters = read_dead_letters(
        container.topic_reader, container.settings, _topic(topic), limit=200)
    return [_view(topic, d) for d in letters]


def _view(topic: str, letter: DeadLetter) -> LetterView:
    error = letter.headers.get("error", "")
    for code in _codes_in(letter.value):  # an error text may quote the code it refused
        error = error.replace(code, mask_code(code))
    return LetterView(letter.ref, _masked_key(topic, letter.key), error[:300],
                      letter.headers.get("error_type", ""), _masked_value(letter.value))


def _codes_in(raw: bytes) -> list[str]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    code = data.get("code") if isinstance(data, dict) else None
    return [code] if isinstance(code, str) and len(code) >= 4 else []


def replay_letters(container: Container, audit: Audit, principal: Principal, topic: str,
                   refs: list[str]) -> int:
    """Re-publish the chosen dead letters to their original topic."""
    require(principal, Permission.OPS)
    if not refs:
        raise InvalidInput("choose at least one dead letter", field="refs")
    letters = read_dead_letters(container.topic_reader, container.settings, _topic(topic))
    chosen = select(letters, refs[:200])
    count = replay(container.event_sink, container.settings, topic, chosen)
    audit.record(principal, "dlq_replay", target=topic, detail=f"{count}: {' '.join(refs[:50])}")
    return count


def compensate(container: Container, audit: Audit, principal: Principal, *, dry_run: bool,
               older_than_seconds: int | None = None) -> CompensationReport:
    """Run a compensation job here (the principal's tenant, or all for a platform admin)."""
    from core.compensation import new_job

    require(principal, Permission.OPS)
    job = new_job(tenant_id=principal.tenant_id,
                  older_than_seconds=older_than_seconds
                  or container.settings.compensation_threshold_seconds,
                  dry_run=dry_run, requested_by=principal.operator_id)
    report = asyncio.run(container.compensator().run(job))
    audit.record(principal, "compensation_dry_run" if dry_run else "compensation_run",
                 target=job.job_id,
                 detail=f"examined {report.examined}, marked granted {report.marked_granted},"
                        f" regranted {report.regranted}, released {report.released_in_cache},"
                        f" failed {report.failed}")
    return report


def verify_cache(container: Container, audit: Audit, principal: Principal,
                 tenant_id: str) -> list[str]:
    """Where Redis disagrees with MySQL for a tenant (codes masked), at most 100 lines."""
    from core.cache_rebuild import cache_mismatches

    require(principal, Permission.OPS)
    tenant = principal.tenant_id or tenant_id.strip()
    if not tenant:
        raise InvalidInput("choose a tenant", field="tenant_id")
    problems = [_CODE_LINE.sub(lambda m: f"code {mask_code(m.group(1))}:", line)
                for line in cache_mismatches(container, tenant, 100)]
    audit.record(principal, "cache_verify", target=tenant, detail=f"{len(problems)} mismatches",
                 tenant_id=tenant)
    return problems
