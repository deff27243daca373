"""Reading codes back in tests: MySQL stores each code's lookup and seal, not the code.

``PLAIN_CODE`` selects what :func:`reveal` needs as one column; tests that want the codes
of a table select it in place of ``code`` and reveal each value.
"""

from __future__ import annotations

from core.bootstrap import Container

#: tenant, stored code (lookup or plaintext of an old row), key id and seal, tab-separated
PLAIN_CODE = ("CONCAT_WS('\\t', tenant_id, code, IFNULL(code_key_id, ''),"
              " IFNULL(code_sealed, ''))")


def reveal(container: Container, packed: str) -> str:
    """The code of a ``PLAIN_CODE`` value (its seal opened, or the plaintext of an old row)."""
    tenant, stored, key_id, sealed = packed.split("\t")
    return container.settings.code_protector.reveal(tenant, stored, key_id or None,
                                                    sealed or None)


def lookup(container: Container, tenant_id: str, code: str) -> str:
    """The stored form of a code (its lookup value), as MySQL and Redis know it."""
    return container.settings.code_protector.lookup(tenant_id, code)


def code_key(container: Container, tenant_id: str, code: str) -> str:
    """The Redis key of a code's entry (keyed by its lookup)."""
    return container.keys.code(tenant_id, lookup(container, tenant_id, code))
