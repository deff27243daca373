"""``redeemflow campaign``: create a campaign with its codes; pause, resume or end it.

``create`` runs the same core call as the campaign agent does for ``campaign.requests``.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import typer
from pydantic import ValidationError

from cli.codes import progress_bar
from cli.common import JSON_OPTION, container, emit_json, out, reports_errors
from core.errors import InvalidRule
from schemas.campaign import CampaignOutcome, CampaignRule, CampaignStatus, CreateCampaignRequest

app = typer.Typer(help="Campaigns: create (with codes), pause, resume, end.",
                  no_args_is_help=True)


def _rule(path: Path) -> CampaignRule:
    try:
        return CampaignRule.model_validate(orjson.loads(path.read_bytes()))
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InvalidRule(f"cannot read rule file {path}: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidRule(f"rule {path}: {where}: {first['msg']}") from exc


@app.command("create")
@reports_errors
def create(
    tenant_id: str = typer.Option(..., "--tenant-id"),
    campaign_id: str = typer.Option(..., "--campaign-id"),
    product_code: str = typer.Option(..., "--product-code"),
    rule: Path = typer.Option(..., "--rule", help="Rule JSON file (seed 000 §九)."),
    count: int = typer.Option(0, "--count", min=0, help="Codes to generate."),
    name: str = typer.Option("", "--name"),
    account_id: str = typer.Option("cli", "--account-id", help="Who creates/generates."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a campaign and generate its codes (idempotent on the campaign id)."""

    request = CreateCampaignRequest(campaign_id=campaign_id, tenant_id=tenant_id,
                                    product_code=product_code, name=name, rule=_rule(rule),
                                    code_count=count, account_id=account_id)
    with container() as built, progress_bar("codes", quiet=as_json) as advance:
        result = built.campaigns.create(request, progress=advance)
    if as_json:
        emit_json(result.model_dump(mode="json"))
    else:
        out.print(f"{result.outcome.value}: {result.message} "
                  f"({result.codes_generated:,} codes)")
    if result.outcome not in (CampaignOutcome.CREATED, CampaignOutcome.ALREADY_EXISTS):
        raise typer.Exit(2)


def _set_status(tenant_id: str, campaign_id: str, status: CampaignStatus, as_json: bool) -> None:

    with container() as built:
        campaign = built.campaigns.set_status(tenant_id, campaign_id, status)
    if as_json:
        emit_json({"tenant_id": tenant_id, "campaign_id": campaign_id, "status": campaign.status})
    else:
        out.print(f"campaign {campaign_id} is {campaign.status}")


@app.command("pause")
@reports_errors
def pause(
    tenant_id: str = typer.Option(..., "--tenant-id"),
    campaign_id: str = typer.Option(..., "--campaign-id"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Stop redemptions of a campaign at once (MySQL and the Redis campaign hash)."""
    _set_status(tenant_id, campaign_id, CampaignStatus.PAUSED, as_json)


@app.command("resume")
@reports_errors
def resume(
    tenant_id: str = typer.Option(..., "--tenant-id"),
    campaign_id: str = typer.Option(..., "--campaign-id"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Make a campaign ACTIVE again."""
    _set_status(tenant_id, campaign_id, CampaignStatus.ACTIVE, as_json)


@app.command("end")
@reports_errors
def end(
    tenant_id: str = typer.Option(..., "--tenant-id"),
    campaign_id: str = typer.Option(..., "--campaign-id"),
    as_json: bool = JSON_OPTION,
) -> None:
    """End a campaign for good (its codes no longer redeem)."""
    _set_status(tenant_id, campaign_id, CampaignStatus.ENDED, as_json)
