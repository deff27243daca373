"""End-user tokens: short-lived JWTs (HS256) a tenant's back end mints for one of its users.

A browser or mini-program calls the gateway with ``Authorization: Bearer <token>`` instead of
the tenant's API key (which must never reach a browser). The token names the tenant
(``tid``), the user (``sub``: the gateway takes the user id from here, never from the body),
the product codes it may redeem for (``products``), ``iat``/``exp`` (at most
:data:`MAX_TTL_SECONDS` apart) and a unique ``jti``; its header names the signing key
(``kid``). Only ``HS256`` is accepted (``alg: none`` and every other algorithm are refused).

Signing secrets. A tenant has one or more signing keys (``redeemflow token key create``);
verification needs the secret itself, so it cannot be stored as a one-way hash like an API
key. It is not stored at all: the secret of key ``kid`` is derived,
``HMAC-SHA256(token_master_secret, "redeemflow-token\\n" + tenant + "\\n" + kid)``, so the
database holds only the key id, its tenant and its state (a leaked table leaks no secret), and
every gateway process recomputes the secret from the master secret in its settings. Revoking
a key id stops its tokens within the cache time; changing the master secret revokes all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from core.errors import DomainRuleViolation, InvalidToken, NotFound
from core.stored_keys import KeyRecord
from core.ttl_cache import TtlCache

ALGORITHM = "HS256"
ISSUER = "redeemflow"
MAX_TTL_SECONDS = 900
#: Longest token accepted (an Authorization header beyond it is refused unparsed).
MAX_TOKEN_CHARS = 2048
KEY_ID_PREFIX = "rft_"
_KEY_ID_RE = re.compile(r"^rft_[0-9a-f]{12}$")
_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$")
_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,63}$")
_PRODUCT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")
_LEEWAY_SECONDS = 5


class SigningKeyRecord(KeyRecord):
    """A tenant's signing key as stored: its id and state, never the secret."""


class SigningKeyStore(Protocol):
    """Persistence of signing key ids (``core.adapters.mysql.token_key_store``)."""

    def insert(self, key_id: str, tenant_id: str, name: str) -> SigningKeyRecord:
        """Store a new key id for a tenant."""
        ...

    def find(self, key_id: str) -> SigningKeyRecord | None:
        """The key with this id, revoked or not."""
        ...

    def newest_active(self, tenant_id: str) -> SigningKeyRecord | None:
        """The tenant's most recent active key (the one the gateway mints with)."""
        ...


@dataclass(frozen=True)
class EndUser:
    """What a verified token grants: this user of this tenant, for these products."""

    tenant_id: str
    user_id: str
    products: frozenset[str]
    token_id: str
    expires_at: int


@dataclass(frozen=True)
class MintedToken:
    """A signed token and what the caller may want to know about it."""

    token: str
    token_id: str
    expires_at: int
    key_id: str


