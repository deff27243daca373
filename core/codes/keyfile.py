"""Reading the code keys from settings: a key file and/or ``REDEEMFLOW_CODE_*`` values.

The key file is JSON (mounted read-only, e.g. a Docker/Kubernetes secret)::

    {"lookup_key": "<base64 32 bytes>", "active_key_id": "k2",
     "keys": {"k1": "<base64 32 bytes>", "k2": "<base64 32 bytes>"}}

Values set in the environment win over the file's (a key id in both: the environment's).
With nothing configured at all, fixed development keys are used (like ``code_secret``'s
default): good for tests and the demo, never for production. Every problem is a
KeyMaterialError naming the file, the key and what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping

import orjson

from core.codes.protection import KEY_BYTES, CodeKeys
from core.errors import KeyMaterialError

DEV_KEY_ID = "dev"


def dev_keys() -> CodeKeys:
    """The development keys (derived from fixed strings: public, never for production)."""
    return CodeKeys(
        hashlib.sha256(b"dev-only-code-lookup-key-change-me").digest(),
        {DEV_KEY_ID: hashlib.sha256(b"dev-only-code-encryption-key-change-me").digest()},
        DEV_KEY_ID,
    )


def new_key_text() -> str:
    """A fresh random key as the key file and environment spell it (base64 of 32 bytes)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def _decode(text: str, what: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyMaterialError(f"{what} is not base64: {exc}") from exc
    if len(key) != KEY_BYTES:
        raise KeyMaterialError(f"{what} has {len(key)} bytes, needs {KEY_BYTES}")
    return key


def _read_file(path: str) -> dict[str, object]:
    try:
        with open(path, "rb") as handle:
            data = orjson.loads(handle.read())
    except OSError as exc:
        raise KeyMaterialError(f"code key file {path!r} cannot be read: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise KeyMaterialError(f"code key file {path!r} is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys", {}), dict):
        raise KeyMaterialError(
            f"code key file {path!r} must be an object with lookup_key, active_key_id, keys")
    return data


def load_code_keys(path: str, lookup: str, keys: Mapping[str, str], active: str) -> CodeKeys:
    """The code keys from a key file ``path`` (optional) and environment values."""
    if not (path or lookup or keys or active):
        return dev_keys()
    data = _read_file(path) if path else {}
    where = f"code key file {path!r}" if path else "the environment"
    lookup = lookup or str(data.get("lookup_key") or "")
    if not lookup:
        raise KeyMaterialError(
            f"no code lookup key: set lookup_key in {where} or REDEEMFLOW_CODE_LOOKUP_KEY")
    file_keys = data.get("keys") or {}
    assert isinstance(file_keys, dict)
    merged = {str(k): str(v) for k, v in file_keys.items()} | dict(keys)
    active = active or str(data.get("active_key_id") or "")
    if not active:
        raise KeyMaterialError(
            f"no active code key id: set active_key_id in {where} or REDEEMFLOW_CODE_KEY_ID")
    return CodeKeys(
        _decode(lookup, f"the code lookup key of {where}"),
        {key_id: _decode(text, f"code key {key_id!r} of {where}")
         for key_id, text in merged.items()},
        active,
    )
