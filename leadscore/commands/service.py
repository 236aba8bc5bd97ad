"""Service commands: serve (the API), users add/list/revoke (bearer tokens), audit (the trail)."""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.console import Console
from rich.table import Table

from leadscore.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from serving.auth import UserStore
    from serving.config import ServingConfig, WebhookConfig

console = Console()
err = Console(stderr=True)

users_app = typer.Typer(
    help="API users: bearer tokens with a role (crm, officer, manager, admin).",
    no_args_is_help=True,
)

DEMO_ADMIN = "demo-admin"
DEMO_CRM = "demo-crm"
DEMO_MANAGER = "demo-manager"


def serving_config(settings: Settings) -> ServingConfig:
    """The API's configuration from the settings (the only place serving meets the environment)."""
    from serving.config import ServingConfig
    from serving.ratelimit import RateLimitConfigError, parse_rate_limit, redis_storage_uri

    rank_by = settings.rank_by
    if rank_by not in ("probability", "expected_value"):
        raise typer.BadParameter(
            f"LEADSCORE_RANK_BY is '{rank_by}'; use 'probability' or 'expected_value'"
        )
    try:
        parse_rate_limit(settings.rate_limit)
    except RateLimitConfigError as exc:
        raise typer.BadParameter(f"LEADSCORE_RATE_LIMIT: {exc}") from exc
    storage = settings.rate_limit_storage or (
        redis_storage_uri(settings.redis_url) if settings.online_store == "redis" else "memory://"
    )
    if storage.split("://", 1)[0] not in ("memory", "redis", "rediss"):
        raise typer.BadParameter(
            "LEADSCORE_RATE_LIMIT_STORAGE must be memory:// or a redis://host:port/db URL"
        )
    return ServingConfig(
        event_log_url=settings.event_log_url,
        tracking_uri=settings.tracking_uri,
        feature_store_dir=settings.feature_store_dir,
        online_store=settings.online_store,
        redis_url=settings.redis_url,
        model_alias=settings.model_alias,
        model_poll_s=settings.model_poll_s,
        queue_cache_entries=settings.queue_cache_entries,
        officer_capacity=settings.officer_capacity,
        compensation_bps=settings.compensation_bps,
        rank_by="expected_value" if rank_by == "expected_value" else "probability",
        workday_time_zone=settings.workday_time_zone,
        feature_cache_ttl_s=settings.feature_cache_ttl_s,
        rate_limit=settings.rate_limit,
        rate_limit_storage=storage,
        webhooks=webhook_config(settings),
    )


def webhook_config(settings: Settings) -> WebhookConfig:
    """How webhooks are delivered, from the settings (the lease must outlast an attempt)."""
    from serving.config import WebhookConfig

    if settings.webhook_lease_s <= settings.webhook_timeout_s:
        raise typer.BadParameter(
            f"LEADSCORE_WEBHOOK_LEASE_S ({settings.webhook_lease_s:g}) must be longer than "
            f"LEADSCORE_WEBHOOK_TIMEOUT_S ({settings.webhook_timeout_s:g}), or a slow "
            "receiver's delivery is sent twice"
        )
    return WebhookConfig(
        worker=settings.webhook_worker,
        max_attempts=settings.webhook_max_attempts,
        backoff_base_s=settings.webhook_backoff_base_s,
        backoff_max_s=settings.webhook_backoff_max_s,
        timeout_s=settings.webhook_timeout_s,
        lease_s=settings.webhook_lease_s,
    )


def _user_store(settings: Settings) -> UserStore:
    from features.event_log import EventLog
    from serving.auth import UserStore
    from serving.db import create_serving_tables

    log = EventLog(settings.event_log_url)
    create_serving_tables(log.engine)
    return UserStore(log.engine)


class _Unavailable(importlib.abc.MetaPathFinder):
    """Makes one package look uninstalled while it is on sys.meta_path."""

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:  # noqa: ARG002
        if fullname == self.package or fullname.startswith(self.package + "."):
            raise ModuleNotFoundError(f"{fullname} is kept off serving's start-up", name=fullname)
        return None


def import_lightgbm_without_sklearn() -> None:
    """Import LightGBM as if scikit-learn were absent (then forget the pretence).

    LightGBM imports scikit-learn, and with it SciPy, only for its sklearn-style wrappers; the
    server uses the Booster alone, and the two cost seconds of the 15 s start-up budget
    (measured). Later imports of sklearn work as usual.
    """
    if "lightgbm" in sys.modules or "sklearn" in sys.modules:
        return
    blocker = _Unavailable("sklearn")
    sys.meta_path.insert(0, blocker)
    try:
        import lightgbm  # noqa: F401
    finally:
        sys.meta_path.remove(blocker)


