"""Check characters that catch every single substitution and every adjacent transposition.

Scheme: the Damm algorithm over a *weak totally anti-symmetric quasigroup* ``*`` of order
``N`` = alphabet size (symbols are their indices). The state starts at 0 and each symbol ``x``
moves it to ``state * x``; the check char ``c`` is the unique symbol with ``state * c == 0``,
so a valid payload (body + signature + check char) ends in state 0.

Why it is correct, for every position:

* single substitution ``x -> x'``: rows of a quasigroup are permutations, so the state after
  that position differs; columns are permutations too, so every later symbol keeps two
  different states different, and the final state is not 0;
* adjacent transposition ``xy -> yx`` (``x != y``): weak total anti-symmetry means
  ``(s * x) * y != (s * y) * x`` for every state ``s``; the rest propagates as above. This
  includes swapping the last body char with the check char.

Quasigroups built here (all checked by ``is_weak_totally_antisymmetric`` in the tests):

* odd ``N``: ``x * y = (a·x + y) mod N`` with ``a`` and ``a - 1`` units mod N, so columns are
  permutations and (s*x)*y - (s*y)*x = (a - 1)(x - y) != 0. ``a = 256 mod N`` when
  gcd(255, N) = 1 (e.g. 23, 31), else 2. With a = 256 the final state is simply
  ``int.from_bytes(symbol indices) mod N``, which makes bulk check chars fast;
* ``N = 2^k`` (k >= 2): ``x * y = g·x + y`` in GF(2^k) with ``g`` the field generator
  (differences are (g+1)(x+y) != 0);
* ``N = 10``: Damm's published table;
* products of the above (component-wise), e.g. 12 = 4·3, 30 = 10·3.

Orders 2 and 6 have no such quasigroup; orders 2·m with m odd and not a multiple of 5
(14, 18, 22, 26, ...) exist (Damm 2007) but are not built here, and the rule schema rejects
a check char for them. Prefixes are not part of the check: a prefix is fixed per rule and
compared literally, so any error in it is rejected anyway.
"""

from __future__ import annotations

import math
from functools import lru_cache

from core.codes.alphabets import Alphabet
from core.errors import InvalidRule

Table = tuple[tuple[int, ...], ...]

#: Damm's order-10 totally anti-symmetric quasigroup (as used for decimal check digits).
DAMM_10: Table = tuple(
    tuple(int(c) for c in row)
    for row in (
        "0317598642",
        "7092154863",
        "4206871359",
        "1750983426",
        "6123045978",
        "3674209581",
        "5869720134",
        "8945362017",
        "9438617205",
        "2581436790",
    )
)

#: Irreducible polynomials for GF(2^k) (bit i = coefficient of x^i).
_GF2_POLYS = {2: 0b111, 3: 0b1011, 4: 0b10011, 5: 0b100101, 6: 0b1000011, 7: 0b10000011}


def _odd_multiplier(n: int) -> int:
    """256 when it is a valid multiplier mod ``n`` (fast path), else 2 (``n`` odd)."""
    return 256 % n if n > 1 and math.gcd(255, n) == 1 else 2


def _odd(n: int) -> Table:
    a = _odd_multiplier(n)
    return tuple(tuple((a * x + y) % n for y in range(n)) for x in range(n))


def _gf2(k: int) -> Table:
    n, poly = 1 << k, _GF2_POLYS[k]

    def times_g(x: int) -> int:
        x <<= 1
        return x ^ poly if x & n else x

    return tuple(tuple(times_g(x) ^ y for y in range(n)) for x in range(n))


