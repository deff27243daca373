"""Deterministic identifiers: the same request always yields the same redemption and grants."""

from __future__ import annotations

import hashlib


def redemption_id(tenant_id: str, request_id: str) -> str:
    """The redemption id of a request (stable across redeliveries and workers)."""
    digest = hashlib.sha256(f"redemption|{tenant_id}|{request_id}".encode()).hexdigest()
    return f"rd_{digest[:32]}"


def grant_id(redemption: str, index: int, reward_type: str, reward_id: str) -> str:
    """The id of the index-th reward of a redemption; re-emitting it yields the same id."""
    digest = hashlib.sha256(f"grant|{redemption}|{index}|{reward_type}|{reward_id}".encode())
    return f"gr_{digest.hexdigest()[:40]}"


def request_fingerprint(user_id: str, product_code: str, code: str) -> str:
    """What makes two requests with one request id the same request: its user, product and
    code as sent (a redelivery has the same fingerprint; a reuse of the id, another)."""
    digest = hashlib.sha256(f"request|{user_id}|{product_code}|{code}".encode())
    return digest.hexdigest()[:32]
