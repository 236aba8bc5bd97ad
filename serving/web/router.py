"""The web pages: sign-in, today's queue, a lead, one-click outcomes, the model page and the
team page.

Server-rendered HTML (Jinja2) that works without JavaScript: every action is a POST form
followed by a redirect. static/app.js only enhances (filters without a reload, outcomes saved
with fetch and the changed regions swapped in place). Officers see their own queue and leads
(another officer's lead is a 404 page, like an unknown one); admins see the model page;
admins and managers see the team page.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from serving.analytics import (
    MIN_CELL,
    AnalyticsInputError,
    build_team_report,
    known_officers,
    report_window,
)
from serving.analytics_views import Chart, key_figures, sections, window_text
from serving.auth import Role, User
from serving.config import ServingConfig
from serving.context import ServingContext
from serving.http import request_id_of
from serving.model import ModelUnavailableError
from serving.service import (
    LeadNotFoundError,
    NoFeaturesError,
    OfficerNotFoundError,
    explain_lead,
    lead_detail,
    officer_queue,
)
from serving.web import records
from serving.web.model_page import (
    METRIC_COLUMNS,
    PLOTS,
    ModelRegistryReader,
    RegistryUnavailableError,
)
from serving.web.session import (
    LOGIN_NONCE_COOKIE,
    end_session,
    new_login_nonce,
    same_secret,
    session_user,
    set_login_nonce,
    start_session,
)
from serving.web.views import (
    FILTER_KEYS,
    LANE_TITLES,
    LANES,
    OUTCOME_LABELS,
    OUTCOMES,
    TEXT_SENT,
    day_and_clock,
    filter_selects,
    held_rows,
    lanes_of,
    matches,
    percent,
    queue_rows,
    timeline,
    waterfall,
)

HERE: Final = Path(__file__).resolve().parent
STATIC_DIR: Final = HERE / "static"
TEMPLATE_DIR: Final = HERE / "templates"
LEAD_ID_MAX: Final = 64
PREVIEW_AFTER_S: Final = 1800
"""A queue built this far from now is labelled a planning view."""

SECURITY_HEADERS: Final = {
    # No inline script or style anywhere: bars are SVG attributes, behaviour is /static/app.js.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # URLs carry lead ids: never send them to another site.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Pages hold names and phone numbers: no shared or disk caches.
    "Cache-Control": "no-store",
}
TEAM_HEADERS: Final = {
    **SECURITY_HEADERS,
    # The team page embeds its server-drawn charts as data: images (still no script or style).
    "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"].replace(
        "img-src 'self'", "img-src 'self' data:"
    ),
}
TEAM_ROLES: Final = (Role.ADMIN, Role.MANAGER)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class WebState:
    """What the pages share, built once by install_web."""

    templates: jinja2.Environment
    registry: ModelRegistryReader
    asset_version: str
    workday_zone: ZoneInfo


def install_web(app: FastAPI, config: ServingConfig) -> None:
    """Mount the pages and their static files on the serving app."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    digest = hashlib.sha256()
    for name in ("app.css", "app.js"):
        digest.update((STATIC_DIR / name).read_bytes())
    app.state.web = WebState(
        templates=environment,
        registry=ModelRegistryReader(config.tracking_uri, config.model_name),
        asset_version=digest.hexdigest()[:10],
        workday_zone=ZoneInfo(config.workday_time_zone),
    )
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="web-static")


# -- plumbing ----------------------------------------------------------------------------------


def _web(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def _ctx(request: Request) -> ServingContext:
    context: ServingContext = request.app.state.ctx
    return context


def _page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    session: tuple[User, str] | None = None,
    headers: Mapping[str, str] = SECURITY_HEADERS,
    **context: Any,
) -> HTMLResponse:
    web = _web(request)
    user, csrf = session if session is not None else (None, "")
    html = web.templates.get_template(template).render(
        user=user,
        csrf=csrf,
        asset_version=web.asset_version,
        nav=context.pop("nav", ""),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=dict(headers))


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def _error(
    request: Request,
    status: int,
    title: str,
    message: str,
    *,
    session: tuple[User, str] | None = None,
    link: tuple[str, str] | None = None,
) -> HTMLResponse:
    return _page(
        request,
        "error.html",
        status=status,
        session=session,
        title=title,
        message=message,
        link=link or _home_link(session),
    )


