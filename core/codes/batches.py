"""Batches of codes that are unique within one generation run (and optionally vs storage).

Uniqueness is kept in a Python set of every code seen in the run. Memory: roughly 100 bytes
per short string in a set, i.e. ~100 MB per million 13-16 char codes; fine for runs of a few
million codes (larger runs should rely on the database's unique key via ``is_taken``).
Duplicates are regenerated, never dropped, so every batch has exactly ``chunk_size`` codes
(the last one may be smaller).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator

from core.codes.codec import CodeCodec
from core.errors import CodeSpaceTooSmall

#: Given candidate codes, returns those already taken (e.g. existing rows of the tenant).
TakenFilter = Callable[[list[str]], Collection[str]]

#: Consecutive draws without one fresh code before the space is declared exhausted.
MAX_FUTILE_ROUNDS = 50


def iter_unique_batches(
    codec: CodeCodec, total: int, chunk_size: int, is_taken: TakenFilter | None = None
) -> Iterator[list[str]]:
    """Yield lists of new codes, ``total`` in all, unique in the run and not ``is_taken``."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    if total > codec.code_space():
        raise CodeSpaceTooSmall(
            f"{total:,} codes requested but the rule has only {codec.code_space():,}"
        )
    seen: set[str] = set()
    remaining = total
    while remaining > 0:
        size = min(chunk_size, remaining)
        yield _fill(codec, size, seen, is_taken)
        remaining -= size


def _fill(codec: CodeCodec, size: int, seen: set[str], is_taken: TakenFilter | None) -> list[str]:
    """Exactly ``size`` codes not in ``seen`` (which they are added to) nor taken."""
    batch: list[str] = []
    futile = 0
    while len(batch) < size:
        fresh = _unseen(codec.generate_many(size - len(batch)), seen)
        if is_taken is not None and fresh:
            taken = set(is_taken(fresh))
            fresh = [code for code in fresh if code not in taken]
        futile = 0 if fresh else futile + 1
        if futile >= MAX_FUTILE_ROUNDS:
            raise CodeSpaceTooSmall("the code space is exhausted: no new code could be drawn")
        batch.extend(fresh)
    return batch


def _unseen(candidates: list[str], seen: set[str]) -> list[str]:
    """The candidates not seen before, in order; marks them seen."""
    distinct = set(candidates)
    if len(distinct) == len(candidates) and seen.isdisjoint(distinct):
        seen |= distinct  # the usual case, in set operations instead of a Python loop
        return candidates
    fresh = []
    for code in candidates:
        if code not in seen:
            seen.add(code)
            fresh.append(code)
    return fresh
