"""Masking codes for operator screens (seed 002 §3: the back office never shows full codes).

Only exports carry full codes. A listing shows the first and last two characters
(``AB********YZ``) so an operator can tell codes apart and match a customer's complaint,
but cannot hand out or redeem a code they see. Short codes reveal less: two characters
each side would give away too much of a 6-character code.
"""

from __future__ import annotations

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
