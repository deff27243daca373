"""Redis side of compensation: find request records (claims) and release the abandoned ones.

A request record ``<p>:{t}:req:<request_id>`` = ``campaign|code|user|claimed_ms`` is written
by claim.lua. A record old enough whose request has no outcome in MySQL is a claim a worker
made and never committed (it died in between): the code's entry and the user's count in
Redis still include it. Releasing writes MySQL's view of both back and deletes the record,
in one script that first checks the record is still the one we looked at, so two
compensation runs at once release a claim once (concurrent sweeps are harmless).

Blocking client: call from an executor. Redis errors become ``CacheUnavailable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.adapters.redis.client import SyncRedisClient, mget_any, scan_page
from core.adapters.redis.client import redis_guard as _guard
from core.adapters.redis.keys import RedisKeys, code_value
from core.adapters.redis.scripts import run_script_sync
from core.codes.status import cached_status
from core.redemption.model import CodeState

SCAN_COUNT = 2000

# KEYS: 1 request record, 2 code entry, 3 per-user hash
# ARGV: 1 record value seen, 2 code value from MySQL ('' deletes), 3 user, 4 user's count
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[2]) end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
redis.call('DEL', KEYS[1])
return 1
"""


@dataclass(frozen=True)
class RequestRecord:
    """One claim record as claim.lua wrote it."""

    key: str
    raw: str
    tenant_id: str
    request_id: str
    campaign_id: str
    code: str
    user_id: str
    claimed_ms: int


@dataclass(frozen=True)
class Release:
    """What to write for one abandoned claim: MySQL's code state and the user's count."""

    record: RequestRecord
    state: CodeState | None
    user_count: int


def state_value(state: CodeState | None) -> str:
    """The Redis code entry for MySQL's state ('' = no such code), as claim.lua reads it."""
    if state is None:
        return ""
    status = cached_status(state.status, state.used_count, state.use_limit)
    return code_value(
        state.campaign_id, state.use_limit, state.used_count, status, state.bound_user or ""
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class ClaimRecords:
    """Scans and releases request records with the blocking client."""

    def __init__(self, client: SyncRedisClient, keys: RedisKeys) -> None:
        self._client = client
        self._keys = keys

    def pattern(self, tenant_id: str | None) -> str:
        """The SCAN pattern of one tenant's request records, or of every tenant's."""
        if tenant_id is not None:
            return self._keys.request(tenant_id, "*")
        return f"{self._keys.prefix}:{{*}}:req:*"

    def scan_page(self, pattern: str, cursor: int) -> tuple[int, list[RequestRecord]]:
        """One SCAN step and the records it found (values read in one round trip per slot;
        on a cluster the cursor walks the masters in turn)."""

        def work() -> tuple[int, list[RequestRecord]]:
            next_cursor, keys = scan_page(self._client, cursor, pattern, SCAN_COUNT)
            if not keys:
                return int(next_cursor), []
            values = mget_any(self._client, keys)
            pairs = [(_text(k), _text(v)) for k, v in zip(keys, values, strict=True) if v]
            found = [self._parse(k, v) for k, v in pairs]
            return int(next_cursor), [r for r in found if r is not None]

        return _guard("scan request records", work)

    def _parse(self, key: str, value: str) -> RequestRecord | None:
        head = f"{self._keys.prefix}:{{"
        tenant, sep, request_id = key[len(head):].partition("}:req:")
        parts = value.split("|")
        if not key.startswith(head) or not sep or len(parts) != 4 or not parts[3].isdigit():
            return None
        campaign, code, user, claimed = parts
        return RequestRecord(key, value, tenant, request_id, campaign, code, user, int(claimed))

    def release(self, releases: Sequence[Release]) -> int:
        """Write MySQL's view back for abandoned claims; how many were still there."""
        if not releases:
            return 0

        def work() -> int:
            calls = [
                (
                    [
                        item.record.key,
                        self._keys.code(item.record.tenant_id, item.record.code),
                        self._keys.per_user(item.record.tenant_id, item.record.campaign_id),
                    ],
                    [item.record.raw, state_value(item.state), item.record.user_id,
                     item.user_count],
                )
                for item in releases
            ]
            return sum(int(r) for r in run_script_sync(self._client, _RELEASE, calls))

        return _guard("release abandoned claims", work)
