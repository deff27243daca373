"""The Kafka contract's topic names (design brief, "Kafka contract")."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    """Every topic of the contract; dead-letter topics are ``<topic>.dlq``."""

    REDEEM_REQUESTS = "redeem.requests"
    REDEEM_RESULTS = "redeem.results"
    REWARD_GRANTS = "reward.grants"
    TENANT_UPDATED = "tenant.updated"
    CAMPAIGN_REQUESTS = "campaign.requests"
    CAMPAIGN_RESULTS = "campaign.results"
    COMPENSATION_JOBS = "compensation.jobs"
    COMPENSATION_RESULTS = "compensation.results"

    @property
    def dlq(self) -> str:
        """The dead-letter topic of this topic."""
        return f"{self.value}.dlq"


#: Topics consumed by an agent, hence with a dead-letter companion.
CONSUMED_TOPICS: tuple[Topic, ...] = (
    Topic.REDEEM_REQUESTS,
    Topic.TENANT_UPDATED,
    Topic.CAMPAIGN_REQUESTS,
    Topic.COMPENSATION_JOBS,
)


def all_topic_names() -> list[str]:
    """Every topic of the contract, dead-letter topics included."""
    return [t.value for t in Topic] + [t.dlq for t in CONSUMED_TOPICS]