OPTIMIZED_ENTRY: Final = "leadscore.commands.service"
SERVER_ENTRY: Final = "leadscore.serve_entry"
KEEP_ALIVE_S: Final = 75
"""Seconds an idle keep-alive connection stays open (uvicorn's default is 5)."""
"""What `leadscore serve` re-executes with -O: a module nothing imports (running this one,
which the CLI's package imports, made runpy print a warning at every start)."""
"""`python -O -m leadscore.commands.service --host H --port P` runs the server."""


def shared_state_warnings(settings: Settings, workers: int) -> list[str]:
    """What is not shared, or shared only slowly, between this many workers (README, Running
    in production). Nothing here is refused: SQLite in WAL mode is safe across processes on one
    machine (file locks serialize the writers, and each ingestion re-checks the event log
    after its online push), only slower; a memory rate limit is merely per worker."""
    if workers <= 1:
        return []
    warnings = []
    if settings.event_log_url.startswith("sqlite"):
        warnings.append(
            f"{workers} workers share a SQLite event log through file locks on this machine: "
            "every write waits for the others (set LEADSCORE_DATABASE_URL to PostgreSQL)"
        )
    if settings.online_store == "sqlite":
        warnings.append(
            f"{workers} workers share a SQLite online store through file locks on this machine: "
            "online pushes wait for each other (set LEADSCORE_ONLINE_STORE=redis)"
        )
    storage = serving_config(settings).rate_limit_storage
    if storage.startswith("memory") and settings.rate_limit.strip().lower() not in ("", "off"):
        warnings.append(
            f"each of the {workers} workers counts LEADSCORE_RATE_LIMIT in its own memory, so a "
            f"token may make up to {workers} times as many requests (set "
            "LEADSCORE_RATE_LIMIT_STORAGE=redis://host:port/db)"
        )
    return warnings


def create_worker_app() -> FastAPI:
    """The app of one uvicorn worker: each worker process builds its own from the settings
    (uvicorn imports this factory by name in every worker it starts)."""
    import_lightgbm_without_sklearn()
    from leadscore.logging import configure_logging
    from serving.app import create_app

    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(serving_config(settings))


def run_server(
    settings: Settings, host: str | None = None, port: int | None = None, workers: int = 1
) -> None:
    """uvicorn with one or more workers, uvloop and httptools when installed, JSON logs.

    The server process runs with Python's -O: Feast decorates its classes with typeguard's
    @typechecked, which re-compiles them when Feast is imported (about two thirds of Feast's
    import time, measured), and -O turns those decorators off; start-up must be ready in 15 s.
    leadscore uses no assert for logic. Without -O, this re-executes itself with it (workers
    are spawned with the parent's interpreter flags, -O included).
    """
    chosen_host, chosen_port = host or settings.host, port or settings.port
    if sys.flags.optimize == 0:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(
            sys.executable,
            [
                sys.executable,
                "-O",
                "-m",
                SERVER_ENTRY,
                "--host",
                chosen_host,
                "--port",
                str(chosen_port),
                "--workers",
                str(workers),
            ],
        )
    import uvicorn

    from leadscore.logging import configure_logging

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    configure_logging(settings.log_level)
    if workers > 1:
        # tables a release adds (the webhook outbox) are created here once: workers creating
        # them at the same moment would race on CREATE TABLE and one would fail to start
        _user_store(settings).engine.dispose()
    uvicorn.run(
        # one worker runs in this process; several are spawned, each calling the factory
        create_worker_app if workers == 1 else f"{OPTIMIZED_ENTRY}:create_worker_app",
        factory=True,
        host=chosen_host,
        port=chosen_port,
        workers=workers,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        log_config=None,
        access_log=False,
        log_level=settings.log_level.lower(),
        # longer than a load balancer's idle timeout (60 s is common), so the balancer, not
        # the worker, closes an idle connection and never sends on one the worker just closed
        timeout_keep_alive=KEEP_ALIVE_S,
    )


