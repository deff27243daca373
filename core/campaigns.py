"""Campaign creation (seed 000 §3) and campaign status changes.

``create_campaign`` is the one code path of both entrances (CLI and ``campaign.requests``):
validate the rule, then in one transaction lock the tenant row, check the campaign id is
free, check the tenant is ACTIVE and has quota, store the campaign and open its generation
batch; then generate the codes. It is idempotent on ``campaign_id``: the same content again
answers ALREADY_EXISTS (finishing an interrupted generation), other content CONFLICT.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import orjson
from sqlalchemy.exc import IntegrityError

from core.adapters.mysql import campaign_store, code_store
from core.adapters.mysql.campaign_store import CampaignRecord
from core.adapters.mysql.engine import guarded
from core.adapters.mysql.tenant_store import get_tenant
from core.adapters.redis.code_loader import CodeLoader
from core.bootstrap import Container
from core.codes import assert_code_space
from core.errors import (
    CodeSpaceTooSmall,
    ConflictingCampaign,
    DomainRuleViolation,
    InvalidRule,
    NotFound,
    QuotaExceeded,
    TenantSuspended,
    UnknownCampaign,
    UnknownTenant,
)
from core.generation import ProgressFn, check_tenant, open_batch, run_batch
from core.generation.batches import campaign_cache_entry
from core.metrics import CAMPAIGNS_CREATED
from schemas.base import naive_utc
from schemas.campaign import (
    CampaignOutcome,
    CampaignStatus,
    CreateCampaignRequest,
    CreateCampaignResult,
)

_OUTCOMES: tuple[tuple[type[Exception], CampaignOutcome], ...] = (
    (UnknownTenant, CampaignOutcome.UNKNOWN_TENANT),
    (TenantSuspended, CampaignOutcome.TENANT_SUSPENDED),
    (QuotaExceeded, CampaignOutcome.QUOTA_EXCEEDED),
    (InvalidRule, CampaignOutcome.INVALID_RULE),
    (CodeSpaceTooSmall, CampaignOutcome.INVALID_RULE),
    (ConflictingCampaign, CampaignOutcome.CONFLICT),
)


def request_hash(request: CreateCampaignRequest) -> str:
    """sha256 of the request's canonical content (timestamps and schema version excluded)."""
    content = request.model_dump(mode="json", exclude={"requested_at", "schema_version"})
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def create_campaign(
    container: Container, request: CreateCampaignRequest, progress: ProgressFn | None = None
) -> CreateCampaignResult:
    """Create the campaign and its codes; business failures come back as result outcomes.

    Transient failures (``RetryableError``) are raised for the caller to retry.
    """
    try:
        outcome, generated, message = _create(container, request, progress)
    except (DomainRuleViolation, NotFound) as exc:
        mapped = next((o for t, o in _OUTCOMES if isinstance(exc, t)), None)
        if mapped is None:
            raise
        outcome, generated, message = mapped, 0, str(exc)
    CAMPAIGNS_CREATED.labels(outcome=outcome.value).inc()
    return CreateCampaignResult(campaign_id=request.campaign_id, tenant_id=request.tenant_id,
                                outcome=outcome, codes_generated=generated,
                                message=message[:512])


def _create(
    container: Container, request: CreateCampaignRequest, progress: ProgressFn | None
) -> tuple[CampaignOutcome, int, str]:
    if request.code_count:
        assert_code_space(request.rule.code, request.code_count)
    digest = request_hash(request)
    campaign, batch_id, created = guarded(
        "register campaign", lambda: _register(container, request, digest)
    )
    CodeLoader(container.redis, container.keys).write_campaign(campaign_cache_entry(campaign))
    if batch_id is not None:
        run_batch(container, batch_id, progress=progress)
    total = _codes_of(container, campaign)
    if created:
        return CampaignOutcome.CREATED, total, f"campaign created with {total:,} codes"
    return CampaignOutcome.ALREADY_EXISTS, total, "campaign already exists with this content"


