"""Operator passwords: argon2id hashes (argon2-cffi), generated one-time passwords."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.backoffice.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 256

_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so both cases take the same time (made on
    first use, not at import: hashing costs ~0.1 s by design)."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def check_strength(password: str) -> str:
    """The password, or InvalidInput when it is too short or too long."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"the password needs at least {MIN_LENGTH} characters",
                           field="password")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"the password may have at most {MAX_LENGTH} characters",
                           field="password")
    return password


def hash_password(password: str) -> str:
    """An argon2id hash of a checked password."""
    return _HASHER.hash(check_strength(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; an unknown account (None) spends the same time."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        matches = _HASHER.verify(password_hash or _dummy_hash(), password)
        return matches and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    """A random password to hand to a new operator once (about 120 bits)."""
    return secrets.token_urlsafe(15)
