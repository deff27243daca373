"""Turn a campaign's reward rules into the RewardGrant messages of one redemption."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.redemption.ids import grant_id
from core.redemption.model import Attempt, CampaignInfo
from schemas.events import RewardGrant
from schemas.rewards import Reward


@dataclass(slots=True)
class GrantFacts:
    """What every grant of one redemption carries besides its id, reward and time."""

    redemption_id: str
    request_id: str
    tenant_id: str
    product_code: str
    campaign_id: str
    user_id: str

    def grant(self, identifier: str, reward: Reward, granted_at: datetime) -> RewardGrant:
        """One grant of this redemption (``identifier``: its deterministic grant id)."""
        return RewardGrant(
            grant_id=identifier,
            redemption_id=self.redemption_id,
            request_id=self.request_id,
            tenant_id=self.tenant_id,
            product_code=self.product_code,
            campaign_id=self.campaign_id,
            user_id=self.user_id,
            reward=reward,
            granted_at=granted_at,
        )


def build_grants(
    attempt: Attempt, campaign: CampaignInfo, granted_at: datetime
) -> list[RewardGrant]:
    """One grant per reward rule whose condition holds (user tags, channel), ids stable."""
    request = attempt.request
    tags = frozenset(request.user_tags)
    redemption = attempt.redemption_id or ""
    facts = GrantFacts(
        redemption,
        request.request_id,
        request.tenant_id,
        request.product_code,
        campaign.campaign_id,
        request.user_id,
    )
    return [
        facts.grant(grant_id(redemption, index, rule.type.value, rule.id), rule.reward, granted_at)
        for index, rule in enumerate(campaign.reward_rules)
        if rule.applies_to(tags, request.channel.value)
    ]
