"""Reward kinds (seed 002 cdk_kind) and campaign reward rules (seed 000 §九 rewardRules)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from schemas.base import Identifier, Tag


class RewardType(StrEnum):
    """What a product service credits: membership card, coupon or coupon pack (seed 002)."""

    MEMBERSHIP_CARD = "MEMBERSHIP_CARD"
    COUPON = "COUPON"
    COUPON_PACK = "COUPON_PACK"
    POINTS = "POINTS"


class RuleModel(BaseModel):
    """Rule JSON accepts the seed's camelCase and snake_case alike; unknown keys are errors."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, alias_generator=to_camel
    )


class RewardCondition(RuleModel):
    """When a reward applies: every given condition must hold (seed: ``userTag``)."""

    user_tag: Tag | None = None
    channel: str | None = Field(default=None, pattern=r"^(web|app|mini)$")


class Reward(RuleModel):
    """One reward: type, kind number (e.g. VIP/SVIP or a coupon id) and quantity."""

    type: RewardType
    id: Identifier
    quantity: int = Field(default=1, ge=1, le=1_000_000)


class RewardRule(Reward):
    """A reward granted when its condition holds for the redeeming user."""

    condition: RewardCondition | None = None

    def applies_to(self, user_tags: frozenset[str], channel: str | None) -> bool:
        """Whether the condition holds for a user with these tags on this channel."""
        cond = self.condition
        if cond is None:
            return True
        if cond.user_tag is not None and cond.user_tag not in user_tags:
            return False
        return cond.channel is None or cond.channel == channel

    @property
    def unconditional(self) -> bool:
        """Whether every user gets this reward (no condition, or an empty one)."""
        cond = self.condition
        return cond is None or (cond.user_tag is None and cond.channel is None)

    @cached_property
    def reward(self) -> Reward:
        """The reward part alone, as carried by a grant message (built once per rule: the
        rule is immutable and every grant of it carries the same frozen reward)."""
        return Reward(type=self.type, id=self.id, quantity=self.quantity)


def eligible(rules: Sequence[RewardRule], user_tags: frozenset[str], channel: str | None) -> bool:
    """The redemption rule: a user may redeem a campaign's code only if at least one of its
    reward rules applies to them (else the code would be used up for nothing). The worker
    refuses the others with NOT_ELIGIBLE before claiming; claim.lua applies the same test
    to the conditions encoded by ``core.adapters.redis.keys.eligibility_field``."""
    return any(rule.applies_to(user_tags, channel) for rule in rules)