def _register(
    container: Container, request: CreateCampaignRequest, digest: str
) -> tuple[CampaignRecord, str | None, bool]:
    """(campaign, batch to run or None, created?) — one transaction under the tenant lock."""
    with container.engine.begin() as conn:
        tenant = get_tenant(conn, request.tenant_id, lock=True)
        existing = campaign_store.get_campaign(conn, request.campaign_id)
        if existing is not None:
            if existing.request_hash != digest or existing.tenant_id != request.tenant_id:
                raise ConflictingCampaign(
                    f"campaign {request.campaign_id} exists with different content"
                )
            running = [b for b in code_store.campaign_batches(
                conn, existing.tenant_id, existing.campaign_id) if b.status == code_store.RUNNING]
            return existing, (running[0].batch_id if running else None), False
        tenant = check_tenant(tenant, request.tenant_id)
        record = _record(request, digest, tenant.name, tenant.type)
        try:
            campaign_store.insert_campaign(conn, record)
        except IntegrityError as exc:
            raise ConflictingCampaign(f"campaign {request.campaign_id} is taken") from exc
        batch_id = None
        if request.code_count:
            batch = open_batch(conn, tenant, request.campaign_id, request.code_count,
                               request.account_id, request.rule.code)
            batch_id = batch.batch_id
        return record, batch_id, True


def _record(
    request: CreateCampaignRequest, digest: str, tenant_name: str, tenant_type: str
) -> CampaignRecord:
    now = datetime.now(UTC)
    start, end = request.rule.window(now)
    rule = request.rule
    return CampaignRecord(
        campaign_id=request.campaign_id, tenant_id=request.tenant_id, tenant_name=tenant_name,
        tenant_type=tenant_type, product_code=request.product_code, name=request.name,
        status=request.status.value, rule=rule.model_dump(mode="json", by_alias=True),
        request_hash=digest, use_limit=rule.use_limit, per_user_limit=rule.per_user_limit,
        valid_from=naive_utc(start), valid_until=naive_utc(end) if end else None,
        codes_requested=request.code_count, created_by=request.account_id,
        created_at=naive_utc(now), updated_at=naive_utc(now),
    )


def _codes_of(container: Container, campaign: CampaignRecord) -> int:
    def work() -> int:
        with container.engine.connect() as conn:
            batches = code_store.campaign_batches(conn, campaign.tenant_id, campaign.campaign_id)
        return sum(b.inserted for b in batches if b.status != code_store.ROLLED_BACK)

    return guarded("count campaign codes", work)


def get_campaign(container: Container, tenant_id: str, campaign_id: str) -> CampaignRecord:
    """A tenant's campaign (UnknownCampaign when it has none of that id)."""

    def work() -> CampaignRecord | None:
        with container.engine.connect() as conn:
            return campaign_store.get_campaign(conn, campaign_id, tenant_id=tenant_id)

    campaign = guarded("read campaign", work)
    if campaign is None:
        raise UnknownCampaign(f"tenant {tenant_id} has no campaign {campaign_id}")
    return campaign


def set_campaign_status(
    container: Container, tenant_id: str, campaign_id: str, status: CampaignStatus | str
) -> CampaignRecord:
    """Change a campaign's status in MySQL, then rewrite its Redis hash at once."""
    value = CampaignStatus(status).value
    now = datetime.now(UTC).replace(tzinfo=None)

    def work() -> bool:
        with container.engine.begin() as conn:
            return campaign_store.update_status(conn, tenant_id, campaign_id, value, now)

    if not guarded("update campaign status", work):
        raise UnknownCampaign(f"tenant {tenant_id} has no campaign {campaign_id}")
    campaign = get_campaign(container, tenant_id, campaign_id)
    CodeLoader(container.redis, container.keys).write_campaign(campaign_cache_entry(campaign))
    return campaign