def serve(
    host: Annotated[
        str | None, typer.Option(help="address to bind [default: LEADSCORE_HOST, 127.0.0.1]")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="port to bind [default: LEADSCORE_PORT, 8000]")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="uvicorn worker processes (default: LEADSCORE_WORKERS, 1); more than one "
            "wants the event log on PostgreSQL and the online store on Redis (README, Running "
            "in production)",
        ),
    ] = None,
) -> None:
    """Run the API (uvicorn, one or more workers); docs at /docs, readiness at /readyz."""
    settings = get_settings()
    chosen = workers or settings.workers
    for warning in shared_state_warnings(settings, chosen):
        err.print(f"[yellow]warning:[/yellow] {warning}")
    run_server(settings, host, port, chosen)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="a unique user name, e.g. crm or lo-01-ana")],
    role: Annotated[
        str,
        typer.Option(
            help="crm (ingest, score), officer (own queue and leads), manager (the team's "
            "analytics) or admin (model, users, audit, analytics)"
        ),
    ],
    officer: Annotated[
        str | None, typer.Option(help="officer id (role officer): the CRM's officer_id")
    ] = None,
    capacity: Annotated[
        int | None,
        typer.Option(help="this officer's calls a day [default: LEADSCORE_OFFICER_CAPACITY]"),
    ] = None,
    expires_in: Annotated[
        str | None,
        typer.Option(
            help="the token stops working after this long: 30m, 12h, 90d (default: never)"
        ),
    ] = None,
) -> None:
    """Create a user and print its token once (only a SHA-256 hash is stored)."""
    from serving.auth import UserError

    lifetime = None if expires_in is None else parse_duration(expires_in)
    if expires_in is not None and not lifetime:
        raise typer.BadParameter(
            f"--expires-in '{expires_in}' is not a duration such as 30m, 12h or 90d"
        )
    store = _user_store(get_settings())
    try:
        if capacity is not None and officer is None:
            raise UserError("--capacity is set per officer; give --officer too")
        expires_at = None if lifetime is None else datetime.now(UTC) + lifetime
        user, token = store.add(name, role, officer_id=officer, expires_at=expires_at)
        if capacity is not None and officer is not None:
            store.set_capacity(officer, capacity)
    except UserError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    scope = f" for officer {user.officer_id}" if user.officer_id else ""
    until = "" if user.expires_at is None else f", valid until {user.expires_at:%Y-%m-%d %H:%M} UTC"
    err.print(f"created {user.role} user '{user.name}'{scope}{until}; the token is shown only now:")
    print(token)


@users_app.command("list")
def users_list() -> None:
    """Every user with its role and officer; revoked ones show when."""
    users = _user_store(get_settings()).list()
    table = Table(title=f"{len(users)} user(s)")
    for column in ("name", "role", "officer", "created", "revoked", "expires"):
        table.add_column(column)
    for user in users:
        table.add_row(
            user.name,
            str(user.role),
            user.officer_id or "",
            f"{user.created_at:%Y-%m-%d %H:%M}",
            "" if user.revoked_at is None else f"{user.revoked_at:%Y-%m-%d %H:%M}",
            "" if user.expires_at is None else f"{user.expires_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(help="the user to revoke")]) -> None:
    """Revoke a user's token: its next request answers 401."""
    from serving.auth import UserError

    try:
        user = _user_store(get_settings()).revoke(name)
    except UserError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"revoked '{user.name}' at {user.revoked_at:%Y-%m-%d %H:%M:%S} UTC")


_DURATION = re.compile(r"^(\d+)([mhd])$")