def _home_link(session: tuple[User, str] | None) -> tuple[str, str]:
    if session is None:
        return ("/login", "Sign in")
    if session[0].role is Role.ADMIN:
        return ("/model", "Go to the model page")
    if session[0].role is Role.OFFICER:
        return ("/queue", "Back to today's calls")
    if session[0].role is Role.MANAGER:
        return ("/team", "Go to the team page")
    return ("/login", "Sign in as another user")


def _officer_session(request: Request, ctx: ServingContext) -> tuple[User, str] | Response:
    """The signed-in officer's session, or the page to answer instead (sign in, wrong role)."""
    session = session_user(request, ctx)
    if session is None:
        return _redirect("/login")
    if session[0].role is not Role.OFFICER:
        return _role_error(request, session, "loan officers")
    return session


def _role_error(request: Request, session: tuple[User, str], needed: str) -> HTMLResponse:
    return _error(
        request,
        403,
        "Not for this role",
        f"This page is for {needed}. You are signed in as '{session[0].name}' ({session[0].role}).",
        session=session,
    )


def _parse_at(text: str) -> datetime | None:
    """The queue's build instant from ?at= (ISO 8601 with an offset), or None (now)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None
    return moment.astimezone(UTC)


def _at_text(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _query(**params: str) -> str:
    kept = {k: v for k, v in params.items() if v}
    return f"?{urlencode(kept)}" if kept else ""


def _clean_view(text: str) -> dict[str, str]:
    """The queue's filters carried through an outcome form: known keys, short values only."""
    allowed = {"lane", *FILTER_KEYS.values()}
    return {
        k: v
        for k, v in parse_qsl(text[:500])
        if k in allowed and len(v) <= 40 and v.replace("_", "").isalnum()
    }


def _valid_lead_id(lead_id: str) -> bool:
    return 0 < len(lead_id) <= LEAD_ID_MAX and all(c.isalnum() or c in "_.:-" for c in lead_id)


# -- sign-in -----------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """Officers go to their queue, admins to the model page, managers to the team page, everyone
    else to sign-in."""
    session = session_user(request, _ctx(request))
    if session is None:
        return _redirect("/login")
    if session[0].role is Role.OFFICER:
        return _redirect("/queue")
    if session[0].role is Role.ADMIN:
        return _redirect("/model")
    if session[0].role is Role.MANAGER:
        return _redirect("/team")
    return _role_error(
        request,
        session,
        "loan officers (the queue), admins (the model page) and managers (the team page)",
    )


def _login_page(
    request: Request, *, status: int = 200, error: str = "", notice: str = ""
) -> HTMLResponse:
    nonce = new_login_nonce()
    response = _page(
        request,
        "login.html",
        status=status,
        title="Sign in",
        nonce=nonce,
        error=error,
        notice=notice,
    )
    set_login_nonce(request, response, nonce)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, signed_out: str = "") -> Response:
    if session_user(request, _ctx(request)) is not None:
        return _redirect("/")
    return _login_page(request, notice="You are signed out." if signed_out else "")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    token: Annotated[str, Form(max_length=300)] = "",
    nonce: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Exchange the token for the session cookie; the token itself never enters a URL."""
    if not same_secret(request.cookies.get(LOGIN_NONCE_COOKIE), nonce):
        return _login_page(
            request, status=400, error="The sign-in form expired. Paste your token again."
        )
    user = _ctx(request).users.authenticate(token.strip())
    if user is None:
        return _login_page(
            request,
            status=401,
            error="That token is not valid or has been revoked. Ask your administrator for "
            "a new one (leadscore users add).",
        )
    request.state.user = user
    response = _redirect("/")
    start_session(request, response, token.strip())
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    session = session_user(request, _ctx(request))
    if session is not None and not same_secret(csrf, session[1]):
        return _error(
            request,
            403,
            "Sign-out was not confirmed",
            "The form was not sent from this page. Use the Sign out button.",
            session=session,
        )
    response = _redirect("/login?signed_out=1")
    end_session(request, response)
    return response


# -- today's queue -----------------------------------------------------------------------------


