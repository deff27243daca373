"""HMAC signatures inside codes, so forged codes are rejected without Redis or MySQL.

signature = HMAC-SHA256(tenant secret, "rf-code-v1" | tenant_id | campaign_id | payload),
truncated to ``length`` symbols of the code alphabet. The payload is prefix + body.

What is signed, and why: a redemption request carries only tenant id and code, so the
verifier of a code knows the tenant but not the campaign. Codes are therefore signed over
(tenant_id, payload) with the tenant's secret; a code of another tenant, or one signed with
another secret, fails. ``campaign_id`` is an optional extra input for callers that do know
the campaign at verification time (signer and verifier must agree: both give it or neither);
``CodeCodec`` never passes it. Fields are length-prefixed, so no two inputs collide.

The digest's first 16 bytes are read as an integer and written in base N; with N^length at
most 31^8 < 2^40, the bias of that reduction is below 2^-88.
"""

from __future__ import annotations

import hmac
import math

from core.codes.alphabets import Alphabet

_DOMAIN = b"rf-code-v1"


def _message(tenant_id: str, payload: str, campaign_id: str | None) -> bytes:
    parts = [_DOMAIN, tenant_id.encode(), (campaign_id or "").encode(), payload.encode()]
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def sign(
    secret: bytes,
    tenant_id: str,
    payload: str,
    alphabet: Alphabet,
    length: int,
    campaign_id: str | None = None,
) -> str:
    """The ``length``-symbol signature of ``payload`` for ``tenant_id``."""
    digest = hmac.digest(secret, _message(tenant_id, payload, campaign_id), "sha256")
    value = int.from_bytes(digest[:16], "big")
    symbols, size = alphabet.symbols, alphabet.size
    out = []
    for _ in range(length):
        value, digit = divmod(value, size)
        out.append(symbols[digit])
    return "".join(out)


def verify(
    secret: bytes,
    tenant_id: str,
    payload: str,
    signature: str,
    alphabet: Alphabet,
    campaign_id: str | None = None,
) -> bool:
    """Whether ``signature`` is the signature of ``payload`` (constant-time comparison)."""
    expected = sign(secret, tenant_id, payload, alphabet, len(signature), campaign_id)
    return hmac.compare_digest(expected.encode(), signature.encode())


def signature_bits(alphabet_size: int, length: int) -> float:
    """Bits of a ``length``-symbol signature: a forger's odds per guess are 2^-bits."""
    return length * math.log2(alphabet_size)
