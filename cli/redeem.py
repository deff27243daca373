"""``redeemflow redeem``: publish a redemption request, optionally wait for its result."""

from __future__ import annotations

import uuid

import typer

from cli.common import JSON_OPTION, container, emit_json, out, reports_errors

app = typer.Typer(help="Publish a redemption request (as an upstream service would).")


@app.callback(invoke_without_command=True)
@reports_errors
def redeem(
    tenant_id: str = typer.Option(..., "--tenant-id"),
    product_code: str = typer.Option(..., "--product-code"),
    code: str = typer.Option(..., "--code"),
    user_id: str = typer.Option(..., "--user-id"),
    device_id: str = typer.Option(None, "--device-id"),
    channel: str = typer.Option("web", "--channel", help="web, app or mini."),
    tag: list[str] = typer.Option([], "--tag", help="User tag (repeatable)."),
    request_id: str = typer.Option(None, "--request-id", help="Idempotency key (default: new)."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the result and print it."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait with --wait."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Publish one RedeemRequested on redeem.requests."""
    from producers.redeem import publish_request, wait_for_result
    from schemas.events import RedeemRequested

    request = RedeemRequested.model_validate(
        {
            "request_id": request_id or f"cli-{uuid.uuid4().hex}",
            "tenant_id": tenant_id, "product_code": product_code, "code": code,
            "user_id": user_id, "device_id": device_id, "channel": channel, "user_tags": tag,
        }
    )
    with container() as built:
        publish_request(built, request)
        if not wait:
            if as_json:
                emit_json({"request_id": request.request_id, "published": True})
            else:
                out.print(f"published request {request.request_id}")
            return
        result = wait_for_result(built.topic_reader, built.settings, request.request_id, timeout)
    if result is None:
        out.print(f"no result for {request.request_id} within {timeout}s (still pending)")
        raise typer.Exit(4)
    if as_json:
        emit_json(result.model_dump(mode="json"))
    else:
        out.print(f"{result.outcome.value}: {result.message}"
                  + (f" (grants: {', '.join(result.grant_ids)})" if result.grant_ids else ""))
