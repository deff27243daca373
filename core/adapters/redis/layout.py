"""Start-up check: every Lua call's keys must fall into one Redis Cluster slot.

A cluster runs a script on the node owning its keys' slot and refuses (CROSSSLOT, or
redis-py before sending) a call whose keys span slots. The key layout (``keys.py``) puts
every key of a tenant under the ``{tenant}`` hash tag; this check builds each script's keys
for sample tenants and requests, exactly as the adapters build them, and refuses to start
when one call would cross slots, naming the script and the keys, instead of failing every
redemption later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.adapters.redis.client import hash_slot
from core.errors import ConfigurationError


def crossing_keys(keys: Sequence[str]) -> dict[int, list[str]]:
    """The keys grouped by slot when they span more than one ({} when they share one)."""
    slots: dict[int, list[str]] = {}
    for key in keys:
        slots.setdefault(hash_slot(key), []).append(key)
    return slots if len(slots) > 1 else {}


def check_slot_layout(calls: Mapping[str, Sequence[Sequence[str]]]) -> None:
    """Raise ConfigurationError when any sample call of a script spans several slots.

    ``calls`` maps a script name to the KEYS of sample calls of it.
    """
    problems = []
    for script, samples in calls.items():
        for keys in samples:
            slots = crossing_keys(keys)
            if slots:
                shown = "; ".join(
                    f"slot {slot}: {', '.join(repr(k) for k in group[:3])}"
                    for slot, group in sorted(slots.items())
                )
                problems.append(f"{script} would touch {len(slots)} slots ({shown})")
                break
    if problems:
        raise ConfigurationError(
            "Redis key layout crosses cluster slots within one script call: "
            + " | ".join(problems)
            + ". Every key a script touches must carry the same {hash tag}."
        )
