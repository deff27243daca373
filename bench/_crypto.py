"""Per-code cost of codes at rest (core/codes/protection.py), printed by the benchmarks.

Measured on this process, one core, on codes of the benchmark's own shape: the lookup (one
HMAC-SHA256), protection as generation does it (HMAC + AES-GCM seal + mask) and opening a
seal as export does."""

from __future__ import annotations

import time

from core.codes.protection import CodeProtector

SAMPLE = 100_000


def crypto_costs(protector: CodeProtector, tenant: str, sample: int = SAMPLE) -> dict[str, float]:
    """Microseconds per code: ``lookup_us``, ``protect_us``, ``open_us``."""
    codes = [f"BX{n:012d}Q" for n in range(sample)]
    started = time.perf_counter()
    for code in codes:
        protector.lookup(tenant, code)
    lookup = time.perf_counter() - started
    started = time.perf_counter()
    stored = protector.protect(tenant, codes)
    protect = time.perf_counter() - started
    key_id = protector.active_id
    started = time.perf_counter()
    for row in stored:
        protector.open(tenant, row.lookup, key_id, row.sealed)
    opened = time.perf_counter() - started
    per = 1e6 / sample
    return {"lookup_us": round(lookup * per, 2), "protect_us": round(protect * per, 2),
            "open_us": round(opened * per, 2)}
