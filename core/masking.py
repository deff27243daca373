"""Masking codes for operator screens (seed 002 §3: the back office never shows full codes).

Only exports carry full codes. A listing shows the first and last two characters
(``AB********YZ``) so an operator can tell codes apart and match a customer's complaint,
but cannot hand out or redeem a code they see. Short codes reveal less: two characters
each side would give away too much of a 6-character code.
"""

from __future__ import annotations

import re

MASK_CHAR = "*"


def visible_ends(length: int) -> int:
    """How many characters to show at each end of a code of ``length`` characters."""
    if length >= 8:
        return 2
    if length >= 5:
        return 1
    return 0


def mask_code(code: str) -> str:
    """``code`` with everything but its ends replaced by ``*`` (same length)."""
    shown = visible_ends(len(code))
    if shown == 0:
        return MASK_CHAR * len(code)
    return code[:shown] + MASK_CHAR * (len(code) - 2 * shown) + code[-shown:]


_CODE_FIELD = re.compile(rb'("code"\s*:\s*")((?:[^"\\]|\\.)*)(")')


def mask_redeem_request(key: bytes, value: bytes, error: str) -> tuple[bytes, bytes, str]:
    """A redeem request's key (``tenant_id:code``), bytes and error text with the code masked,
    for dead letters and their log line: a malformed request's code may still be a valid,
    unused code (issue 20: no code in logs, metrics or messages). Works on bytes that are not
    JSON too (the ``"code": "..."`` member is found textually)."""
    codes: list[str] = []

    def masked(match: re.Match[bytes]) -> bytes:
        raw = match.group(2).decode("utf-8", errors="replace")
        codes.append(raw)
        return match.group(1) + mask_code(raw).encode() + match.group(3)

    value = _CODE_FIELD.sub(masked, value)
    tenant, sep, code = key.partition(b":")
    if sep:
        codes.append(code.decode("utf-8", errors="replace"))
        key = tenant + sep + mask_code(codes[-1]).encode()
    for code_text in sorted({c for c in codes if len(c) >= 4}, key=len, reverse=True):
        error = error.replace(code_text, mask_code(code_text))
    return key, value, error
