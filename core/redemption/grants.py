"""Turn a campaign's reward rules into the RewardGrant messages of one redemption."""

from __future__ import annotations

from datetime import datetime

from core.redemption.ids import grant_id
from core.redemption.model import Attempt, CampaignInfo
from schemas.events import RewardGrant


def build_grants(
    attempt: Attempt, campaign: CampaignInfo, granted_at: datetime
) -> list[RewardGrant]:
    """One grant per reward rule whose condition holds (user tags, channel), ids stable."""
    request = attempt.request
    tags = frozenset(request.user_tags)
    redemption = attempt.redemption_id or ""
    grants = []
    for index, rule in enumerate(campaign.reward_rules):
        if not rule.applies_to(tags, request.channel.value):
            continue
        grants.append(
            RewardGrant(
                grant_id=grant_id(redemption, index, rule.type.value, rule.id),
                redemption_id=redemption,
                request_id=request.request_id,
                tenant_id=request.tenant_id,
                product_code=request.product_code,
                campaign_id=campaign.campaign_id,
                user_id=request.user_id,
                reward=rule.reward,
                granted_at=granted_at,
            )
        )
    return grants
