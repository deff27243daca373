"""Redis key layout. Every key of a tenant carries the ``{tenant_id}`` hash tag, so all
keys one Lua call touches fall into one Redis Cluster slot. ``<code>`` is a code's lookup
value (core/codes/protection.py), never the code, except for rows not yet migrated by
``keys migrate``, keyed by their plaintext.

    <p>:{t}:c:<code>            code entry "campaign|use_limit|used|status|bound_user"
    <p>:{t}:neg:<code>          negative cache: MySQL has no such code (short TTL)
    <p>:{t}:ready:l             the tenant's codes are fully loaded: a miss is authoritative
    <p>:{t}:camp:<campaign>     campaign hash: status, from, until (epoch ms), products, pul,
                                elig (reward conditions, '' = everyone eligible)
    <p>:{t}:pu:<campaign>       per-user redemption counts of a campaign
    <p>:{t}:req:<request_id>    a request's claim "campaign|code|user|claimed_ms" (24 h TTL)
    <p>:{t}:pool:<campaign>     pre-generated, unallocated codes (set)
    <p>:{t}:rl:p:<product>      product-line attempt windows (":<window index>" appended)
    <p>:{t}:rl:u:<user>         failed attempts of a user
    <p>:{t}:rl:d:<device>       failed attempts of a device
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.rewards import RewardRule


@dataclass(frozen=True)
class RedisKeys:
    """Builds the keys of one deployment (``prefix`` isolates deployments and test runs)."""

    prefix: str

    def tenant(self, tenant_id: str) -> str:
        """The common start of every key of a tenant, hash tag included."""
        return f"{self.prefix}:{{{tenant_id}}}:"

    def code(self, tenant_id: str, code: str) -> str:
        """The cache entry of one code."""
        return f"{self.tenant(tenant_id)}c:{code}"

    def negative(self, tenant_id: str, code: str) -> str:
        """The negative-cache marker of a code MySQL does not know."""
        return f"{self.tenant(tenant_id)}neg:{code}"

    def ready(self, tenant_id: str) -> str:
        """The marker saying the tenant's codes are all in the cache. Named ``ready:l`` since
        codes are keyed by their lookup value (core/codes/protection.py): a ``ready`` set
        while entries were keyed by plaintext codes must not make a lookup's miss final."""
        return f"{self.tenant(tenant_id)}ready:l"

    def campaign(self, tenant_id: str, campaign_id: str) -> str:
        """The campaign hash."""
        return f"{self.tenant(tenant_id)}camp:{campaign_id}"

    def per_user(self, tenant_id: str, campaign_id: str) -> str:
        """The hash of per-user redemption counts in a campaign."""
        return f"{self.tenant(tenant_id)}pu:{campaign_id}"

    def request(self, tenant_id: str, request_id: str) -> str:
        """The claim record of one request."""
        return f"{self.tenant(tenant_id)}req:{request_id}"

    def gateway_pending(self, tenant_id: str, request_id: str) -> str:
        """A gateway answered 202 for this request (so any gateway process says 202 too)."""
        return f"{self.tenant(tenant_id)}gwpending:{request_id}"

    def pool(self, tenant_id: str, campaign_id: str) -> str:
        """The set of pre-generated codes not yet allocated."""
        return f"{self.tenant(tenant_id)}pool:{campaign_id}"

    def product_attempts(self, tenant_id: str, product_code: str) -> str:
        """Base of the product line's attempt windows."""
        return f"{self.tenant(tenant_id)}rl:p:{product_code}"

    def user_failures(self, tenant_id: str, user_id: str) -> str:
        """Base of a user's failed-attempt windows."""
        return f"{self.tenant(tenant_id)}rl:u:{user_id}"

    def device_failures(self, tenant_id: str, device_id: str) -> str:
        """Base of a device's failed-attempt windows."""
        return f"{self.tenant(tenant_id)}rl:d:{device_id}"

    def tenant_pattern(self, tenant_id: str | None = None) -> str:
        """A SCAN pattern for one tenant's keys, or for the whole deployment."""
        if tenant_id is None:
            return f"{self.prefix}:*"
        return f"{self.tenant(tenant_id)}*"


def code_value(campaign_id: str, use_limit: int, used: int, status: int, bound_user: str) -> str:
    """Encode a code entry the way claim.lua reads it."""
    return f"{campaign_id}|{use_limit}|{used}|{status:d}|{bound_user}"


def products_field(products: list[str]) -> str:
    """Encode applicable products for a plain substring test in Lua ('' = every product)."""
    return f",{','.join(products)}," if products else ""


def eligibility_field(rules: Sequence[RewardRule]) -> str:
    """A campaign's reward conditions as claim.lua tests them: '' when some reward is
    unconditional (everyone is eligible), else ``tag,channel`` per rule joined by ``;``
    (an empty part is no condition). Mirrors :func:`schemas.rewards.eligible`."""
    if any(rule.unconditional for rule in rules):
        return ""
    return ";".join(
        f"{rule.condition.user_tag or ''},{rule.condition.channel or ''}"
        for rule in rules
        if rule.condition is not None
    )


def epoch_ms(moment: datetime | None) -> str:
    """A naive-UTC or aware datetime as epoch milliseconds ('' for None), as Lua compares."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return str(int(moment.timestamp() * 1000))


def campaign_fields(
    status: str,
    valid_from: datetime | None,
    valid_until: datetime | None,
    products: list[str],
    per_user_limit: int,
    rewards: Sequence[RewardRule] = (),
) -> dict[str, str]:
    """The campaign hash as claim.lua reads it (one encoder for every writer)."""
    return {
        "status": status,
        "from": epoch_ms(valid_from) or "0",
        "until": epoch_ms(valid_until),
        "products": products_field(products),
        "pul": str(per_user_limit),
        "elig": eligibility_field(rewards),
    }
