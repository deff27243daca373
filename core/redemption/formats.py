"""Offline code checks: normalise a typed code with the tenant's code rules, no Redis/MySQL.

A tenant's campaigns may use different rules (numeric, prefixed, signed...), and so may the
generation batches of one campaign (``codes generate --prefix/--length/...`` stores the
batch's own rule); a code is valid when one of those rules parses it (the loader, the store's
``tenant_code_rules``, returns every distinct one). Rules are cached per tenant and re-read at
most every few seconds when a code fits none of them (a campaign or batch created meanwhile).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.codes import CodeCodec
from schemas.code_rule import CodeGenerateRule

RULES_TTL_SECONDS = 30.0
REFRESH_MIN_SECONDS = 2.0


class TenantCodeFormats:
    """Per-tenant codecs built from the rules of the tenant's campaigns."""

    def __init__(
        self,
        load_rules: Callable[[str], list[CodeGenerateRule]],
        secret_for: Callable[[str], bytes],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load_rules = load_rules
        self._secret_for = secret_for
        self._clock = clock
        self._codecs: dict[str, tuple[float, list[CodeCodec]]] = {}

    def needs_load(self, tenant_id: str) -> bool:
        """Whether the tenant's rules are missing or stale (load them off the event loop)."""
        entry = self._codecs.get(tenant_id)
        return entry is None or self._clock() - entry[0] > RULES_TTL_SECONDS

    def load(self, tenant_id: str, *, force: bool = False) -> None:
        """(Re)read a tenant's rules; blocking, call from an executor."""
        entry = self._codecs.get(tenant_id)
        now = self._clock()
        if entry and not force and now - entry[0] <= RULES_TTL_SECONDS:
            return
        if entry and force and now - entry[0] < REFRESH_MIN_SECONDS:
            return
        secret = self._secret_for(tenant_id)
        codecs = [CodeCodec(rule, secret, tenant_id) for rule in self._load_rules(tenant_id)]
        self._codecs[tenant_id] = (now, codecs)

    def may_refresh(self, tenant_id: str) -> bool:
        """Whether a forced reload would be allowed now (rate-limited)."""
        entry = self._codecs.get(tenant_id)
        return entry is None or self._clock() - entry[0] >= REFRESH_MIN_SECONDS

    def parse(self, tenant_id: str, raw: str) -> str | None:
        """The canonical code if one of the tenant's rules accepts ``raw``, else None."""
        for codec in self._codecs.get(tenant_id, (0.0, []))[1]:
            code = codec.parse(raw)
            if code is not None:
                return code
        return None