def signing_secret(master: bytes, tenant_id: str, key_id: str) -> str:
    """The HS256 secret of one signing key (derived, see the module docstring)."""
    digest = hmac.new(master, f"redeemflow-token\n{tenant_id}\n{key_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def new_key_id() -> str:
    """A fresh public key id (``rft_`` + 12 hex chars)."""
    return f"{KEY_ID_PREFIX}{secrets.token_hex(6)}"


def create_signing_key(
    store: SigningKeyStore, master: bytes, tenant_id: str, name: str = ""
) -> tuple[SigningKeyRecord, str]:
    """Register a key for ``tenant_id``; returns the record and its secret (to hand over)."""
    if not _TENANT_RE.match(tenant_id):
        raise DomainRuleViolation(f"malformed tenant id {tenant_id!r}")
    record = store.insert(new_key_id(), tenant_id, name[:64])
    return record, signing_secret(master, tenant_id, record.key_id)


def mint(
    secret: str,
    key_id: str,
    tenant_id: str,
    user_id: str,
    products: Iterable[str],
    ttl_seconds: int = 300,
    now: float | None = None,
) -> MintedToken:
    """Sign a token for ``user_id`` valid ``ttl_seconds`` (1..900) for ``products``."""
    wanted = sorted(set(products))
    if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise DomainRuleViolation(f"ttl must be 1..{MAX_TTL_SECONDS} seconds, not {ttl_seconds}")
    if not _USER_RE.match(user_id):
        raise DomainRuleViolation(f"malformed user id {user_id!r}")
    if not wanted or not all(_PRODUCT_RE.match(p) for p in wanted):
        raise DomainRuleViolation(f"product codes must be 1..16 of [A-Za-z0-9_-]: {wanted}")
    issued = int(time.time() if now is None else now)
    token_id = secrets.token_urlsafe(16)
    claims = {"iss": ISSUER, "tid": tenant_id, "sub": user_id, "products": wanted,
              "iat": issued, "exp": issued + ttl_seconds, "jti": token_id}
    token = jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": key_id})
    return MintedToken(token, token_id, issued + ttl_seconds, key_id)


def key_id_of(token: str) -> str:
    """The ``kid`` of a token's header, checked for shape and algorithm (not the signature)."""
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("token too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"unreadable token header: {exc}") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"algorithm {header.get('alg')!r} refused")
    key_id = header.get("kid")
    if not isinstance(key_id, str) or not _KEY_ID_RE.match(key_id):
        raise InvalidToken("missing or malformed kid")
    return key_id


def verify(token: str, secret: str, tenant_id: str, now: float | None = None) -> EndUser:
    """Check signature, issuer, lifetime and claims of a token signed for ``tenant_id``."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, leeway=_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "jti", "iss"], "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"token refused: {exc}") from exc
    current = time.time() if now is None else now
    if claims["exp"] <= current - _LEEWAY_SECONDS:  # also checked by PyJWT; kept explicit
        raise InvalidToken("token expired")
    if claims["exp"] - claims["iat"] > MAX_TTL_SECONDS:
        raise InvalidToken("token lifetime over the maximum")
    if claims.get("tid") != tenant_id:
        raise InvalidToken("token for another tenant")
    user, products = claims["sub"], claims.get("products")
    if not isinstance(user, str) or not _USER_RE.match(user):
        raise InvalidToken("malformed sub")
    if not isinstance(products, list) or not all(isinstance(p, str) for p in products):
        raise InvalidToken("malformed products")
    return EndUser(tenant_id, user, frozenset(products), str(claims["jti"]), int(claims["exp"]))


class TokenVerifier:
    """Token -> :class:`EndUser`, with key ids cached like API keys. Thread-safe."""

    def __init__(
        self,
        store: SigningKeyStore,
        master: bytes,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._master = master
        self._cache: TtlCache[str] = TtlCache(ttl_seconds, clock)

    def cached_tenant(self, key_id: str) -> tuple[bool, str | None]:
        """``(hit, tenant of an active key)`` from the cache only (no I/O)."""
        return self._cache.get(key_id)

    def load_tenant(self, key_id: str) -> str | None:
        """The tenant of an active key id, from the store (blocking: run off the loop)."""
        record = self._store.find(key_id)
        tenant = record.tenant_id if record is not None and record.active else None
        self._cache.put(key_id, tenant)
        return tenant

    def verify(self, token: str, key_id: str, tenant_id: str | None) -> EndUser:
        """Verify ``token`` (whose header named ``key_id``, of ``tenant_id`` or unknown)."""
        if tenant_id is None:
            raise InvalidToken(f"unknown or revoked key {key_id}")
        return verify(token, signing_secret(self._master, tenant_id, key_id), tenant_id)


def mint_for_tenant(
    store: SigningKeyStore,
    master: bytes,
    tenant_id: str,
    user_id: str,
    products: Iterable[str],
    ttl_seconds: int = 300,
) -> MintedToken:
    """Mint with the tenant's newest active key (``POST /api/tokens``, ``token mint``).

    Raises NotFound when the tenant has no active signing key (blocking: run off the loop).
    """
    record = store.newest_active(tenant_id)
    if record is None:
        raise NotFound(f"tenant {tenant_id} has no active token signing key")
    secret = signing_secret(master, tenant_id, record.key_id)
    return mint(secret, record.key_id, tenant_id, user_id, products, ttl_seconds)
