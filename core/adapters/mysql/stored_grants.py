"""How a redemption row keeps its grants (``redemptions.grants_json``).

A grant repeats its redemption's facts (request, tenant, product, campaign, user; the time,
which is the row's ``claimed_at``): only the grant id and the reward are its own. The row
keeps just those, ``[grant_id, type, id, quantity]`` per grant, and the grants are rebuilt
from the row when they are needed again (a redelivered request's answer, compensation's
re-emission): the same messages, field for field. MariaDB's cost of an insert grows with its
bytes, and a whole grant is ~400 of them: the compact form cut the batch insert's server CPU
by about a third (``docs/performance.md``).

A grant whose facts differ from its row's (none does today) keeps its whole object, as
every row did before this form; both shapes are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from core.redemption.grants import GrantFacts
from schemas.events import RewardGrant
from schemas.rewards import Reward


@dataclass(slots=True)
class RedemptionFacts(GrantFacts):
    """The columns of a redemption row that its grants share, its time included."""

    claimed_at: datetime  # naive UTC, as stored

    def rebuild(self, stored: object) -> RewardGrant:
        """One grant from its stored element (compact list or whole object)."""
        if isinstance(stored, dict):
            return RewardGrant.model_validate(stored)
        if not isinstance(stored, list) or len(stored) != 4:
            raise ValueError(f"redemption {self.redemption_id}: unreadable stored grant {stored!r}")
        grant_id, reward_type, reward_id, quantity = stored
        reward = Reward(type=reward_type, id=reward_id, quantity=quantity)
        return self.grant(grant_id, reward, self.claimed_at.replace(tzinfo=UTC))


def pack(grants: Sequence[RewardGrant], facts: RedemptionFacts) -> str:
    """The column's JSON for a redemption's grants: compact where a grant shares every
    fact of the row, whole otherwise."""
    return orjson.dumps([_element(g, facts) for g in grants]).decode()


def _element(grant: RewardGrant, facts: RedemptionFacts) -> object:
    reward = grant.reward
    if (
        grant.campaign_id == facts.campaign_id
        and grant.granted_at.replace(tzinfo=None) == facts.claimed_at
        and grant.redemption_id == facts.redemption_id
        and grant.request_id == facts.request_id
        and grant.user_id == facts.user_id
        and grant.tenant_id == facts.tenant_id
        and grant.product_code == facts.product_code
        and grant.granted_at.tzinfo is UTC
    ):
        return [grant.grant_id, reward.type.value, reward.id, reward.quantity]
    return orjson.loads(grant.to_bytes())


def unpack(raw: object, facts: RedemptionFacts) -> list[RewardGrant]:
    """The grants of a redemption row (``raw``: the column as the driver returns it)."""
    return [facts.rebuild(element) for element in _loaded(raw)]


def stored_grant_ids(raw: object) -> list[str]:
    """Only the grant ids of a stored column (either shape)."""
    return [e["grant_id"] if isinstance(e, dict) else e[0] for e in _loaded(raw)]  # type: ignore[index]


def _loaded(raw: object) -> list[object]:
    if raw is None:
        return []
    data = raw if isinstance(raw, list) else orjson.loads(raw)  # type: ignore[arg-type]
    if not isinstance(data, list):
        raise ValueError(f"stored grants are not a JSON array: {raw!r}")
    return data