def _flash(logged: str, lead: str, payload: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """What the officer just logged and where the lead stands now."""
    if logged not in OUTCOME_LABELS or not lead:
        return ""
    name = names.get(lead, lead)
    if logged == "asked_to_stop":
        return (
            f"Logged “Asked to stop” for {name}: opted out of calls and texts, "
            "and removed from your queue."
        )
    where = next((i for i in payload["items"] if i["lead_id"] == lead), None)
    if where is not None:
        lane = LANE_TITLES.get(str(where["lane"]), str(where["lane"]))
        return f"Logged “{OUTCOME_LABELS[logged]}” for {name}. Now #{where['rank']} ({lane})."
    held = next((h for h in payload["held_back"] if h["lead_id"] == lead), None)
    if held is not None:
        return f"Logged “{OUTCOME_LABELS[logged]}” for {name}. Held back now: {held['reason']}."
    return f"Logged “{OUTCOME_LABELS[logged]}” for {name}. Not in today's queue any more."


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    lane: str = "",
    at: str = "",
    logged: str = "",
    lead: str = "",
) -> Response:
    """Today's calls: lanes, scores, reasons, when and how to call, held-back leads."""
    ctx = _ctx(request)
    session = _officer_session(request, ctx)
    if isinstance(session, Response):
        return session
    user = session[0]
    params = request.query_params
    chosen = {key: params.get(key, "") for key in FILTER_KEYS.values()}
    lane = lane if lane in LANES else ""
    moment = _parse_at(at)
    at_error = bool(at) and moment is None
    web = _web(request)
    try:
        payload = officer_queue(
            ctx, user, None, request_id=request_id_of(request) or "web", at=moment
        )
    except OfficerNotFoundError:
        return _page(
            request,
            "queue_empty.html",
            session=session,
            title="Today's calls",
            nav="queue",
            officer_id=user.officer_id,
        )
    except ModelUnavailableError as exc:
        return _error(request, 503, "No model is loaded", str(exc), session=session)
    now = datetime.now(UTC)
    ids = [i["lead_id"] for i in payload["items"]] + [h["lead_id"] for h in payload["held_back"]]
    people = records.people(ctx, ids)
    contacts = records.last_contacts(ctx, [i["lead_id"] for i in payload["items"]])
    rows = queue_rows(payload, people, contacts, now=now)
    visible = {row.lead_id for row in rows if matches(row, lane, chosen)}
    built_at = datetime.fromisoformat(str(payload["at"])).astimezone(web.workday_zone)
    preview = abs((built_at - now).total_seconds()) > PREVIEW_AFTER_S
    capacity = int(payload["capacity"])
    made = int(payload["calls_made_today"])
    at_param = _at_text(moment)
    view = urlencode({k: v for k, v in {"lane": lane, **chosen}.items() if v})
    return _page(
        request,
        "queue.html",
        session=session,
        title="Today's calls",
        nav="queue",
        payload=payload,
        lanes=lanes_of(rows),
        lane_filter=lane,
        visible=visible,
        n_rows=len(rows),
        held=held_rows(payload, people, workday_zone=web.workday_zone),
        selects=filter_selects(rows, chosen, lane),
        at_param=at_param,
        at_query=_query(at=at_param),
        at_error=at_error,
        view=view,
        preview=preview,
        built_label=day_and_clock(built_at) + f" {built_at.tzname() or ''}",
        day_label=f"{built_at:%A} {built_at.day} {built_at:%B}",
        capacity=capacity,
        calls_made=made,
        used_pct=0 if capacity <= 0 else min(100, round(made / capacity * 100)),
        flash=_flash(logged, lead, payload, {k: p.name for k, p in people.items()}),
        updated=lead if logged else "",
        new_event_id=records.new_event_id,
    )


# -- one lead ----------------------------------------------------------------------------------


