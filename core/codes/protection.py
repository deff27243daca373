"""Codes at rest: a keyed lookup value, an AEAD seal and a masked fragment (no I/O).

A leaked MySQL dump, replica or ``KEYS *`` must reveal no redeemable code, yet redemption
must find a code by what the user typed, and a person (export, allocation, support) must get
it back. Each code is therefore stored three ways, never in clear:

* **lookup** ``~`` + 22 base64url characters: HMAC-SHA256(lookup key, tenant ``\\0`` code)
  truncated to 128 bits. It replaces the code in every ``code`` column and Redis key, so every
  equality lookup, unique index and key layout works as before; redemption computes it from
  the typed code with one HMAC. ``~`` is in no code alphabet, so a lookup is never mistaken
  for a plaintext code (the migration of old rows relies on it). Why 128 bits: two codes of a
  tenant share a lookup with probability about n^2 / 2^129; at n = 10^9 codes per tenant that
  is 1.5e-21 (and generation would replace the second one like any duplicate code). A guess
  that passes the offline check matches some other code's lookup with probability n / 2^128,
  3e-30 per guess. 96 bits would do for collisions too; 128 costs 5 more characters, keeps
  the guess bound beyond question and still fits the existing ``VARCHAR(32)`` columns.
* **seal** AES-256-GCM under the active encryption key (``key_id`` stored beside it), with a
  per-tenant subkey HMAC(key, "rf-seal" tenant) and a random 96-bit nonce. The associated
  data binds tenant and lookup, so a sealed code copied onto another row or tenant does not
  open. The per-tenant subkey keeps each key's nonce count per tenant: at 10^9 codes a
  nonce repeats with probability about n^2 / 2^97 = 6e-12, under NIST's 2^-32 guidance.
* **mask** what operator screens show (``AB********YZ``, :func:`core.masking.mask_code`),
  stored so that listings never decrypt anything.

Losing the encryption keys loses exports, allocation's answer and support's full code, not
redemption: lookups need only the lookup key. Losing the lookup key loses redemption.
"""

from __future__ import annotations

import binascii
import hashlib
import os
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import TamperedCode, UnknownCodeKey
from core.masking import MASK_CHAR, mask_code, visible_ends

LOOKUP_MARK = "~"
LOOKUP_BYTES = 16
KEY_BYTES = 32
NONCE_BYTES = 12
_AD_TAG = b"rf-code-v1\0"
_SUBKEY_TAG = b"rf-seal\0"


def is_lookup(value: str) -> bool:
    """Whether a stored ``code`` value is a lookup (else a plaintext code of an old row)."""
    return value.startswith(LOOKUP_MARK)


