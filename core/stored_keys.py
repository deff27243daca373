"""What is stored of a key (gateway API key, token signing key): never the key itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class KeyRecord:
    """A stored key: its public id, its tenant, a label and whether it was revoked."""

    key_id: str
    tenant_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """Whether the key still authenticates (API key) or verifies (signing key)."""
        return self.revoked_at is None