def _not_found(request: Request, session: tuple[User, str]) -> HTMLResponse:
    return _error(
        request,
        404,
        "Lead not found",
        "There is no lead with this id among your leads. It may belong to another officer.",
        session=session,
    )


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
def lead_page(request: Request, lead_id: str, at: str = "", logged: str = "") -> Response:
    """One lead: score and its waterfall, consent per channel, loan details, the timeline."""
    ctx = _ctx(request)
    session = _officer_session(request, ctx)
    if isinstance(session, Response):
        return session
    user = session[0]
    if not _valid_lead_id(lead_id):
        return _not_found(request, session)
    request_id = request_id_of(request) or "web"
    try:
        detail = lead_detail(ctx, user, lead_id, request_id=request_id)
    except LeadNotFoundError:
        return _not_found(request, session)
    explanation = None
    try:
        explanation = explain_lead(ctx, user, lead_id, request_id=request_id)
    except (NoFeaturesError, ModelUnavailableError):
        explanation = None
    web = _web(request)
    lead = detail["lead"]
    person_zone = None
    if lead.get("time_zone"):
        try:
            person_zone = ZoneInfo(str(lead["time_zone"]))
        except (KeyError, ValueError):
            person_zone = None
    now = datetime.now(UTC)
    local_now = now.astimezone(person_zone) if person_zone is not None else None
    compliance = detail["compliance"]
    channels = []
    for channel in ("call", "text", "email"):
        state = compliance["now"].get(channel, {})
        channels.append(
            {
                "name": channel,
                "consent": compliance["consent"][channel],
                "opted_out": compliance["opted_out"][channel],
                "eligible": bool(state.get("eligible")),
                "reason": str(state.get("reason") or ""),
            }
        )
    can_call = compliance["consent"]["call"] and not compliance["opted_out"]["call"]
    can_text = compliance["consent"]["text"] and not compliance["opted_out"]["text"]
    outcomes: list[tuple[str, str]] = []
    if can_call:
        outcomes = [(k, v) for k, v in OUTCOMES.items() if k != "asked_to_stop"]
    if can_text:
        outcomes.append((TEXT_SENT, OUTCOME_LABELS[TEXT_SENT]))
    if can_call or can_text:
        outcomes.append(("asked_to_stop", OUTCOMES["asked_to_stop"]))
    name = f"{lead['first_name']} {lead['last_name']}".strip()
    at_param = _at_text(_parse_at(at))
    flash = ""
    if logged in OUTCOME_LABELS:
        flash = f"Logged “{OUTCOME_LABELS[logged]}” for {name}."
        if logged == "asked_to_stop":
            flash += " Opted out of calls and texts."
    score = detail["score"]
    return _page(
        request,
        "lead.html",
        session=session,
        title=name,
        nav="queue",
        lead=lead,
        name=name,
        score=score,
        score_pct=percent(score["probability"]) if score else None,
        score_unavailable=detail["score_unavailable"],
        explanation=explanation,
        waterfall=waterfall(explanation) if explanation else None,
        channels=channels,
        dnc=compliance["dnc"],
        applied=compliance["applied"],
        events=timeline(records.lead_events(ctx, lead_id), web.workday_zone),
        workday_zone=web.workday_zone.key,
        local_now=(day_and_clock(local_now) + f" {local_now.tzname() or ''}")
        if local_now is not None
        else "unknown (no time zone: not callable)",
        created=day_and_clock(
            datetime.fromisoformat(str(lead["created_at"])).astimezone(web.workday_zone)
        ),
        outcomes=outcomes,
        at_param=at_param,
        at_query=_query(at=at_param),
        flash=flash,
        new_event_id=records.new_event_id,
    )


