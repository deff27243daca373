"""A campaign id names its tenant when exactly one tenant holds it."""

from __future__ import annotations

import pytest

from core.campaign_tenant import choose_tenant
from core.errors import AmbiguousCampaign, UnknownCampaign


def test_one_tenant_is_the_answer() -> None:
    assert choose_tenant("c1", ["T1"]) == "T1"


def test_no_tenant_is_an_unknown_campaign() -> None:
    with pytest.raises(UnknownCampaign, match="no tenant has a campaign c1"):
        choose_tenant("c1", [])


def test_several_tenants_name_them_and_ask_for_one() -> None:
    with pytest.raises(AmbiguousCampaign, match=r"exists in tenants T1, T2; pass --tenant-id"):
        choose_tenant("c1", ["T2", "T1"])
