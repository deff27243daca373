"""Per-code cost of codes at rest (core/codes/protection.py), printed by the benchmarks.

Measured on this process, one core, on codes of the benchmark's own shape, in CPU time of
this process (other work on a shared machine barely moves it): the lookup (one HMAC-SHA256),
one seal (AES-GCM, nonce and encoding included), protection as generation does it
(``protect_rows`` of a 50,000-code chunk: HMAC + AES-GCM seal + mask, sorted by lookup) and
opening a seal as export does."""

from __future__ import annotations

import time
from collections.abc import Callable

from core.codes.protection import CodeProtector

SAMPLE = 100_000
CHUNK = 50_000


def _cpu_us(work: Callable[[], object], count: int) -> float:
    started = time.process_time()
    work()
    return round((time.process_time() - started) * 1e6 / count, 2)


def crypto_costs(protector: CodeProtector, tenant: str, sample: int = SAMPLE) -> dict[str, float]:
    """Microseconds per code: ``lookup_us``, ``seal_us``, ``protect_us``, ``open_us``."""
    codes = [f"BX{n:012d}Q" for n in range(sample)]
    lookups = [protector.lookup(tenant, code) for code in codes]
    figures = {
        "lookup_us": _cpu_us(lambda: [protector.lookup(tenant, code) for code in codes], sample),
        "seal_us": _cpu_us(lambda: [protector.seal(tenant, value, code)
                                    for code, value in zip(codes, lookups, strict=False)],
                           len(lookups)),
        "protect_us": _cpu_us(lambda: [protector.protect_rows(tenant, codes[at:at + CHUNK])
                                       .sorted_by_lookup() for at in range(0, sample, CHUNK)],
                              sample),
    }
    stored = protector.protect(tenant, codes)
    key_id = protector.active_id
    figures["open_us"] = _cpu_us(lambda: [protector.open(tenant, row.lookup, key_id, row.sealed)
                                          for row in stored], sample)
    return figures