class _Hmac:
    """HMAC-SHA256 with the key's inner and outer pads hashed once (RFC 2104), so one code
    costs two hash copies instead of a key schedule: about 0.7 µs against 1.7 µs."""

    def __init__(self, key: bytes, prefix: bytes = b"") -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        padded = key.ljust(64, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self.inner.update(prefix)
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def digest(self, message: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _b64url(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).decode("ascii")


def _b64_bytes(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False)


_FIRST_BYTES = itemgetter(slice(0, LOOKUP_BYTES))
#: A digest's 16 bytes and two zero bytes are 24 base64 characters: the 22 of its lookup
#: (the 22nd holds its last 2 bits and 4 zero bits, as when the 16 bytes are encoded alone)
#: and "AA". So a chunk's lookups are encoded in one call and cut at every 24 characters.
_LOOKUP_TEXT = re.compile(rb"(.{22})AA", re.DOTALL)


def _lookups(digests: Iterable[bytes]) -> list[bytes]:
    """``~`` + the first 22 base64url characters of each 16-byte digest."""
    encoded = binascii.b2a_base64(b"\0\0".join(digests) + b"\0\0", newline=False)
    mark = LOOKUP_MARK.encode()
    return list(map(mark.__add__, _LOOKUP_TEXT.findall(encoded.translate(_URLSAFE))))


def _masks(raws: list[bytes]) -> list[bytes]:
    """:func:`core.masking.mask_code` of each encoded code, in a few C calls per length."""
    sizes = set(map(len, raws))
    if len(sizes) != 1:
        return [mask_code(raw.decode()).encode() for raw in raws]
    size = sizes.pop()
    shown = visible_ends(size)
    stars = (MASK_CHAR * (size - 2 * shown)).encode()
    if not shown:
        return [stars] * len(raws)
    heads = map(bytes.__add__, map(itemgetter(slice(0, shown)), raws), repeat(stars))
    return list(map(bytes.__add__, heads, map(itemgetter(slice(size - shown, size)), raws)))


@dataclass(frozen=True)
class CodeKeys:
    """The key material: one lookup key, encryption keys by id, the id new seals use."""

    lookup_key: bytes
    keys: Mapping[str, bytes]
    active_id: str

    def __post_init__(self) -> None:
        from core.errors import KeyMaterialError

        if len(self.lookup_key) < KEY_BYTES:
            raise KeyMaterialError(
                f"the code lookup key has {len(self.lookup_key)} bytes, needs {KEY_BYTES}")
        for key_id, key in self.keys.items():
            if len(key) != KEY_BYTES:
                raise KeyMaterialError(
                    f"code encryption key {key_id!r} has {len(key)} bytes, needs {KEY_BYTES}")
        if self.active_id not in self.keys:
            raise KeyMaterialError(
                f"the active code key id {self.active_id!r} is not among the configured key"
                f" ids ({', '.join(sorted(self.keys)) or 'none'})")


class ProtectedCode(NamedTuple):
    """What is stored for one code: lookup, seal and mask (key id: the protector's active).
    A named tuple: generation builds a million of them."""

    lookup: str
    sealed: str
    mask: str


@dataclass(frozen=True)
class ProtectedRows:
    """What is stored for a chunk of codes, as aligned columns of ASCII bytes: lookups,
    seals and masks. Generation handles a million codes as a few such lists instead of a
    million objects."""

    lookups: list[bytes]
    seals: list[bytes]
    masks: list[bytes]

    def __len__(self) -> int:
        return len(self.lookups)

    def sorted_by_lookup(self) -> ProtectedRows:
        """The same rows in lookup order (one sort of an index, then three gathers)."""
        order = sorted(range(len(self.lookups)), key=self.lookups.__getitem__)
        return ProtectedRows(*(list(map(column.__getitem__, order))
                               for column in (self.lookups, self.seals, self.masks)))

    def lookup_texts(self) -> list[str]:
        """The lookups as text (what ``code`` columns and cache keys hold)."""
        return b"\n".join(self.lookups).decode("ascii").split("\n") if self.lookups else []

    def as_tuples(self) -> list[ProtectedCode]:
        """One named tuple of text per code."""
        return [ProtectedCode(lookup.decode(), seal.decode(), mask.decode())
                for lookup, seal, mask in zip(self.lookups, self.seals, self.masks, strict=True)]

    @classmethod
    def of(cls, rows: Iterable[ProtectedCode]) -> ProtectedRows:
        """Columns of named tuples (tests, small seeds)."""
        listed = list(rows)
        return cls(*([value.encode() for value in column]
                     for column in ((p.lookup for p in listed), (p.sealed for p in listed),
                                    (p.mask for p in listed))))


@dataclass
class CodeProtector:
    """Lookups, seals and masks of codes under one set of keys (see the module doc)."""

    material: CodeKeys
    _lookups: dict[str, _Hmac] = field(default_factory=dict, repr=False)
    _ciphers: dict[tuple[str, str], AESGCM] = field(default_factory=dict, repr=False)
    _fingerprints: _Hmac | None = field(default=None, repr=False)

    @property
    def active_id(self) -> str:
        """The key id new seals are made with."""
        return self.material.active_id

    def lookup(self, tenant_id: str, code: str) -> str:
        """The lookup value of a canonical code of ``tenant_id`` (one HMAC)."""
        digest = self._mac(tenant_id).digest(code.encode())
        return LOOKUP_MARK + _b64url(digest[:LOOKUP_BYTES])[:22]

    def _mac(self, tenant_id: str) -> _Hmac:
        mac = self._lookups.get(tenant_id)
        if mac is None:
            mac = self._lookups[tenant_id] = _Hmac(
                self.material.lookup_key, tenant_id.encode() + b"\0")
        return mac

    def fingerprint(self, tenant_id: str, user_id: str, product_code: str, code: str) -> str:
        """A request's idempotency fingerprint (``request_outcomes.request_hash``): keyed,
        so a dump is no offline oracle for the code a request carried (an unkeyed hash of a
        12-digit code is brute-forced in minutes). 32 hex characters, as before."""
        mac = self._fingerprints
        if mac is None:
            mac = self._fingerprints = _Hmac(self.material.lookup_key, b"rf-request\0")
        message = "\0".join((tenant_id, user_id, product_code, code)).encode()
        return mac.digest(message)[:16].hex()

    def protect(self, tenant_id: str, codes: Iterable[str]) -> list[ProtectedCode]:
        """Lookup, seal (active key) and mask of each code, in order: one HMAC and one AEAD
        per code (:meth:`protect_rows` as named tuples of text)."""
        return self.protect_rows(tenant_id, list(codes)).as_tuples()

    def protect_rows(self, tenant_id: str, codes: Sequence[str]) -> ProtectedRows:
        """:meth:`protect` for a chunk of generation, as columns of ASCII bytes.

        The hot path of generation (a million codes in a few seconds), so no Python loop runs
        per code: each step is a ``map`` of a C function over the whole chunk (HMAC pads
        copied rather than rebuilt, the lookups base64-encoded in one call, nonces drawn in
        one call). Equal to :meth:`lookup`, :meth:`seal` and
        :func:`core.masking.mask_code` code by code (tests/unit/test_code_protection.py)."""
        raws = list(map(str.encode, codes))
        count = len(raws)
        mac = self._mac(tenant_id)
        sha = type(mac.inner)
        inner = list(map(sha.copy, repeat(mac.inner, count)))
        deque(map(sha.update, inner, raws), 0)
        outer = list(map(sha.copy, repeat(mac.outer, count)))
        deque(map(sha.update, outer, map(sha.digest, inner)), 0)
        lookups = _lookups(map(_FIRST_BYTES, map(sha.digest, outer)))
        if len(lookups) != count:  # cannot happen: every 24 characters end in "AA"
            raise AssertionError(f"{len(lookups)} lookups for {count} codes")
        nonce_bytes = os.urandom(NONCE_BYTES * count)
        nonces = [nonce_bytes[at:at + NONCE_BYTES]
                  for at in range(0, NONCE_BYTES * count, NONCE_BYTES)]
        ads = map((_AD_TAG + tenant_id.encode() + b"\0").__add__, lookups)
        sealed = map(self._cipher(self.active_id, tenant_id).encrypt, nonces, raws, ads)
        seals = list(map(_b64_bytes, map(bytes.__add__, nonces, sealed)))
        return ProtectedRows(lookups, seals, _masks(raws))

    def seal(self, tenant_id: str, lookup: str, code: str) -> str:
        """``code`` sealed under the active key, bound to its tenant and lookup."""
        nonce = os.urandom(NONCE_BYTES)
        cipher = self._cipher(self.active_id, tenant_id)
        return _b64(nonce + cipher.encrypt(nonce, code.encode(), self._ad(tenant_id, lookup)))

    def open(self, tenant_id: str, lookup: str, key_id: str, sealed: str, *,
             where: str = "") -> str:
        """The code a seal holds. UnknownCodeKey when ``key_id`` is not configured,
        TamperedCode when the seal does not authenticate (changed, moved from another row or
        tenant, or the configured key of that id is not the one that sealed it)."""
        place = f" ({where})" if where else ""
        try:
            blob = binascii.a2b_base64(sealed)
        except (binascii.Error, ValueError) as exc:
            raise TamperedCode(f"sealed code{place} is not base64: {exc}") from exc
        cipher = self._cipher(key_id, tenant_id, where=place)
        try:
            plain: bytes = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                                   self._ad(tenant_id, lookup))
        except InvalidTag as exc:
            raise TamperedCode(
                f"sealed code{place} does not authenticate under key {key_id!r}: it was"
                " altered or moved from another row, or the key configured for"
                f" {key_id!r} is not the key that sealed it (wrong key file?)") from exc
        return plain.decode()

    def reveal(self, tenant_id: str, stored: str, key_id: str | None, sealed: str | None, *,
               where: str = "") -> str:
        """The full code of a row: its seal opened, or the plaintext of a row written
        before codes were protected (``key_id`` NULL, see ``redeemflow keys migrate``)."""
        if key_id is None or sealed is None:
            return stored
        return self.open(tenant_id, stored, key_id, sealed, where=where)

    def _cipher(self, key_id: str, tenant_id: str, *, where: str = "") -> AESGCM:
        cipher = self._ciphers.get((key_id, tenant_id))
        if cipher is None:
            key = self.material.keys.get(key_id)
            if key is None:
                raise UnknownCodeKey(
                    f"code key id {key_id!r}{where} is not configured (configured:"
                    f" {', '.join(sorted(self.material.keys))}); add it to the key file"
                    " (REDEEMFLOW_CODE_KEYS_FILE) or REDEEMFLOW_CODE_KEYS")
            subkey = _Hmac(key).digest(_SUBKEY_TAG + tenant_id.encode())
            cipher = self._ciphers[(key_id, tenant_id)] = AESGCM(subkey)
        return cipher

    @staticmethod
    def _ad(tenant_id: str, lookup: str) -> bytes:
        return b"%s%s\0%s" % (_AD_TAG, tenant_id.encode(), lookup.encode())

    def key_check(self, purpose: str, key_id: str = "") -> str:
        """A non-secret fingerprint of one key (stored in ``code_keys``), so a process with a
        different key for the same id is refused before it writes anything."""
        key = self.material.lookup_key if purpose == "lookup" else self.material.keys.get(key_id)
        if key is None:
            raise UnknownCodeKey(f"code key id {key_id!r} is not configured")
        return _Hmac(key).digest(b"rf-key-check\0" + purpose.encode()).hex()[:32]
