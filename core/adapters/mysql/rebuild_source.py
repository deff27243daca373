"""MySQL's view for a cache rebuild or check (implements ``core.cache_rebuild.RebuildSource``):
tenants, campaigns, code states and per-user counts, keyset-paged on primary keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine

from core.adapters.mysql.compensation_store import CompensationStore
from core.adapters.mysql.engine import guarded
from core.adapters.mysql.redemption_store import RedemptionStore
from core.redemption.model import CampaignInfo, CodeState

_CODES = text(
    "SELECT id, tenant_id, code, campaign_id, status, use_limit, used_count, user_id"
    " FROM redeem_codes WHERE tenant_id = :t"
    " AND (campaign_id > :c OR (campaign_id = :c AND id > :after))"
    " ORDER BY campaign_id, id LIMIT :n"
)
_USAGE_PAGE = text(
    "SELECT campaign_id, user_id, used FROM campaign_user_usage WHERE tenant_id = :t"
    " AND (campaign_id, user_id) > (:c, :u) ORDER BY campaign_id, user_id LIMIT :n"
)
_USAGE = text("SELECT campaign_id, user_id, used FROM campaign_user_usage WHERE tenant_id = :t")
_TENANTS = text("SELECT DISTINCT tenant_id FROM campaigns ORDER BY tenant_id")
_CAMPAIGNS = text("SELECT campaign_id FROM campaigns WHERE tenant_id = :t")
_COUNT = text("SELECT COUNT(*) FROM redeem_codes WHERE tenant_id IN :ts").bindparams(
    bindparam("ts", expanding=True)
)
_RUNNING = text(
    "SELECT COUNT(*) FROM code_batches WHERE tenant_id = :t AND status = 'RUNNING'"
)
_UNPROTECTED = text(
    "SELECT 1 FROM redeem_codes WHERE tenant_id = :t AND code_key_id IS NULL LIMIT 1"
)


class MySQLRebuildSource:
    """Reads of a cache rebuild, each on a connection of its own."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._redemptions = RedemptionStore(engine)
        self._compensation = CompensationStore(engine)

    def _query(self, what: str, statement: Any, params: dict[str, Any]) -> list[Any]:
        def work() -> list[Any]:
            with self._engine.connect() as conn:
                return list(conn.execute(statement, params).all())

        return guarded(what, work)

    def tenants_with_campaigns(self) -> list[str]:
        """Every tenant with a campaign, sorted."""
        return [r[0] for r in self._query("list tenants", _TENANTS, {})]

    def count_codes(self, tenants: Sequence[str]) -> int:
        """Code rows of these tenants."""
        if not tenants:
            return 0
        return int(self._query("count codes", _COUNT, {"ts": list(tenants)})[0][0])

    def campaign_ids(self, tenant_id: str) -> list[str]:
        """The tenant's campaign ids."""
        return [r[0] for r in self._query("list campaigns", _CAMPAIGNS, {"t": tenant_id})]

    def campaign_infos(self, campaign_ids: Iterable[str]) -> dict[str, CampaignInfo]:
        """Campaign facts as redemption reads them, by id."""
        return self._redemptions.campaigns(campaign_ids)

    def code_page(self, tenant_id: str, campaign_after: str, id_after: int,
                  limit: int) -> list[CodeState]:
        """Up to ``limit`` code states after (campaign, id), in primary-key order."""
        rows = self._query("read codes", _CODES,
                           {"t": tenant_id, "c": campaign_after, "after": id_after, "n": limit})
        return [CodeState(int(r.id), r.tenant_id, r.code, r.campaign_id, int(r.status),
                          int(r.use_limit), int(r.used_count), r.user_id) for r in rows]

    def usage_page(self, tenant_id: str, campaign_after: str, user_after: str,
                   limit: int) -> list[tuple[str, str, int]]:
        """Up to ``limit`` (campaign, user, used) after (campaign, user)."""
        rows = self._query("read user usage", _USAGE_PAGE,
                           {"t": tenant_id, "c": campaign_after, "u": user_after, "n": limit})
        return [(r[0], r[1], int(r[2])) for r in rows]

    def usage(self, tenant_id: str) -> dict[tuple[str, str], int]:
        """Every (campaign, user) -> used of the tenant."""
        rows = self._query("read user usage", _USAGE, {"t": tenant_id})
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def generation_running(self, tenant_id: str) -> bool:
        """Whether a generation batch of the tenant is RUNNING."""
        return int(self._query("read code batches", _RUNNING, {"t": tenant_id})[0][0]) > 0

    def unprotected_codes_remain(self, tenant_id: str) -> bool:
        """Whether rows written before codes were protected remain (``keys migrate``)."""
        return bool(self._query("read unprotected codes", _UNPROTECTED, {"t": tenant_id}))

    def known_requests(self, tenant_id: str, request_ids: Sequence[str]) -> set[str]:
        """The tenant's request ids that have an outcome in MySQL."""
        return self._compensation.known_requests(tenant_id, request_ids)
