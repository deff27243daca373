"""Campaign creation (seed 000 §3) and campaign status changes.

``create_campaign`` is the one code path of both entrances (CLI and ``campaign.requests``):
validate the rule, then in one transaction lock the tenant row, check the campaign id is
free, check the tenant is ACTIVE and has quota, store the campaign and open its generation
batch; then generate the codes. It is idempotent on ``campaign_id``: the same content again
answers ALREADY_EXISTS (finishing an interrupted generation), other content CONFLICT.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from core.campaign_tenant import choose_tenant, read_campaign
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
from core.generation import Generation, ProgressFn, check_tenant, open_batch
from core.metrics import CAMPAIGNS_CREATED
from core.records import ROLLED_BACK, RUNNING, CampaignRecord
from core.service_ports import CodeCache, Storage
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


@dataclass(frozen=True)
class Campaigns:
    """Campaign creation and status changes over the storage and cache ports."""

    store: Storage
    cache: CodeCache
    generation: Generation

    def create(
        self, request: CreateCampaignRequest, progress: ProgressFn | None = None
    ) -> CreateCampaignResult:
        """Create the campaign and its codes; business failures come back as result
        outcomes. Transient failures (``RetryableError``) are raised for the caller to retry.
        """
        try:
            outcome, generated, message = self._create(request, progress)
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
        self, request: CreateCampaignRequest, progress: ProgressFn | None
    ) -> tuple[CampaignOutcome, int, str]:
        if request.code_count:
            assert_code_space(request.rule.code, request.code_count)
        digest = request_hash(request)
        campaign, batch_id, created = self._register(request, digest)
        self.cache.write_campaign(campaign)
        if batch_id is not None:
            self.generation.run_batch(batch_id, progress=progress)
        total = self._codes_of(campaign)
        if created:
            return CampaignOutcome.CREATED, total, f"campaign created with {total:,} codes"
        return CampaignOutcome.ALREADY_EXISTS, total, "campaign already exists with this content"

    def _register(
        self, request: CreateCampaignRequest, digest: str
    ) -> tuple[CampaignRecord, str | None, bool]:
        """(campaign, batch to run or None, created?) — one transaction under the tenant
        lock."""
        with self.store.begin("register campaign") as tx:
            tenant = tx.get_tenant(request.tenant_id, lock=True)
            existing = tx.get_campaign(request.campaign_id)
            if existing is not None:
                if existing.request_hash != digest or existing.tenant_id != request.tenant_id:
                    raise ConflictingCampaign(
                        f"campaign {request.campaign_id} exists with different content"
                    )
                running = [b for b in tx.campaign_batches(existing.tenant_id,
                                                          existing.campaign_id)
                           if b.status == RUNNING]
                return existing, (running[0].batch_id if running else None), False
            tenant = check_tenant(tenant, request.tenant_id)
            record = _record(request, digest, tenant.name, tenant.type)
            if not tx.insert_campaign(record):
                raise ConflictingCampaign(f"campaign {request.campaign_id} is taken")
            batch_id = None
            if request.code_count:
                batch = open_batch(tx, tenant, request.campaign_id, request.code_count,
                                   request.account_id, request.rule.code)
                batch_id = batch.batch_id
            return record, batch_id, True

    def _codes_of(self, campaign: CampaignRecord) -> int:
        with self.store.read("count campaign codes") as tx:
            batches = tx.campaign_batches(campaign.tenant_id, campaign.campaign_id)
        return sum(b.inserted for b in batches if b.status != ROLLED_BACK)

    def get(self, tenant_id: str, campaign_id: str) -> CampaignRecord:
        """A tenant's campaign (UnknownCampaign when it has none of that id)."""
        return read_campaign(self.store, tenant_id, campaign_id)

    def set_status(
        self, tenant_id: str, campaign_id: str, status: CampaignStatus | str
    ) -> CampaignRecord:
        """Change a campaign's status in MySQL, then rewrite its Redis hash at once."""
        value = CampaignStatus(status).value
        now = datetime.now(UTC).replace(tzinfo=None)
        with self.store.begin("update campaign status") as tx:
            changed = tx.update_campaign_status(tenant_id, campaign_id, value, now)
        if not changed:
            raise UnknownCampaign(f"tenant {tenant_id} has no campaign {campaign_id}")
        campaign = self.get(tenant_id, campaign_id)
        self.cache.write_campaign(campaign)
        return campaign

    def tenant_of(self, campaign_id: str, tenant_id: str | None = None) -> str:
        """``tenant_id`` when given, else the tenant the campaign id belongs to (see
        ``core.campaign_tenant``)."""
        if tenant_id:
            return tenant_id
        with self.store.read("find the campaign's tenant") as tx:
            tenants = tx.tenants_of_campaign(campaign_id)
        return choose_tenant(campaign_id, tenants)


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
