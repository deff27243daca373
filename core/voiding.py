"""Voiding codes (status 3): one code, every code of an export batch, or a whole campaign.

Only codes never redeemed are voided: status 0 and ``used_count = 0``. A multi-use code
already redeemed at least once (status 0, ``used_count > 0``) is left alone and counted as
``partly_used``: someone holds it and has used it, so cutting off their remaining uses is
a decision for support, not a bulk operation. Claimed/granted codes are counted as
``used``; codes voided before as ``already_voided`` (voiding again changes nothing).

Each chunk of up to 5,000 codes is locked, voided (the reason appended to ``remark``) and
committed, then its Redis entries are rewritten with status 3 in one pipeline and the codes
leave the allocation pool: from then on ``claim.lua`` answers NOT_FOUND without MySQL. If
Redis misses the rewrite, the MySQL judge refuses the claim (NOT_FOUND) and repairs the
entry. An interrupted campaign void is finished by running it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.codes.normalise import clean
from core.codes.protection import is_lookup
from core.codes.status import CodeStatus
from core.errors import CacheUnavailable, NotFound, UnknownCampaign
from core.masking import mask_code
from core.records import CachedCode, VoidCandidate, VoidTarget
from core.service_ports import AllocationPool, CodePorts, Storage

CHUNK = 5_000


@dataclass
class VoidResult:
    """What a void did; ``cache_synced`` is False when Redis could not be rewritten."""

    tenant_id: str
    target: str
    voided: int = 0
    already_voided: int = 0
    partly_used: int = 0
    used: int = 0
    cache_synced: bool = True
    campaigns: set[str] = field(default_factory=set)


def void_codes(
    ports: CodePorts,
    tenant_id: str,
    *,
    code: str | None = None,
    export_batch_id: str | None = None,
    campaign_id: str | None = None,
    reason: str = "",
) -> VoidResult:
    """Void one code, an export batch's codes or a campaign's codes (exactly one selector)."""
    given = [(k, v) for k, v in (("code", code), ("export", export_batch_id),
                                 ("campaign", campaign_id)) if v]
    if len(given) != 1:
        raise ValueError("give exactly one of code, export_batch_id, campaign_id")
    by, value = given[0]
    store, pool = ports.store, ports.pool
    plain, shown = None, value
    if by == "code" and is_lookup(value):  # a stored lookup (the back office's row)
        shown = "(by row)"
    elif by == "code":  # found by its lookup, shown masked (core/codes/protection.py)
        plain = clean(value)
        value, shown = ports.protector.lookup(tenant_id, plain), mask_code(plain)
    target = VoidTarget(tenant_id, by, value, _scope(store, tenant_id, by, value, plain, shown),
                        plain)
    result = VoidResult(tenant_id, f"{by} {shown}")
    stamp = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    note = f"voided {stamp} UTC: {reason.strip() or 'no reason given'}"
    after = 0
    while True:
        done = _void_chunk(store, target, after, note)
        if not done:
            break
        result.voided += len(done)
        result.campaigns.update(c.campaign_id for c in done)
        result.cache_synced = _sync_cache(pool, tenant_id, done) and result.cache_synced
        after = done[-1].row_id
    with store.read("count codes") as tx:
        census = tx.void_census(target)
    result.already_voided = census["already_voided"] - result.voided
    result.partly_used, result.used = census["partly_used"], census["used"]
    return result


def _scope(store: Storage, tenant_id: str, by: str, value: str, plain: str | None,
           shown: str) -> str | None:
    """Check the target exists; for an export batch, its campaign (used to narrow scans)."""
    campaign = None
    with store.read("find void target") as tx:
        if by == "campaign":
            found = tx.campaign_exists(tenant_id, value)
        elif by == "export":
            batch = tx.get_export_batch(value)
            found = batch is not None and batch.tenant_id == tenant_id
            campaign = batch.campaign_id if batch and found else None
        else:
            found = tx.void_census(VoidTarget(tenant_id, "code", value, plain=plain))["matched"] > 0
    if not found:
        if by == "campaign":
            raise UnknownCampaign(f"tenant {tenant_id} has no campaign {value}")
        raise NotFound(f"tenant {tenant_id} has no {'export batch' if by == 'export' else by}"
                       f" {shown}")
    return campaign


def _void_chunk(store: Storage, target: VoidTarget, after: int,
                note: str) -> list[VoidCandidate]:
    with store.begin("void codes") as tx:
        rows = tx.lock_voidable(target, after, CHUNK)
        tx.void_rows(target.tenant_id, rows, note)
        return rows


def _sync_cache(pool: AllocationPool, tenant_id: str, rows: list[VoidCandidate]) -> bool:
    states = [CachedCode(r.code, r.campaign_id, r.use_limit, 0, CodeStatus.VOIDED,
                         r.bound_user or "") for r in rows]
    try:
        pool.write_states(tenant_id, states)
        for campaign in {r.campaign_id for r in rows}:
            pool.remove(tenant_id, campaign, [r.code for r in rows if r.campaign_id == campaign])
    except CacheUnavailable:
        return False
    return True
