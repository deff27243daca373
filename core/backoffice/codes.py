"""A campaign's codes for the back office: the masked, keyset-paged listing of
``core.listing`` for a campaign the principal may see, with operator ids shown as e-mails."""

from __future__ import annotations

from dataclasses import dataclass

from core.backoffice.campaigns import campaign_for
from core.backoffice.model import Principal
from core.backoffice.ports import OperatorStore
from core.bootstrap import Container
from core.listing import CodePage, list_codes


@dataclass(frozen=True)
class NamedCodePage:
    """A page of masked codes and the e-mails of the operators named on it."""

    page: CodePage
    names: dict[str, str]

    def name(self, account_id: str | None) -> str:
        """An operator's e-mail, or the account id as stored (CLI accounts), or '-'."""
        return self.names.get(account_id or "", account_id or "-")


def codes_page(container: Container, operators: OperatorStore, principal: Principal,
               campaign_id: str, *, status: str | None, exported: bool | None, after_id: int,
               limit: int) -> NamedCodePage:
    """One page of a visible campaign's codes, after row id ``after_id``."""
    campaign = campaign_for(container, principal, campaign_id)
    page = list_codes(container, campaign.tenant_id, campaign.campaign_id, status=status,
                      exported=exported, limit=limit, after_id=max(0, after_id))
    accounts = {a for v in page.codes for a in (v.generated_by, v.exported_by) if a}
    return NamedCodePage(page, operators.emails(sorted(accounts)))
