"""Cluster configuration: URL forms, bad nodes, and the start-up slot-layout check."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from core.adapters.redis.claims import ClaimCache
from core.adapters.redis.client import async_client
from core.adapters.redis.keys import RedisKeys
from core.adapters.redis.layout import check_slot_layout
from core.errors import ConfigurationError
from core.settings import load_settings


def test_a_cluster_url_lists_its_seed_nodes() -> None:
    settings = load_settings(redis_url="redis+cluster://:secret@10.0.0.1:7000, 10.0.0.2:7001")
    assert settings.redis_is_cluster
    assert settings.redis_cluster_nodes == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]
    assert not load_settings(redis_url="redis://127.0.0.1:6379/0").redis_is_cluster


def test_the_cluster_flag_makes_a_plain_url_a_seed_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDEEMFLOW_REDIS_CLUSTER", "true")
    settings = load_settings(redis_url="redis://127.0.0.1:7000")
    assert settings.redis_is_cluster
    assert isinstance(async_client(settings), aioredis.RedisCluster)  # built, not connected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+cluster://10.0.0.1:7000,10.0.0.2:seven", "'10.0.0.2:seven' is not host:port"),
        ("redis+cluster://10.0.0.1:70000", "is not host:port"),
        ("http://10.0.0.1:7000", "redis_url must start with one of"),
    ],
)
def test_a_bad_redis_url_names_the_setting_and_the_entry(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(redis_url=url)
    assert "redis_url (REDEEMFLOW_REDIS_URL)" in str(caught.value)
    assert problem in str(caught.value)


class _UntaggedKeys(RedisKeys):
    """A layout that forgot the hash tag: a tenant's keys scatter over slots."""

    def tenant(self, tenant_id: str) -> str:
        return f"{self.prefix}:{tenant_id}:"


def test_a_layout_crossing_slots_refuses_to_start_on_a_cluster() -> None:
    settings = load_settings(redis_url="redis+cluster://127.0.0.1:7000")
    ClaimCache(async_client(settings), RedisKeys("rf"), settings)  # the real layout passes
    with pytest.raises(ConfigurationError, match=r"claim\.lua would touch \d+ slots"):
        ClaimCache(async_client(settings), _UntaggedKeys("rf"), settings)


def test_an_empty_key_beside_tagged_ones_crosses_slots() -> None:
    with pytest.raises(ConfigurationError, match=r"release\.lua would touch 2 slots"):
        check_slot_layout({"release.lua": [["rf:{t1}:c:X", ""]]})
