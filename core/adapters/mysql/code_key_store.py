"""The fingerprints of the code keys in use (``code_keys``, migration 14).

The first process to use a key records its fingerprint; every later one compares. A process
started with a different lookup key would write lookups no redemption finds, and one with a
different encryption key under a known id would write seals nothing opens: both are refused
with a KeyMaterialError before anything is written. Checked once per process and engine.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.adapters.mysql.engine import guarded
from core.codes.protection import CodeProtector
from core.errors import KeyMaterialError

_VERIFIED: set[tuple[str, tuple[tuple[str, str, str], ...]]] = set()


def _checks(protector: CodeProtector) -> list[tuple[str, str, str]]:
    keys = [("lookup", "", protector.key_check("lookup"))]
    keys += [("seal", key_id, protector.key_check("seal", key_id))
             for key_id in sorted(protector.material.keys)]
    return keys


def verify_code_keys(engine: Engine, protector: CodeProtector) -> None:
    """Record unknown keys' fingerprints and compare known ones; KeyMaterialError naming
    each key that differs from the one this database's codes were protected with."""
    checks = _checks(protector)
    memo = (str(engine.url), tuple(checks))
    if memo in _VERIFIED:
        return
    now = datetime.now(UTC).replace(tzinfo=None)

    def work() -> dict[tuple[str, str], str]:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT IGNORE INTO code_keys (purpose, key_id, key_check, created_at)"
                     " VALUES (:p, :k, :c, :now)"),
                [{"p": p, "k": k, "c": c, "now": now} for p, k, c in checks],
            )
            rows = conn.execute(text("SELECT purpose, key_id, key_check FROM code_keys")).all()
            return {(r[0], r[1]): r[2] for r in rows}

    stored = guarded("check code keys", work)
    wrong = ["the lookup key" if p == "lookup" else f"encryption key {k!r}"
             for p, k, c in checks if stored.get((p, k)) != c]
    if wrong:
        raise KeyMaterialError(
            f"{' and '.join(wrong)} configured here differ from the one(s) this database's"
            " codes were protected with (wrong key file or REDEEMFLOW_CODE_* values?);"
            " nothing was written")
    _VERIFIED.add(memo)
