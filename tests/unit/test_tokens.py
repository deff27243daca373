"""End-user tokens (core/tokens.py): what verifies and every way a token is refused."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import jwt
import pytest

from core.errors import DomainRuleViolation, InvalidToken, NotFound
from core.tokens import (
    MAX_TTL_SECONDS,
    SigningKeyRecord,
    TokenVerifier,
    create_signing_key,
    key_id_of,
    mint,
    mint_for_tenant,
    signing_secret,
    verify,
)

MASTER = b"unit-test-master"


class MemoryKeys:
    """An in-memory SigningKeyStore."""

    def __init__(self) -> None:
        self.rows: dict[str, SigningKeyRecord] = {}
        self.lookups = 0

    def insert(self, key_id: str, tenant_id: str, name: str) -> SigningKeyRecord:
        record = SigningKeyRecord(key_id, tenant_id, name, datetime.now(UTC), None)
        self.rows[key_id] = record
        return record

    def find(self, key_id: str) -> SigningKeyRecord | None:
        self.lookups += 1
        return self.rows.get(key_id)

    def newest_active(self, tenant_id: str) -> SigningKeyRecord | None:
        mine = [r for r in self.rows.values() if r.tenant_id == tenant_id and r.active]
        return mine[-1] if mine else None

    def revoke(self, key_id: str) -> None:
        old = self.rows[key_id]
        self.rows[key_id] = SigningKeyRecord(old.key_id, old.tenant_id, old.name,
                                             old.created_at, datetime.now(UTC))


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture()
def keys() -> MemoryKeys:
    return MemoryKeys()


def _check(verifier: TokenVerifier, token: str):  # type: ignore[no-untyped-def]
    key_id = key_id_of(token)
    hit, tenant = verifier.cached_tenant(key_id)
    if not hit:
        tenant = verifier.load_tenant(key_id)
    return verifier.verify(token, key_id, tenant)


def test_minted_token_verifies_with_the_claims(keys: MemoryKeys) -> None:
    record, secret = create_signing_key(keys, MASTER, "T1", "shop")
    assert secret == signing_secret(MASTER, "T1", record.key_id)
    minted = mint(secret, record.key_id, "T1", "user-7", ["APP_A", "APP_B"], 120)
    user = _check(TokenVerifier(keys, MASTER, 30), minted.token)
    assert (user.tenant_id, user.user_id) == ("T1", "user-7")
    assert user.products == {"APP_A", "APP_B"} and user.token_id == minted.token_id
    claims = jwt.decode(minted.token, secret, algorithms=["HS256"], issuer="redeemflow")
    assert claims["exp"] - claims["iat"] == 120 and claims["jti"] and claims["tid"] == "T1"


def test_each_token_has_a_unique_id(keys: MemoryKeys) -> None:
    record, secret = create_signing_key(keys, MASTER, "T1")
    ids = {mint(secret, record.key_id, "T1", "u", ["P"]).token_id for _ in range(50)}
    assert len(ids) == 50


def test_refused_tokens(keys: MemoryKeys) -> None:
    a, secret_a = create_signing_key(keys, MASTER, "TA")
    b, secret_b = create_signing_key(keys, MASTER, "TB")
    verifier = TokenVerifier(keys, MASTER, 30)
    good = mint(secret_a, a.key_id, "TA", "u1", ["P"]).token
    head, payload, signature = good.split(".")
    now = time.time()
    claims = {"iss": "redeemflow", "tid": "TA", "sub": "u1", "products": ["P"],
              "iat": int(now), "exp": int(now) + 60, "jti": "x"}
    refused = {
        "expired": mint(secret_a, a.key_id, "TA", "u1", ["P"], 60, now=now - 3600).token,
        "tampered payload": f"{head}.{_b64({**claims, 'sub': 'someone-else'})}.{signature}",
        "tampered signature": f"{head}.{payload}.{signature[:-2]}AA",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': a.key_id})}.{_b64(claims)}.",
        "signed with the API key": jwt.encode(claims, "rfk_0123456789ab_" + "A" * 43,
                                              algorithm="HS256", headers={"kid": a.key_id}),
        "other tenant's key claiming TA": jwt.encode(claims, secret_b, algorithm="HS256",
                                                     headers={"kid": b.key_id}),
        "unknown kid": jwt.encode(claims, secret_a, algorithm="HS256",
                                  headers={"kid": "rft_000000000000"}),
        "no kid": jwt.encode(claims, secret_a, algorithm="HS256"),
        "too long a lifetime": jwt.encode({**claims, "exp": int(now) + MAX_TTL_SECONDS + 60},
                                          secret_a, algorithm="HS256", headers={"kid": a.key_id}),
        "no jti": jwt.encode({k: v for k, v in claims.items() if k != "jti"}, secret_a,
                             algorithm="HS256", headers={"kid": a.key_id}),
        "HS512": jwt.encode(claims, secret_a + "x" * 40, algorithm="HS512",
                            headers={"kid": a.key_id}),
        "garbage": "not.a.token",
        "huge": "a" * 5000,
    }
    for reason, token in refused.items():
        with pytest.raises(InvalidToken):
            _check(verifier, token)
            pytest.fail(f"accepted: {reason}")
    assert _check(verifier, good).user_id == "u1"


def test_revoked_key_stops_verifying_after_the_cache(keys: MemoryKeys) -> None:
    record, secret = create_signing_key(keys, MASTER, "T1")
    now = [0.0]
    verifier = TokenVerifier(keys, MASTER, 30, clock=lambda: now[0])
    token = mint(secret, record.key_id, "T1", "u", ["P"]).token
    assert _check(verifier, token).user_id == "u"
    keys.revoke(record.key_id)
    assert _check(verifier, token).user_id == "u"  # cached for 30 s
    assert keys.lookups == 1
    now[0] = 31.0
    with pytest.raises(InvalidToken):
        _check(verifier, token)


def test_mint_checks_its_input(keys: MemoryKeys) -> None:
    record, secret = create_signing_key(keys, MASTER, "T1")
    for bad in ({"ttl_seconds": 0}, {"ttl_seconds": MAX_TTL_SECONDS + 1},
                {"products": []}, {"products": ["bad code!"]}, {"user_id": "no spaces"}):
        args = {"user_id": "u", "products": ["P"], "ttl_seconds": 60, **bad}
        with pytest.raises(DomainRuleViolation):
            mint(secret, record.key_id, "T1", args["user_id"], args["products"],  # type: ignore[arg-type]
                 args["ttl_seconds"])  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        mint_for_tenant(keys, MASTER, "T-without-key", "u", ["P"])
    with pytest.raises(DomainRuleViolation):
        create_signing_key(keys, MASTER, "bad tenant!")


def test_secrets_differ_per_key_tenant_and_master() -> None:
    base = signing_secret(MASTER, "T1", "rft_000000000001")
    assert base != signing_secret(MASTER, "T1", "rft_000000000002")
    assert base != signing_secret(MASTER, "T2", "rft_000000000001")
    assert base != signing_secret(b"other", "T1", "rft_000000000001")


def test_verify_refuses_another_tenant_directly(keys: MemoryKeys) -> None:
    record, secret = create_signing_key(keys, MASTER, "T1")
    token = mint(secret, record.key_id, "T1", "u", ["P"]).token
    with pytest.raises(InvalidToken):
        verify(token, secret, "T2")
