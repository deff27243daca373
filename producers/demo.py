"""The demo scenario: what an upstream, a tenant service and a channel partner would send.

Pure message building (no I/O): tenants, campaigns, and a mix of requests covering every
path of the pipeline — valid, duplicate, raced, expired, cross-tenant, unknown, malformed.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from schemas.campaign import CampaignRule, CreateCampaignRequest
from schemas.events import Channel, RedeemRequested, TenantStatus, TenantType, TenantUpdated

DEMO_ACCOUNT = "ops-demo"
PRODUCT = "APP_A"


@dataclass(frozen=True)
class DemoIds:
    """Unique ids of one demo run (re-running never collides with an earlier run)."""

    run: str = field(default_factory=lambda: secrets.token_hex(3))

    @property
    def tenant(self) -> str:
        return f"demo{self.run}A"

    @property
    def other_tenant(self) -> str:
        return f"demo{self.run}B"

    def campaign(self, name: str) -> str:
        return f"demo{self.run}-{name}"


def tenant_events(ids: DemoIds) -> list[TenantUpdated]:
    """The tenant service announces two channel tenants."""
    version = time.time_ns() // 1000
    return [
        TenantUpdated(
            tenant_id=t,
            name=f"Demo channel {t[-1]}",
            type=TenantType.CHANNEL,
            status=TenantStatus.ACTIVE,
            code_quota=100_000,
            version=version,
        )
        for t in (ids.tenant, ids.other_tenant)
    ]


def campaign_requests(ids: DemoIds, codes: int) -> list[CreateCampaignRequest]:
    """The main campaign (seed 000 §九 rule), an expired one, and one of the other tenant."""
    now = datetime.now(UTC)
    main = CampaignRule.model_validate(
        {
            "ruleId": "invite_reward_demo",
            "codeType": "RANDOM_ALPHANUM",
            "length": 12,
            "validDays": 30,
            "useLimit": 1,
            "perUserLimit": 3,
            "applicableProducts": [PRODUCT],
            "rewardRules": [
                {"type": "COUPON", "id": "NEW_USER_10OFF"},
                {"type": "MEMBERSHIP_CARD", "id": "VIP", "condition": {"userTag": "invited_user"}},
            ],
        }
    )
    expired = main.model_copy(
        update={
            "valid_from": now - timedelta(days=10),
            "valid_until": now - timedelta(days=1),
            "valid_days": None,
        }
    )
    return [
        CreateCampaignRequest(
            campaign_id=ids.campaign("main"),
            tenant_id=ids.tenant,
            product_code=PRODUCT,
            name="Invite rewards",
            rule=main,
            code_count=codes,
            account_id=DEMO_ACCOUNT,
        ),
        CreateCampaignRequest(
            campaign_id=ids.campaign("old"),
            tenant_id=ids.tenant,
            product_code=PRODUCT,
            name="Last season",
            rule=expired,
            code_count=20,
            account_id=DEMO_ACCOUNT,
        ),
        CreateCampaignRequest(
            campaign_id=ids.campaign("other"),
            tenant_id=ids.other_tenant,
            product_code=PRODUCT,
            name="Other tenant",
            rule=main,
            code_count=20,
            account_id=DEMO_ACCOUNT,
        ),
    ]


@dataclass
class RequestMix:
    """Requests to publish, with what each part is meant to show."""

    requests: list[RedeemRequested] = field(default_factory=list)
    duplicates: list[RedeemRequested] = field(default_factory=list)
    malformed: list[bytes] = field(default_factory=list)
    parts: dict[str, int] = field(default_factory=dict)


def _request(tenant: str, code: str, user: str, tags: list[str] | None = None) -> RedeemRequested:
    return RedeemRequested(
        request_id=f"demo-{secrets.token_hex(8)}",
        tenant_id=tenant,
        product_code=PRODUCT,
        code=code,
        user_id=user,
        channel=Channel.APP,
        device_id=f"dev-{user}",
        user_tags=tags or [],
    )


def request_mix(
    ids: DemoIds,
    main_codes: list[str],
    expired_codes: list[str],
    foreign_codes: list[str],
    unknown_codes: list[str],
) -> RequestMix:
    """Valid, duplicate, raced, expired, cross-tenant, unknown and malformed requests."""
    mix = RequestMix()
    raced, valid = main_codes[:20], main_codes[20:]
    for i, code in enumerate(valid):
        typed = code.lower() if i % 3 == 0 else f"{code[:4]}-{code[4:8]}-{code[8:]}"
        tags = ["invited_user"] if i % 2 == 0 else []
        mix.requests.append(_request(ids.tenant, typed, f"user{i}", tags))
    mix.parts["valid"] = len(valid)
    for code in raced:  # five different users race for each code
        mix.requests.extend(_request(ids.tenant, code, f"racer{r}-{code[-3:]}") for r in range(5))
    mix.parts["raced (5 users per code)"] = len(raced) * 5
    mix.requests.extend(_request(ids.tenant, c, f"late{i}") for i, c in enumerate(expired_codes))
    mix.parts["expired campaign"] = len(expired_codes)
    mix.requests.extend(_request(ids.tenant, c, f"cross{i}") for i, c in enumerate(foreign_codes))
    mix.parts["other tenant's codes"] = len(foreign_codes)
    mix.requests.extend(_request(ids.tenant, c, f"guess{i}") for i, c in enumerate(unknown_codes))
    mix.parts["unknown / mistyped codes"] = len(unknown_codes)
    mix.duplicates = mix.requests[: max(1, len(valid) // 10)]
    mix.parts["redelivered duplicates"] = len(mix.duplicates)
    mix.malformed = [
        b"{not json",
        orjson.dumps({"request_id": "x"}),
        orjson.dumps({"request_id": "y", "tenant_id": "bad tenant!", "code": "A"}),
    ]
    mix.parts["malformed messages"] = len(mix.malformed)
    return mix
