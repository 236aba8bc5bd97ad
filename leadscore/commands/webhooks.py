"""Webhook commands: add, list, remove, deliveries (the log) and deliver (send what is due now)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from leadscore.settings import Settings, get_settings

if TYPE_CHECKING:
    from serving.webhooks.store import WebhookStore

console = Console()
err = Console(stderr=True)

webhooks_app = typer.Typer(
    help="Webhooks to the CRM: signed deliveries of lead.hot, trigger.fired, "
    "lead.new_in_speed_lane and lead.opted_out.",
    no_args_is_help=True,
)


def _store(settings: Settings) -> WebhookStore:
    from features.event_log import EventLog
    from serving.db import create_serving_tables
    from serving.webhooks.store import WebhookStore

    log = EventLog(settings.event_log_url)
    create_serving_tables(log.engine)
    return WebhookStore(log.engine)


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}")
    return typer.Exit(2)


@webhooks_app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="http(s) URL the events are POSTed to")],
    events: Annotated[
        str | None,
        typer.Option(
            help="comma-separated: lead.hot, trigger.fired, lead.new_in_speed_lane, "
            "lead.opted_out [default: all four]"
        ),
    ] = None,
    description: Annotated[str | None, typer.Option(help="a note for the admins")] = None,
    secret_stdin: Annotated[
        bool,
        typer.Option(
            "--secret-stdin",
            help="read your own secret (16+ characters) from standard input instead of "
            "generating one",
        ),
    ] = False,
) -> None:
    """Register a webhook; prints its id, then the generated secret (shown only now)."""
    from serving.webhooks.store import WebhookInputError

    secret = sys.stdin.readline().rstrip("\r\n") if secret_stdin else None
    chosen = None if events is None else events.split(",")
    try:
        webhook, generated = _store(get_settings()).add(
            url, chosen, secret=secret, description=description, created_by="cli"
        )
    except WebhookInputError as exc:
        raise _fail(exc) from exc
    kinds = ", ".join(webhook.events)
    err.print(f"created webhook {webhook.id} for {kinds}")
    print(webhook.id)
    if generated is not None:
        err.print("its signing secret is shown only now:")
        print(generated)


@webhooks_app.command("list")
def list_webhooks(
    removed: Annotated[bool, typer.Option("--removed", help="include removed webhooks")] = False,
) -> None:
    """Webhooks with their events and deliveries by status (never a secret)."""
    hooks = _store(get_settings()).listing(include_removed=removed)
    table = Table(title=f"{len(hooks)} webhook(s); deliveries pending/delivered/failed")
    table.add_column("id", no_wrap=True)
    for column in ("url", "events", "deliveries", "created"):
        table.add_column(column)
    if removed:
        table.add_column("removed")
    for hook in hooks:
        counts = hook["deliveries"]
        row = [
            hook["id"],
            hook["url"],
            ", ".join(hook["events"]),
            f"{counts['pending']}/{counts['delivered']}/{counts['failed']}",
            hook["created_at"][:16],
        ]
        table.add_row(*row, *([(hook["deleted_at"] or "")[:16]] if removed else []))
    console.print(table)


@webhooks_app.command("remove")
def remove(webhook_id: Annotated[str, typer.Argument(help="the webhook's id (wh_...)")]) -> None:
    """Stop sending to a webhook: pending deliveries are cancelled, the log stays."""
    from serving.webhooks.store import WebhookNotFoundError

    try:
        webhook, cancelled = _store(get_settings()).remove(webhook_id)
    except WebhookNotFoundError as exc:
        raise _fail(exc) from exc
    console.print(f"removed {webhook.id}; {cancelled} pending deliver(ies) cancelled")


@webhooks_app.command("deliveries")
def deliveries(
    webhook_id: Annotated[str, typer.Argument(help="the webhook's id (wh_...)")],
    status: Annotated[
        str | None, typer.Option(help="pending, delivered, failed or cancelled")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="newest deliveries to show")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines with every attempt")] = False,
) -> None:
    """The delivery log, newest first: event, status, attempts and the last answer."""
    from serving.webhooks.store import WebhookInputError, WebhookNotFoundError

    try:
        rows = _store(get_settings()).deliveries(webhook_id, status=status, limit=limit)
    except (WebhookInputError, WebhookNotFoundError) as exc:
        raise _fail(exc) from exc
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = Table(title=f"{webhook_id}: {len(rows)} deliver(ies), newest first")
    for column in ("id", "event", "lead", "status", "attempts", "last answer", "queued", "next"):
        table.add_column(column)
    for row in rows:
        answer = row["last_error"] if row["last_status_code"] is None else row["last_status_code"]
        table.add_row(
            str(row["id"]),
            row["event_type"],
            row["lead_id"],
            row["status"],
            str(row["attempts"]),
            "" if answer is None else str(answer),
            (row["created_at"] or "")[:19],
            (row["next_attempt_at"] or "")[:19],
        )
    console.print(table)


@webhooks_app.command("deliver")
def deliver() -> None:
    """Send every delivery due now, once each (what the server's worker does continuously;
    for LEADSCORE_WEBHOOK_WORKER=false or a cron job). Failures wait for their retry time."""
    from leadscore.commands.service import webhook_config
    from serving.webhooks.delivery import PassResult, WebhookDeliverer

    settings = get_settings()
    deliverer = WebhookDeliverer(_store(settings), webhook_config(settings))
    total = PassResult()
    try:
        while (result := deliverer.deliver_due()).claimed:
            total += result
    finally:
        deliverer.close()
    console.print(
        f"{total.claimed} sent: {total.delivered} delivered, {total.retrying} to retry later, "
        f"{total.failed} failed for good"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(webhooks_app, name="webhooks")
