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


#: The request path's topics: partitioned by ``topic_partitions`` (what workers and product
#: services share). The other topics (tenant, campaign and compensation traffic, every
#: dead-letter topic) carry little and get ``control_topic_partitions``: every partition a
#: worker is assigned costs each of its fetches, busy or not.
DATA_TOPICS: frozenset[str] = frozenset(
    {Topic.REDEEM_REQUESTS.value, Topic.REDEEM_RESULTS.value, Topic.REWARD_GRANTS.value}
)


def partitions_for(name: str, data: int, control: int) -> int:
    """The partition count of contract topic ``name`` (unprefixed)."""
    return data if name in DATA_TOPICS else control


def all_topic_names() -> list[str]:
    """Every topic of the contract, dead-letter topics included."""
    return [t.value for t in Topic] + [t.dlq for t in CONSUMED_TOPICS]
