"""Generating and parsing the codes of one rule for one tenant (pure: no I/O).

A code is ``prefix + body + [signature] + [check char]``:

* body: ``rule.length`` symbols drawn uniformly from the rule's alphabet with ``secrets``
  (bulk ``token_bytes`` + rejection of the bytes >= 256 - 256 % N, so no modulo bias);
  UUID bodies are 32 upper-case hex digits of a random version-4 UUID;
* signature: ``signing.sign`` over (tenant_id, prefix + body);
* check char: Damm over body + signature (``checkchar``); the prefix is compared literally.

``parse`` is the gate in front of every lookup: it normalises the input, checks prefix,
length, alphabet, check char and signature, and returns the canonical code or None.
"""

from __future__ import annotations

import math
import secrets

from core.codes.alphabets import Alphabet, alphabet_for
from core.codes.checkchar import CheckChar
from core.codes.normalise import clean
from core.codes.signing import sign, signature_bits, verify
from core.codes.space import rule_code_space
from schemas.code_rule import CodeGenerateRule, CodeType

#: Longest raw input ``parse`` looks at (anything longer cannot be a code).
MAX_RAW_LENGTH = 128


class CodeCodec:
    """Codes of ``rule`` for ``tenant_id``, signed (if the rule says so) with ``tenant_secret``."""

    def __init__(self, rule: CodeGenerateRule, tenant_secret: bytes, tenant_id: str) -> None:
        self.rule = rule
        self.tenant_id = tenant_id
        self._secret = tenant_secret
        self.alphabet: Alphabet = alphabet_for(rule)
        self._checker = CheckChar(self.alphabet) if rule.check_char else None
        self._translation = self.alphabet.translation()
        self._mapped_prefix = rule.prefix.translate(self._translation)
        self._symbol_set = frozenset(self.alphabet.symbols)
        size = self.alphabet.size
        self._accept_below = 256 - 256 % size
        keep = bytes(range(self._accept_below))
        self._byte_map = bytes.maketrans(keep, self.alphabet.symbols.encode() * (len(keep) // size))
        self._reject = bytes(range(self._accept_below, 256))

    # -- generation ------------------------------------------------------------------

    def generate(self) -> str:
        """One new random code."""
        return self.generate_many(1)[0]

    def generate_many(self, n: int) -> list[str]:
        """``n`` new random codes (independent draws: duplicates are possible, see batches)."""
        if n <= 0:
            return []
        if self.rule.code_type == CodeType.UUID:
            return self._uuids(n)
        length = self.rule.length
        stream = self._random_symbols(n * length)
        payloads = [stream[i : i + length] for i in range(0, n * length, length)]
        if self.rule.signed:
            payloads = [body + self._sign(body) for body in payloads]
        prefix = self.rule.prefix
        if self._checker is None:
            return [prefix + p for p in payloads] if prefix else payloads
        checks = self._checker.compute_many(payloads)
        return [prefix + p + c for p, c in zip(payloads, checks, strict=True)]

    def encode(self, body: str) -> str:
        """The full code for a given body (prefix, signature and check char added).

        The single-code path of ``generate_many``: used to re-encode known bodies and by tests.
        """
        if len(body) != self.rule.length or not self._symbol_set.issuperset(body):
            raise ValueError(f"body must be {self.rule.length} symbols of {self.alphabet.symbols}")
        payload = body + self._sign(body) if self.rule.signed else body
        check = self._checker.compute(payload) if self._checker is not None else ""
        return self.rule.prefix + payload + check

    def _random_symbols(self, count: int) -> str:
        """``count`` uniform alphabet symbols from the CSPRNG, rejection-sampled per byte."""
        chunks: list[bytes] = []
        have = 0
        while have < count:
            need = count - have
            raw = secrets.token_bytes(need * 256 // self._accept_below + 64)
            chunk = raw.translate(self._byte_map, self._reject)
            chunks.append(chunk)
            have += len(chunk)
        return b"".join(chunks)[:count].decode("ascii")

    def _uuids(self, n: int) -> list[str]:
        """``n`` random version-4 UUIDs as 32 upper-case hex digits."""
        raw = secrets.token_bytes(16 * n)
        out = []
        for i in range(0, 16 * n, 16):
            b = bytearray(raw[i : i + 16])
            b[6] = (b[6] & 0x0F) | 0x40
            b[8] = (b[8] & 0x3F) | 0x80
            out.append(b.hex().upper())
        return out

    def _sign(self, body: str) -> str:
        return sign(
            self._secret,
            self.tenant_id,
            self.rule.prefix + body,
            self.alphabet,
            self.rule.signature_length,
        )

    # -- parsing ---------------------------------------------------------------------

    def parse(self, raw: str) -> str | None:
        """The canonical code if ``raw`` is a well-formed, authentic code of this rule, else None.

        Says nothing about whether the code was issued: that needs a lookup.
        """
        if not isinstance(raw, str) or len(raw) > MAX_RAW_LENGTH:
            return None
        text = clean(raw).translate(self._translation)
        rule = self.rule
        if len(text) != rule.total_length or not text.startswith(self._mapped_prefix):
            return None
        payload = text[len(rule.prefix) :]
        if not self._symbol_set.issuperset(payload):
            return None
        if self._checker is not None and not self._checker.is_valid(payload):
            return None
        if rule.code_type == CodeType.UUID and not _is_uuid4(payload):
            return None
        if rule.signed and not self._signature_ok(payload):
            return None
        return rule.prefix + payload

    def _signature_ok(self, payload: str) -> bool:
        length = self.rule.length
        body = payload[:length]
        signature = payload[length : length + self.rule.signature_length]
        return verify(
            self._secret, self.tenant_id, self.rule.prefix + body, signature, self.alphabet
        )

    # -- size ------------------------------------------------------------------------

    def code_space(self) -> int:
        """Number of distinct bodies this rule can produce."""
        return rule_code_space(self.rule)

    def entropy_bits(self) -> float:
        """Random bits in each code's body."""
        return math.log2(self.code_space())

    def signature_bits(self) -> float:
        """Bits of signature in each code (0 when unsigned)."""
        return signature_bits(self.alphabet.size, self.rule.signature_chars)


def _is_uuid4(hex32: str) -> bool:
    """Version nibble 4 and RFC 4122 variant, as every generated UUID body has."""
    return hex32[12] == "4" and hex32[16] in "89AB"
