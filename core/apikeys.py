"""Gateway API keys: one key maps to exactly one tenant; only a hash is ever stored.

A key looks like ``rfk_<key_id>_<secret>``: ``key_id`` (12 hex chars) is a public handle for
listing and revoking, ``secret`` is 32 random bytes (``secrets``, base64url). The database
keeps ``sha256(key)`` only, so a leaked table does not leak usable keys; the key is shown once,
at creation. A 256-bit random secret makes a plain (unsalted, fast) hash sufficient: there is
nothing to brute-force.

:class:`ApiKeyResolver` caches lookups in-process for ``api_key_cache_seconds`` (misses too,
for a shorter time), so the gateway does not hit MySQL on every request; a revoked key stops
working within that time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.errors import DomainRuleViolation
from core.stored_keys import KeyRecord
from core.ttl_cache import TtlCache

KEY_PREFIX = "rfk_"
_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$")
_KEY_RE = re.compile(r"^rfk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")


class ApiKeyRecord(KeyRecord):
    """A stored API key (never the key itself)."""


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key: ``secret_key`` is shown once and never stored."""

    record: ApiKeyRecord
    secret_key: str


class ApiKeyStore(Protocol):
    """Persistence of API keys (implemented by ``core.adapters.mysql.apikey_store``)."""

    def insert(self, key_id: str, key_hash: str, tenant_id: str, name: str) -> ApiKeyRecord:
        """Store a new key's hash."""
        ...

    def find_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this hash, revoked or not."""
        ...


def hash_key(key: str) -> str:
    """The stored form of a key: sha256 hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh ``(key_id, key)`` pair from the OS CSPRNG."""
    key_id = secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def well_formed(key: str) -> bool:
    """Whether ``key`` has the shape of a redeemflow key (checked before any lookup)."""
    return bool(_KEY_RE.match(key))


def issue_key(store: ApiKeyStore, tenant_id: str, name: str = "") -> IssuedKey:
    """Create a key for ``tenant_id``; the returned secret is the only copy there will be."""
    if not _TENANT_RE.match(tenant_id):
        raise DomainRuleViolation(f"malformed tenant id {tenant_id!r}")
    key_id, key = new_key()
    record = store.insert(key_id, hash_key(key), tenant_id, name)
    return IssuedKey(record, key)


class ApiKeyResolver:
    """Key -> tenant id, with a small TTL cache in front of the store. Thread-safe."""

    def __init__(
        self,
        store: ApiKeyStore,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._cache: TtlCache[str] = TtlCache(ttl_seconds, clock)

    def cached(self, key: str) -> tuple[bool, str | None]:
        """``(hit, tenant_id)`` from the cache only (no I/O, safe on the event loop)."""
        return self._cache.get(hash_key(key))

    def resolve(self, key: str) -> str | None:
        """The tenant of an active key, or None (blocking on a cache miss: run off-loop)."""
        if not well_formed(key):
            return None
        hit, tenant = self.cached(key)
        if hit:
            return tenant
        digest = hash_key(key)
        record = self._store.find_by_hash(digest)
        tenant = record.tenant_id if record is not None and record.active else None
        self._cache.put(digest, tenant)
        return tenant