@router.post("/leads/{lead_id}/outcomes")
def post_outcome(
    request: Request,
    lead_id: str,
    outcome: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    event_id: Annotated[str, Form(max_length=100)] = "",
    back: Annotated[str, Form(max_length=10)] = "queue",
    at: Annotated[str, Form(max_length=40)] = "",
    view: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Record one click (a call outcome, a text sent, an opt-out) and go back to the page."""
    ctx = _ctx(request)
    session = _officer_session(request, ctx)
    if isinstance(session, Response):
        return session
    user = session[0]
    if not same_secret(csrf, session[1]):
        return _error(
            request,
            403,
            "Outcome not saved",
            "The form was not sent from your page (its security token is missing or wrong). "
            "Reload the page and click the outcome again.",
            session=session,
        )
    if not _valid_lead_id(lead_id):
        return _not_found(request, session)
    try:
        recorded = records.record_outcome(
            ctx, user, lead_id, outcome, event_id or records.new_event_id()
        )
    except LeadNotFoundError:
        return _not_found(request, session)
    except records.OutcomeError as exc:
        return _error(request, 422, "Outcome not saved", str(exc), session=session)
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        for item in recorded.items:
            metrics.ingested.labels("events", item.status).inc()
    at_param = _at_text(_parse_at(at))
    if back == "lead" and outcome != "asked_to_stop":
        return _redirect(f"/leads/{lead_id}" + _query(at=at_param, logged=outcome))
    params = {**_clean_view(view), "at": at_param, "logged": outcome, "lead": lead_id}
    return _redirect("/queue" + _query(**params))


# -- the model page ----------------------------------------------------------------------------


@router.get("/model", response_class=HTMLResponse)
def model_page(request: Request) -> Response:
    """Champion and challenger against baselines, their charts, the fairness audit."""
    ctx = _ctx(request)
    session = session_user(request, ctx)
    if session is None:
        return _redirect("/login")
    if session[0].role is not Role.ADMIN:
        return _role_error(request, session, "admins")
    try:
        registry = _web(request).registry.read()
    except RegistryUnavailableError as exc:
        return _error(request, 503, "The model registry cannot be read", str(exc), session=session)
    current = ctx.model.current
    zone = _web(request).workday_zone

    def when(moment: datetime | None) -> str:
        if moment is None:
            return "unknown"
        local = moment.astimezone(zone)
        return f"{local:%Y-%m-%d} {local:%H:%M} {local.tzname() or ''}".strip()

    return _page(
        request,
        "model.html",
        session=session,
        title="Model",
        nav="model",
        registry=registry,
        champion=registry.by_alias.get("champion"),
        challenger=registry.by_alias.get("challenger"),
        previous=registry.by_alias.get("previous-champion"),
        serving=None if current is None else current.version,
        serving_loaded=None if current is None else when(current.loaded_at),
        serving_error=ctx.model.last_error,
        last_trained=when(registry.last_trained_at),
        when=when,
        metric_columns=METRIC_COLUMNS,
    )


@router.get("/model/versions/{version}/plots/{name}.png")
def model_plot(request: Request, version: str, name: str) -> Response:
    """A training run's chart (admins only; served from the run's MLflow artifacts)."""
    ctx = _ctx(request)
    session = session_user(request, ctx)
    if session is None or session[0].role is not Role.ADMIN:
        return Response(status_code=404 if session else 401, headers={"Cache-Control": "no-store"})
    data = _web(request).registry.plot(version, name) if name in PLOTS else None
    if data is None:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    return Response(
        data,
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


# -- the team page -----------------------------------------------------------------------------


def _chart_uri(chart: Chart) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(chart.svg.encode("utf-8")).decode()


@router.get("/team", response_class=HTMLResponse)
def team_page(request: Request, since: str = "", until: str = "", officer: str = "") -> Response:
    """The team's analytics for a period and all officers or one: key figures, charts drawn on
    the server (embedded, so the page needs no script) and the tables behind them."""
    ctx = _ctx(request)
    session = session_user(request, ctx)
    if session is None:
        return _redirect("/login")
    if session[0].role not in TEAM_ROLES:
        return _role_error(request, session, "admins and managers")
    zone = _web(request).workday_zone
    page: dict[str, Any] = {
        "officers": known_officers(ctx.event_log),
        "officer": officer[:64],
        "since_value": since[:40],
        "until_value": until[:40],
        "min_cell": MIN_CELL,
        "chart_uri": _chart_uri,
        "figures": [],
        "sections": [],
        "error": "",
        "error_field": "",
        "window_label": "",
    }
    try:
        window = report_window(
            since[:40] or None, until[:40] or None, officer[:64] or None, zone=zone
        )
        report = build_team_report(
            ctx.event_log,
            window,
            default_capacity=ctx.config.officer_capacity,
            compensation_bps=ctx.config.compensation_bps,
        )
    except AnalyticsInputError as exc:
        page.update(
            error=f"{exc}. Change the period or officer and press Show.", error_field=exc.field
        )
        return _page(
            request,
            "team.html",
            status=422,
            session=session,
            title="Team",
            nav="team",
            headers=TEAM_HEADERS,
            **page,
        )
    last_day = window.until - timedelta(microseconds=1)
    page.update(
        since_value=f"{window.since.astimezone(zone):%Y-%m-%d}",
        until_value=f"{last_day.astimezone(zone):%Y-%m-%d}",
        officer=window.officer or "",
        window_label=window_text(report),
        figures=key_figures(report),
        sections=sections(report),
    )
    return _page(
        request,
        "team.html",
        session=session,
        title="Team",
        nav="team",
        headers=TEAM_HEADERS,
        **page,
    )
