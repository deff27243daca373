"""The stored states of a code and of a redemption: ``redeem_codes.status`` and
``redemptions.status`` (TINYINT columns), and the ``status`` field of a code's Redis value.

The numbers are the storage format: MySQL rows, Redis values written by the loaders and
read by ``claim.lua`` hold them. They are named here once; SQL text renders them with
``{CodeStatus.X:d}`` so a statement stays a constant the optimizer sees (index-friendly)."""

from __future__ import annotations

from enum import IntEnum


class CodeStatus(IntEnum):
    """``redeem_codes.status``.

    A multi-use code stays UNUSED (with ``used_count > 0``) until its last use; the claim
    that takes the last use sets CLAIMED; delivered grants move CLAIMED to GRANTED. Only a
    never-redeemed code (UNUSED, ``used_count = 0``) is VOIDED."""

    UNUSED = 0
    CLAIMED = 1
    GRANTED = 2
    VOIDED = 3


class RedemptionStatus(IntEnum):
    """``redemptions.status``: a redemption is recorded with its grants PENDING (not yet
    on the broker) and becomes GRANTED once they are."""

    PENDING = 1
    GRANTED = 2


#: The names the back office and the CLI show and filter by.
CODE_STATUS_NAMES: dict[int, str] = {
    CodeStatus.UNUSED: "unused",
    CodeStatus.CLAIMED: "claimed",
    CodeStatus.GRANTED: "granted",
    CodeStatus.VOIDED: "voided",
}


def cached_status(status: int, used_count: int, use_limit: int) -> CodeStatus:
    """The status a code's Redis entry carries for a MySQL row: VOIDED stays VOIDED,
    otherwise CLAIMED once every use is taken, else UNUSED (Redis has no GRANTED: delivery
    of the grants is MySQL's business, a used-up code is refused either way)."""
    if status == CodeStatus.VOIDED:
        return CodeStatus.VOIDED
    return CodeStatus.CLAIMED if used_count >= use_limit else CodeStatus.UNUSED