def parse_duration(text: str) -> timedelta | None:
    """'30m', '24h', '7d' as a timedelta; None when the text is not such a duration."""
    match = _DURATION.match(text.strip())
    if match is None:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days"}
    return timedelta(**{units[match.group(2)]: int(match.group(1))})


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """'24h', '7d', '30m', or an ISO date or time (UTC when it has no offset)."""
    moment = now or datetime.now(UTC)
    duration = parse_duration(text)
    if duration is not None:
        return moment - duration
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise typer.BadParameter(
            f"--since '{text}' is neither a duration (30m, 24h, 7d) nor an ISO date/time"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def audit(
    lead: Annotated[str | None, typer.Option(help="only this lead id")] = None,
    since: Annotated[
        str | None, typer.Option(help="from this moment: 24h, 7d, or an ISO date/time")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(help="score, explanation, lead_detail, queue_item or queue_held_back"),
    ] = None,
    limit: Annotated[int, typer.Option(help="newest rows to show")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
) -> None:
    """Read the audit trail: every score and queue position served, newest first."""
    from features.event_log import EventLog
    from serving.audit import AuditLog
    from serving.db import create_serving_tables

    settings = get_settings()
    log = EventLog(settings.event_log_url)
    create_serving_tables(log.engine)
    rows = AuditLog(log.engine).read(
        lead_id=lead,
        since=parse_since(since) if since else None,
        action=action,
        limit=limit,
    )
    if as_json:
        for row in rows:
            print(json.dumps(row, default=str))
        return
    table = Table(title=f"audit: {len(rows)} row(s), newest first")
    for column in ("at", "actor", "action", "lead", "officer", "model", "rank", "p", "rule", "why"):
        table.add_column(column)
    for row in rows:
        reasons = row["reasons"] or []
        why = (
            (row["decision"] or {}).get("reason")
            if row["rule"] not in (None, "eligible")
            else ("; ".join(r["text"] for r in reasons[:2]))
        )
        table.add_row(
            row["at"][:19],
            row["actor"],
            row["action"],
            row["lead_id"],
            row["officer_id"] or "",
            row["model_version"] or "",
            "" if row["rank"] is None else str(row["rank"]),
            "" if row["probability"] is None else f"{row['probability']:.3f}",
            row["rule"] or "",
            why or "",
        )
    console.print(table)


def create_demo_users(settings: Settings) -> dict[str, str]:
    """One admin, one crm, one manager and one officer user per officer in the event log, each
    with a fresh token (the demo prints them; only hashes are stored, so a rerun issues new
    ones)."""
    from sqlalchemy import select

    from features.event_log import leads_table
    from serving.auth import Role

    store = _user_store(settings)
    with store.engine.connect() as conn:
        officers = sorted(
            str(v) for v in conn.execute(select(leads_table.c.officer_id).distinct()).scalars()
        )
    wanted: list[tuple[str, Role, str | None]] = [
        (DEMO_ADMIN, Role.ADMIN, None),
        (DEMO_CRM, Role.CRM, None),
        (DEMO_MANAGER, Role.MANAGER, None),
    ] + [(f"demo-{officer}", Role.OFFICER, officer) for officer in officers]
    tokens: dict[str, str] = {}
    for name, role, officer in wanted:
        existing = store.get(name)
        if existing is not None and existing.active:
            tokens[name] = store.rotate(name)
        else:
            tokens[name] = store.add(name, role, officer_id=officer)[1]
    return tokens


def planning_instant(settings: Settings, now: datetime | None = None) -> datetime:
    """The next weekday 11:00 in the workday zone, in UTC: inside every mainland US calling
    window, so a demo run at night still has a queue to show."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.workday_time_zone)
    local = (now or datetime.now(UTC)).astimezone(zone)
    day = local.date() if local.hour < 11 else local.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 11, tzinfo=zone).astimezone(UTC)


def demo_service(settings: Settings, *, serve: bool = True) -> dict[str, str]:
    """The end of `leadscore demo`: demo users, their tokens and the URL, then the server."""
    tokens = create_demo_users(settings)
    url = f"http://{settings.host}:{settings.port}"
    console.rule("serve the API")
    console.print("demo tokens (shown once; rerun the demo for new ones):")
    width = max(len(name) for name in tokens)
    for name, token in tokens.items():
        # plain print: a table would wrap a long token in a narrow terminal
        print(f"  {name:<{width}}  {token}")
    crm = tokens[DEMO_CRM]
    console.print(f"API: {url}   docs: {url}/docs   readiness: {url}/readyz")
    console.print(
        f"loan officer's page: {url}/ (sign in with a demo-lo token); the queue holds only "
        f"leads inside their legal calling hours now, so outside US hours open "
        f"{url}/queue?at={planning_instant(settings):%Y-%m-%dT%H:%M:%SZ} to see the next workday"
    )
    console.print(f"team analytics: {url}/team (sign in with the demo-manager or demo-admin token)")
    officer = next((n for n in tokens if n not in (DEMO_ADMIN, DEMO_CRM, DEMO_MANAGER)), None)
    if officer is not None:
        console.print(f"try:  curl -H 'Authorization: Bearer {tokens[officer]}' {url}/v1/queue")
    console.print(
        f"      curl -H 'Authorization: Bearer {crm}' -H 'Content-Type: application/json' "
        f'-d \'{{"lead_ids": ["..."]}}\' {url}/v1/score'
    )
    if serve:
        run_server(settings)
    return tokens


def serve_main(argv: list[str] | None = None) -> None:
    """The optimized server entry (see run_server)."""
    import argparse

    parser = argparse.ArgumentParser(prog="leadscore serve")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    run_server(get_settings(), args.host, args.port, args.workers)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(users_app, name="users")
    app.command()(audit)
