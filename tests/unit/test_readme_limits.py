"""The limits the README promises are the ones the code applies (defaults, counted refusals)."""

from __future__ import annotations

import re
from pathlib import Path

from core.settings import Settings
from schemas.campaign import CampaignRule

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CLAIM_LUA = (ROOT / "core" / "adapters" / "redis_lua" / "claim.lua").read_text()


def _row(label: str) -> str:
    rows = [line for line in README.splitlines() if line.startswith(f"| {label} |")]
    assert len(rows) == 1, f"README has no single limits row for {label!r}"
    return rows[0]


def _default(name: str) -> object:
    return Settings.model_fields[name].default


def test_per_user_and_per_code_defaults_match_the_rule_schema() -> None:
    rule = CampaignRule.model_validate({"rewardRules": [{"type": "COUPON", "id": "C"}]})
    assert f"| **{rule.per_user_limit}** |" in _row("redemptions per user and campaign")
    assert f"| {rule.use_limit} |" in _row("uses per code")


def test_failed_attempt_throttles_match_the_settings() -> None:
    user = _default("user_failed_attempts_per_hour")
    device = _default("device_failed_attempts_per_hour")
    assert f"**{user} per sliding hour**" in _row("failed attempts per user")
    assert f"{device} per sliding hour" in _row("failed attempts per device (`device_id`)")
    assert f"has {user} failures in the last hour" in README


def test_the_refusals_said_to_count_are_the_ones_claim_lua_counts() -> None:
    counted = set(re.findall(r"return fail\('([A-Z_]+)'", CLAIM_LUA))
    paragraph = README[README.index("A *failed attempt*"):README.index("RATE_LIMITED itself")]
    named = set(re.findall(r"\b([A-Z][A-Z_]{4,})\b", paragraph)) - {"REDEEMED"}
    assert "ALREADY_USED" in counted
    assert named == counted
