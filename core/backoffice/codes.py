"""A campaign's codes for the back office: masked, keyset-paged on the primary key, with
operator ids shown as e-mails.

Without a filter a page is the next 50 ids (``core.listing``). With a status or export
filter a page reads at most ``SCAN_WINDOW`` (25,000) ids of the campaign: a filter that matches few
codes (200 granted among a million) would otherwise read the whole campaign for one page.
Such a page may hold fewer than 50 codes; its "next" link continues after the stretch
scanned, and the page says how far the scan got.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.backoffice.campaigns import campaign_for
from core.backoffice.model import Principal
from core.backoffice.ports import BackOfficeServices, OperatorStore
from core.listing import STATUS_CODES, CodeView, _view, list_codes
from core.records import CodeQuery

SCAN_WINDOW = 25_000


@dataclass(frozen=True)
class NamedCodePage:
    """A page of masked codes, where the next page starts, how far a filtered scan got,
    and the e-mails of the operators named on it."""

    codes: list[CodeView]
    next_after_id: int | None
    scanned_to: int | None
    highest_id: int | None
    names: dict[str, str]

    def name(self, account_id: str | None) -> str:
        """An operator's e-mail, or the account id as stored (CLI accounts), or '-'."""
        return self.names.get(account_id or "", account_id or "-")


def codes_page(services: BackOfficeServices, operators: OperatorStore, principal: Principal,
               campaign_id: str, *, status: str | None, exported: bool | None, after_id: int,
               limit: int) -> NamedCodePage:
    """One page of a visible campaign's codes, after row id ``after_id``."""
    campaign = campaign_for(services, principal, campaign_id)
    after_id = max(0, after_id)
    if status is None and exported is None:
        page = list_codes(services.store, campaign.tenant_id, campaign.campaign_id,
                          limit=limit, after_id=after_id)
        codes, next_after, scanned, highest = page.codes, page.next_after_id, None, None
    else:
        codes, next_after, scanned, highest = _filtered(
            services, campaign.tenant_id, campaign.campaign_id, STATUS_CODES.get(status or ""),
            exported, after_id, limit)
    accounts = {a for v in codes for a in (v.generated_by, v.exported_by) if a}
    return NamedCodePage(codes, next_after, scanned, highest, operators.emails(sorted(accounts)))


def _filtered(services: BackOfficeServices, tenant_id: str, campaign_id: str, status: int | None,
              exported: bool | None, after_id: int,
              limit: int) -> tuple[list[CodeView], int | None, int, int]:
    lowest, highest = services.views.code_id_range(tenant_id, campaign_id)
    start = max(after_id, lowest - 1)
    upto = start + SCAN_WINDOW
    rows = services.views.codes_window(
        CodeQuery(tenant_id, campaign_id, start, limit, status, exported, upto_id=upto))
    codes = [_view(r) for r in rows]
    if len(codes) == limit:
        return codes, codes[-1].id, codes[-1].id, highest
    return codes, (upto if upto < highest else None), min(upto, highest), highest