def _product(a: Table, b: Table) -> Table:
    nb = len(b)
    n = len(a) * nb
    return tuple(
        tuple(a[x // nb][y // nb] * nb + b[x % nb][y % nb] for y in range(n)) for x in range(n)
    )


@lru_cache(maxsize=64)
def quasigroup(n: int) -> Table:
    """A weak totally anti-symmetric quasigroup of order ``n`` (raises InvalidRule if none)."""
    twos = (n & -n).bit_length() - 1 if n > 0 else 0
    odd = n >> twos
    if n < 3 or twos > max(_GF2_POLYS) or (twos == 1 and odd % 5):
        raise InvalidRule(
            f"no check-char scheme for an alphabet of {n} symbols "
            "(sizes 2, 6, 14, 18, 22, 26 are not supported)"
        )
    if twos == 1:
        return _product(DAMM_10, _odd(odd // 5))
    if twos == 0:
        return _odd(n)
    return _product(_gf2(twos), _odd(odd))


def is_weak_totally_antisymmetric(table: Table) -> bool:
    """Latin square with ``(s*x)*y != (s*y)*x`` for all ``s`` and ``x != y`` (used by tests)."""
    n = len(table)
    full = set(range(n))
    if any(set(row) != full for row in table):
        return False
    if any({table[x][y] for x in range(n)} != full for y in range(n)):
        return False
    return all(
        table[table[s][x]][y] != table[table[s][y]][x]
        for s in range(n)
        for x in range(n)
        for y in range(x + 1, n)
    )


class CheckChar:
    """Computes and verifies the Damm check char of payloads over one alphabet."""

    def __init__(self, alphabet: Alphabet) -> None:
        self.alphabet = alphabet
        table = quasigroup(alphabet.size)
        symbols = alphabet.symbols
        # step[s][symbol] -> next state; pair[s][two symbols] -> state after both.
        self._step = [dict(zip(symbols, row, strict=True)) for row in table]
        self._pair: list[dict[str, int]] | None = None
        self._closing = [symbols[row.index(0)] for row in table]
        size = alphabet.size
        self._bytes_mod = size if size % 2 and _odd_multiplier(size) == 256 % size else 0
        self._to_index = bytes.maketrans(symbols.encode(), bytes(range(size)))

    def _pairs(self) -> list[dict[str, int]]:
        """Two-symbol transition tables (N^3 entries, built on first bulk use)."""
        if self._pair is None:
            step = self._step
            self._pair = [
                {a + b: step[sa][b] for a, sa in row.items() for b in step[sa]} for row in step
            ]
        return self._pair

    def state(self, payload: str) -> int:
        """The Damm state after ``payload`` (KeyError if a char is not in the alphabet)."""
        step = self._step
        s = 0
        for char in payload:
            s = step[s][char]
        return s

    def compute(self, payload: str) -> str:
        """The check char to append to ``payload``."""
        return self._closing[self.state(payload)]

    def compute_many(self, payloads: list[str]) -> list[str]:
        """Check chars of many payloads of one length (bulk fast paths; same result as compute)."""
        if not payloads:
            return []
        if self._bytes_mod:
            return self._compute_linear(payloads)
        pair, step, closing = self._pairs(), self._step, self._closing
        length = len(payloads[0])
        even = length - length % 2
        cuts = range(0, even, 2)
        out = []
        for payload in payloads:
            s = 0
            for i in cuts:
                s = pair[s][payload[i : i + 2]]
            if even != length:
                s = step[s][payload[-1]]
            out.append(closing[s])
        return out

    def _compute_linear(self, payloads: list[str]) -> list[str]:
        """Fast path for odd N with a = 256 mod N: the state is the big-endian integer mod N."""
        length = len(payloads[0])
        indices = "".join(payloads).encode().translate(self._to_index)
        closing, mod, from_bytes = self._closing, self._bytes_mod, int.from_bytes
        return [
            closing[from_bytes(indices[i : i + length], "big") % mod]
            for i in range(0, len(indices), length)
        ]

    def is_valid(self, payload_with_check: str) -> bool:
        """Whether ``payload + check char`` is consistent (False for foreign characters)."""
        try:
            return self.state(payload_with_check) == 0
        except KeyError:
            return False
