"""What people see of the team report: key figures, tables and matplotlib charts (SVG), and the
markdown file; the /team page and `leadscore report` show the same sections from here.

A rate under MIN_CELL is written as a count ("3 of 7"), never as a percentage, and drawn
hatched and pale; other rates carry their 95% interval ("29% [26–32%]"). Charts are built with
matplotlib's object API on its SVG canvas (no pyplot state), imported only when drawn.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from serving.analytics import (
    CHANNELS,
    DEFINITIONS,
    FOLLOW_UP_TARGET,
    MIN_CELL,
    WEEKDAYS,
    Bucket,
    ContactCell,
    Rate,
    TeamReport,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CHANNEL_LABELS: Final = {"call": "Calls", "text": "Texts", "email": "Emails"}
SOURCE_LABELS: Final = {
    "referral": "Referral",
    "online_lead": "Online lead",
    "past_client": "Past client",
    "realtor_partner": "Realtor partner",
}
COLOURS: Final = {"call": "#1d4ed8", "text": "#15803d", "email": "#b45309"}
BAR: Final = "#1d4ed8"
BAR_MUTED: Final = "#9db4e8"
TARGET: Final = "#b42318"
CHART_OFFICERS: Final = 15
"""Officers drawn in the applications chart at most (those with the most applications)."""
BEST_WINDOWS: Final = ((8, 9), (16, 18))
"""DOMAIN.md's best contact windows in the lead's local time (8-9 AM, 4-6 PM)."""


# -- texts -------------------------------------------------------------------------------------


def percent(value: float) -> str:
    return f"{value * 100:.1f}%" if value < 0.1 else f"{value * 100:.0f}%"


def rate_text(rate: Rate | None) -> str:
    """'29% [26–32%]', or '3 of 7' under MIN_CELL, or '—' with no denominator."""
    if rate is None or rate.of == 0 or rate.value is None:
        return "—"
    if rate.small:
        return f"{rate.count} of {rate.of}"
    low, high = rate.interval or (rate.value, rate.value)
    return f"{percent(rate.value)} [{percent(low).rstrip('%')}–{percent(high)}]"


def count_text(value: int) -> str:
    return f"{value:,}"


def money_text(usd: float) -> str:
    return f"${usd:,.0f}"


def minutes_text(minutes: float | None) -> str:
    if minutes is None or math.isnan(minutes):
        return "—"
    if minutes < 60:
        return f"{minutes:.1f} min"
    if minutes < 48 * 60:
        hours, rest = divmod(round(minutes), 60)
        return f"{hours} h {rest:02d} min"
    return f"{minutes / 1440:.1f} days"


def days_text(days: float | None) -> str:
    return "—" if days is None else f"{days:.1f} days"


def share_text(value: float | None) -> str:
    return "—" if value is None else percent(value)


def window_text(report: TeamReport) -> str:
    """'4 Sep 2026 – 3 Dec 2026 (America/Chicago), all officers'."""
    window = report.window
    first = window.since.astimezone(window.zone)
    last = (window.until - timedelta(microseconds=1)).astimezone(window.zone)
    who = f"officer {window.officer}" if window.officer else "all officers"
    return f"{_day(first)} – {_day(last)} ({window.zone.key}), {who}"


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


# -- sections ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyFigure:
    label: str
    value: str
    note: str


@dataclass(frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    """Per column: right-aligned numbers."""


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    alt: str
    svg: str


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    note: str
    charts: tuple[Chart, ...]
    tables: tuple[Table, ...]


def key_figures(report: TeamReport) -> list[KeyFigure]:
    """The headline numbers, with the brief's case study beside them where it has one."""
    speed, follow = report.speed_to_lead, report.follow_up
    calls = report.contact.by_channel.get("call")
    return [
        KeyFigure(
            "First touch within 5 minutes",
            rate_text(speed.within_5_min),
            f"of {count_text(speed.new_leads)} new leads; median first touch "
            f"{minutes_text(speed.median_minutes)}",
        ),
        KeyFigure(
            "Touches per new lead",
            "—" if follow.mean_per_lead is None else f"{follow.mean_per_lead:.1f}",
            f"5+ touches: {rate_text(follow.five_plus)} (brief: 2.3 and 15% before, "
            "8.7 and 78% after)",
        ),
        KeyFigure(
            "Calls answered",
            rate_text(calls),
            "a person picked up (connected, appointment, not interested, asked to stop)",
        ),
        KeyFigure(
            "Applications",
            count_text(report.counts["applications"]),
            f"new leads who applied: {rate_text(_all_converted(report))}",
        ),
        KeyFigure(
            "Funded loans and revenue",
            f"{count_text(report.counts['funded'])} · {money_text(report.revenue_usd)}",
            f"loan amount × {report.compensation_bps:g} bps per funded loan",
        ),
        KeyFigure(
            "Capacity used on weekdays",
            share_text(report.capacity.weekday_used),
            f"calls and texts against {report.default_capacity} a day per officer (or their own)",
        ),
    ]


def _all_converted(report: TeamReport) -> Rate:
    rows = report.conversion_by_touches
    return Rate(sum(r.applied.count for r in rows), sum(r.applied.of for r in rows))


def sections(report: TeamReport, *, charts: bool = True) -> list[Section]:
    """Every section of the report in reading order (charts drawn only when asked)."""

    def drawn(*items: tuple[str, str, str, Any]) -> tuple[Chart, ...]:
        if not charts:
            return ()
        return tuple(
            Chart(name, title, alt, _svg(draw(report))) for name, title, alt, draw in items
        )

    speed, follow, contact = report.speed_to_lead, report.follow_up, report.contact
    timing = report.to_application
    out = [
        Section(
            "speed",
            "Speed to lead",
            DEFINITIONS["speed_to_lead"],
            drawn(
                (
                    "speed_to_lead",
                    "Time to the first touch, new leads",
                    f"Bar chart of new leads by time to our first touch: "
                    f"{rate_text(speed.within_5_min)} within 5 minutes, median "
                    f"{minutes_text(speed.median_minutes)}, {speed.buckets[-1].count} not "
                    "contacted.",
                    _speed_figure,
                )
            ),
            (
                _bucket_table(
                    "New leads by time to the first touch",
                    "time to first touch",
                    "new leads",
                    [(b.label, b.count) for b in speed.buckets],
                ),
            ),
        ),
        Section(
            "touches",
            "Touches per new lead",
            DEFINITIONS["touches_per_lead"],
            drawn(
                (
                    "touches_per_lead",
                    "Touches per new lead",
                    f"Bar chart of new leads by the number of touches they received: mean "
                    f"{'—' if follow.mean_per_lead is None else f'{follow.mean_per_lead:.1f}'},"
                    f" {rate_text(follow.five_plus)} with 5 or more.",
                    _touches_figure,
                )
            ),
            (
                _bucket_table(
                    "New leads by touches received",
                    "touches",
                    "new leads",
                    [(b.label, b.count) for b in follow.distribution],
                ),
            ),
        ),
        Section(
            "contact",
            "Contact rate",
            DEFINITIONS["contact_rate"]
            + (
                f"; {count_text(contact.unknown_time_zone)} touches of leads without a time "
                "zone are left out of the hour and weekday views"
                if contact.unknown_time_zone
                else ""
            ),
            drawn(
                (
                    "contact_by_hour",
                    "Contact rate by the lead's local hour",
                    "Line chart of the contact rate by the lead's local hour, one line per "
                    "channel; hollow points are cells with fewer than "
                    f"{MIN_CELL} touches. The table below gives every value.",
                    _hour_figure,
                ),
                (
                    "contact_by_weekday",
                    "Contact rate by the lead's local weekday",
                    "Bar chart of the contact rate by weekday and channel; hatched bars are "
                    f"cells with fewer than {MIN_CELL} touches.",
                    _weekday_figure,
                ),
            ),
            (
                Table(
                    "Contact rate by channel",
                    ("channel", "touches", "contacts", "contact rate [95% interval]"),
                    tuple(
                        (CHANNEL_LABELS[ch], count_text(r.of), count_text(r.count), rate_text(r))
                        for ch, r in contact.by_channel.items()
                    ),
                    (False, True, True, True),
                ),
                _cell_table("Contact rate by the lead's local hour", "hour", contact.by_local_hour),
                _cell_table(
                    "Contact rate by the lead's local weekday", "weekday", contact.by_local_weekday
                ),
            ),
        ),
        Section(
            "conversion",
            "Conversion by follow-up intensity",
            DEFINITIONS["conversion_by_touches"],
            drawn(
                (
                    "conversion_by_touches",
                    "New leads who applied, by touches before applying",
                    "Bar chart of the share of new leads who applied, by the touches they "
                    "received before applying, with 95% intervals; hatched bars have fewer "
                    f"than {MIN_CELL} leads.",
                    _conversion_figure,
                )
            ),
            (
                Table(
                    "New leads who applied, by touches before applying",
                    ("touches", "new leads", "applied", "applied share [95% interval]"),
                    tuple(
                        (
                            row.label,
                            count_text(row.applied.of),
                            count_text(row.applied.count),
                            rate_text(row.applied),
                        )
                        for row in report.conversion_by_touches
                    ),
                    (False, True, True, True),
                ),
            ),
        ),
        Section(
            "to_application",
            "Time from first contact to application",
            DEFINITIONS["first_contact_to_application"]
            + f"; median {days_text(timing.median_days)}"
            + (
                ""
                if timing.quartile_days is None
                else f" (half between {timing.quartile_days[0]:.1f} and "
                f"{timing.quartile_days[1]:.1f} days)"
            )
            + f"; {timing.applications - timing.contacted_before} of "
            f"{timing.applications} applications had no touch before them",
            drawn(
                (
                    "first_contact_to_application",
                    "Time from the first touch to the application",
                    f"Bar chart of {timing.contacted_before} applications by the time since the "
                    f"lead's first touch; median {days_text(timing.median_days)}.",
                    _application_figure,
                )
            ),
            (
                _bucket_table(
                    "Applications by time since the first touch",
                    "first touch to application",
                    "applications",
                    [(b.label, b.count) for b in timing.buckets],
                ),
            ),
        ),
        Section(
            "outcomes",
            "Applications and revenue by source and officer",
            f"{DEFINITIONS['applications']}; {DEFINITIONS['funded']}; "
            f"{DEFINITIONS['revenue']} ({report.compensation_bps:g} bps)",
            drawn(
                (
                    "applications",
                    "Applications and funded loans by source and by officer",
                    "Horizontal bar charts of applications and funded loans in the window, by "
                    f"lead source and by officer (at most {CHART_OFFICERS}, those with the most "
                    "applications).",
                    _outcomes_figure,
                )
            ),
            (_source_table(report), _officer_table(report)),
        ),
        Section(
            "capacity",
            "Capacity used per day",
            DEFINITIONS["capacity_used"],
            drawn(
                (
                    "capacity",
                    "Calls and texts per day against capacity",
                    "Chart of our calls and texts per day with the team's daily capacity as a "
                    f"dashed line; weekdays used {share_text(report.capacity.weekday_used)}.",
                    _capacity_figure,
                )
            ),
            (
                Table(
                    "Calls and texts per day",
                    ("day", "calls and texts", "capacity", "used"),
                    tuple(
                        (
                            f"{d.day:%a %Y-%m-%d}",
                            count_text(d.contacts),
                            count_text(d.capacity),
                            share_text(d.used),
                        )
                        for d in report.capacity.days
                    ),
                    (False, True, True, True),
                ),
            ),
        ),
    ]
    return out


def _bucket_table(caption: str, label: str, unit: str, buckets: Sequence[tuple[str, int]]) -> Table:
    total = sum(count for _, count in buckets)
    return Table(
        caption,
        (label, unit, "share"),
        tuple(
            (name, count_text(count), "—" if total == 0 else percent(count / total))
            for name, count in buckets
        ),
        (False, True, True),
    )


def _cell_table(caption: str, key: str, cells: Sequence[ContactCell]) -> Table:
    """One row per hour or weekday, one column per channel."""
    keys = sorted({c.key for c in cells})
    found = {(c.channel, c.key): c.rate for c in cells}
    rows = []
    for k in keys:
        label = f"{k:02d}:00" if key == "hour" else WEEKDAYS[k]
        rows.append((label, *(rate_text(found.get((str(ch), k))) for ch in CHANNELS)))
    return Table(
        caption,
        (key, *(CHANNEL_LABELS[str(ch)].lower() for ch in CHANNELS)),
        tuple(rows),
        (False, True, True, True),
    )


def _source_table(report: TeamReport) -> Table:
    return Table(
        "By lead source",
        ("source", "new leads", "new leads who applied", "applications", "funded", "revenue"),
        tuple(
            (
                SOURCE_LABELS.get(row.key, row.key),
                count_text(row.new_leads),
                rate_text(row.converted),
                count_text(row.applications),
                count_text(row.funded),
                money_text(row.revenue_usd),
            )
            for row in report.by_source
        ),
        (False, True, True, True, True, True),
    )


def _officer_table(report: TeamReport) -> Table:
    return Table(
        "By officer",
        (
            "officer",
            "new leads",
            "within 5 min",
            "touches per lead",
            "5+ touches",
            "calls answered",
            "applications",
            "funded",
            "revenue",
            "capacity used",
        ),
        tuple(
            (
                row.key,
                count_text(row.new_leads),
                rate_text(row.within_5_min),
                "—" if row.touches_per_lead is None else f"{row.touches_per_lead:.1f}",
                rate_text(row.five_plus),
                rate_text(row.call_contact),
                count_text(row.applications),
                count_text(row.funded),
                money_text(row.revenue_usd),
                share_text(row.capacity_used),
            )
            for row in report.by_officer
        ),
        (False, *([True] * 9)),
    )


# -- markdown ----------------------------------------------------------------------------------


def markdown(report: TeamReport, drawn: Sequence[Section]) -> str:
    """The report as markdown: key figures, then each section's note, its charts (as
    `<name>.svg` beside the file) and its tables."""
    lines = [
        "# Team report",
        "",
        f"{window_text(report)}. Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.",
        "",
        f"Counts are leads, touches and applications, never lead-days. A rate under {MIN_CELL} "
        "is written as a count (3 of 7); others carry their 95% interval.",
        "",
        "| figure | value | note |",
        "|---|---:|---|",
    ]
    lines += [f"| {f.label} | {f.value} | {f.note} |" for f in key_figures(report)]
    for section in drawn:
        lines += ["", f"## {section.title}", "", _sentence(section.note), ""]
        lines += [line for c in section.charts for line in (f"![{c.title}]({c.name}.svg)", "")]
        for table in section.tables:
            lines += [f"**{table.caption}**", "", *_markdown_table(table), ""]
    return "\n".join(lines).rstrip() + "\n"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _markdown_table(table: Table) -> list[str]:
    align = ["---:" if numeric else "---" for numeric in table.numeric]
    return [
        "| " + " | ".join(table.headers) + " |",
        "|" + "|".join(align) + "|",
        *("| " + " | ".join(row) + " |" for row in table.rows),
    ]


# -- charts ------------------------------------------------------------------------------------


def _figure(width: float = 6.4, height: float = 3.4, *, bottom: float = 0.2) -> Figure:
    """A figure on the SVG canvas with fixed margins (a layout engine would draw it twice)."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    figure.subplots_adjust(left=0.12, right=0.98, top=0.9, bottom=bottom)
    FigureCanvasSVG(figure)
    return figure


def _svg(figure: Figure) -> str:
    """The figure as a standalone SVG document: text kept as text, no date or random ids, so the
    same report draws the same bytes."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "leadscore"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _style(axes: Axes, *, ylabel: str, xlabel: str = "") -> None:
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_ylabel(ylabel)
    if xlabel:
        axes.set_xlabel(xlabel)
    axes.grid(axis="y", color="#e7ebf0", linewidth=0.8)
    axes.set_axisbelow(True)


def _percent_axis(axes: Axes) -> None:
    from matplotlib.ticker import PercentFormatter

    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def _legend(axes: Axes, loc: Literal["best", "lower right"] = "best") -> None:
    """A legend when something is labelled (an empty window draws nothing to name)."""
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8, frameon=False, loc=loc)


def _bars(axes: Axes, buckets: Sequence[Bucket], colours: Sequence[str]) -> None:
    axes.bar(range(len(buckets)), [b.count for b in buckets], color=list(colours))
    axes.set_xticks(range(len(buckets)), [b.label for b in buckets])


def _speed_figure(report: TeamReport) -> Figure:
    figure = _figure(bottom=0.28)
    axes = figure.subplots()
    buckets = report.speed_to_lead.buckets
    _bars(axes, buckets, [BAR] + [BAR_MUTED] * (len(buckets) - 2) + ["#c4c9d1"])
    axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    _style(axes, ylabel="new leads")
    axes.set_title(f"Within 5 minutes: {rate_text(report.speed_to_lead.within_5_min)}", fontsize=10)
    return figure


def _touches_figure(report: TeamReport) -> Figure:
    figure = _figure()
    axes = figure.subplots()
    buckets = report.follow_up.distribution
    _bars(axes, buckets, [BAR if k >= FOLLOW_UP_TARGET else BAR_MUTED for k in range(len(buckets))])
    axes.axvline(FOLLOW_UP_TARGET - 0.5, color=TARGET, linestyle="--", linewidth=1)
    _style(axes, ylabel="new leads", xlabel="touches received (dark: 5 or more)")
    axes.set_title(f"5 or more touches: {rate_text(report.follow_up.five_plus)}", fontsize=10)
    return figure


def _channel_cells(
    cells: Sequence[ContactCell], channel: str
) -> tuple[list[int], list[float], list[bool]]:
    mine = [c for c in cells if c.channel == channel]
    return [c.key for c in mine], [c.rate.value or 0.0 for c in mine], [c.rate.small for c in mine]


def _hour_figure(report: TeamReport) -> Figure:
    figure = _figure()
    axes = figure.subplots()
    for start, end in BEST_WINDOWS:
        axes.axvspan(start - 0.5, end - 0.5, color="#fff3dc", zorder=0)
    for channel in CHANNELS:
        hours, values, small = _channel_cells(report.contact.by_local_hour, str(channel))
        if not hours:
            continue
        colour = COLOURS[str(channel)]
        sure = [(h, v) for h, v, few in zip(hours, values, small, strict=True) if not few]
        axes.plot(
            [h for h, _ in sure],
            [v for _, v in sure],
            color=colour,
            linewidth=1.2,
            label=CHANNEL_LABELS[str(channel)],
        )
        for few in (False, True):
            picked = [(h, v) for h, v, s in zip(hours, values, small, strict=True) if s is few]
            if picked:
                axes.scatter(
                    [h for h, _ in picked],
                    [v for _, v in picked],
                    s=16,
                    color=colour,
                    facecolors="white" if few else colour,
                    zorder=3,
                )
    axes.set_xlim(-0.5, 23.5)
    axes.set_xticks(range(0, 24, 2))
    _percent_axis(axes)
    _style(
        axes,
        ylabel="contact rate",
        xlabel="the lead's local hour (shaded: 8–9 AM, 4–6 PM; hollow: few touches)",
    )
    _legend(axes)
    return figure


def _weekday_figure(report: TeamReport) -> Figure:
    figure = _figure()
    axes = figure.subplots()
    width = 0.8 / len(CHANNELS)
    for k, channel in enumerate(CHANNELS):
        days, values, small = _channel_cells(report.contact.by_local_weekday, str(channel))
        colour = COLOURS[str(channel)]
        for few in (False, True):
            picked = [(d, v) for d, v, s in zip(days, values, small, strict=True) if s is few]
            if picked:
                axes.bar(
                    [d - 0.4 + width * (k + 0.5) for d, _ in picked],
                    [v for _, v in picked],
                    width=width,
                    color=colour,
                    alpha=0.35 if few else 1.0,
                    hatch="///" if few else None,
                    label=None if few else CHANNEL_LABELS[str(channel)],
                )
    axes.set_xticks(range(7), WEEKDAYS)
    _percent_axis(axes)
    _style(axes, ylabel="contact rate", xlabel="the lead's local weekday (hatched: few touches)")
    _legend(axes)
    return figure


def _conversion_figure(report: TeamReport) -> Figure:
    figure = _figure()
    axes = figure.subplots()
    rows = report.conversion_by_touches
    values = [r.applied.value or 0.0 for r in rows]
    for few in (False, True):
        picked = [k for k, r in enumerate(rows) if r.applied.small is few]
        if picked:
            axes.bar(
                picked,
                [values[k] for k in picked],
                color=BAR_MUTED if few else BAR,
                hatch="///" if few else None,
            )
    sure = [k for k, r in enumerate(rows) if not r.applied.small and r.applied.interval]
    if sure:
        bounds = [rows[k].applied.interval or (0.0, 0.0) for k in sure]
        axes.errorbar(
            sure,
            [values[k] for k in sure],
            yerr=[
                [values[k] - b[0] for k, b in zip(sure, bounds, strict=True)],
                [b[1] - values[k] for k, b in zip(sure, bounds, strict=True)],
            ],
            fmt="none",
            ecolor="#1b2430",
            capsize=3,
            linewidth=1,
        )
    axes.set_xticks(range(len(rows)), [f"{r.label}\nn={r.applied.of}" for r in rows])
    axes.tick_params(axis="x", labelsize=8)
    _percent_axis(axes)
    _style(axes, ylabel="new leads who applied", xlabel="touches before applying (hatched: few)")
    return figure


def _application_figure(report: TeamReport) -> Figure:
    figure = _figure()
    axes = figure.subplots()
    _bars(axes, report.to_application.buckets, [BAR] * len(report.to_application.buckets))
    axes.tick_params(axis="x", labelsize=8)
    _style(axes, ylabel="applications", xlabel="first touch to application")
    return figure


def _outcomes_figure(report: TeamReport) -> Figure:
    """Applications and funded loans by source and by officer (a big team: the officers with the
    most applications; the table lists them all)."""
    figure = _figure(height=3.8, bottom=0.1)
    figure.subplots_adjust(left=0.17, wspace=0.45)
    left, right = figure.subplots(1, 2)
    officers = sorted(report.by_officer, key=lambda r: (-r.applications, -r.funded, r.key))
    shown = sorted(officers[:CHART_OFFICERS], key=lambda r: r.key)
    officer_title = (
        "by officer"
        if len(officers) <= CHART_OFFICERS
        else (f"top {CHART_OFFICERS} of {len(officers)} officers")
    )
    for axes, rows, labels, title in (
        (
            left,
            report.by_source,
            [SOURCE_LABELS.get(r.key, r.key) for r in report.by_source],
            "by source",
        ),
        (right, shown, [r.key for r in shown], officer_title),
    ):
        positions = list(range(len(rows)))
        axes.barh(
            [p - 0.2 for p in positions],
            [r.applications for r in rows],
            height=0.4,
            color=BAR,
            label="applications",
        )
        axes.barh(
            [p + 0.2 for p in positions],
            [r.funded for r in rows],
            height=0.4,
            color="#15803d",
            label="funded",
        )
        axes.set_yticks(positions, labels, fontsize=8)
        axes.invert_yaxis()
        axes.set_title(title, fontsize=10)
        axes.spines[["top", "right"]].set_visible(False)
        axes.grid(axis="x", color="#e7ebf0", linewidth=0.8)
        axes.set_axisbelow(True)
    _legend(left, loc="lower right")
    return figure


def _capacity_figure(report: TeamReport) -> Figure:
    """Daily calls and texts as one filled step path (a bar per day would be hundreds of
    shapes), the team's capacity as a dashed line."""
    figure = _figure()
    axes = figure.subplots()
    days = report.capacity.days
    if days:
        edges = list(range(len(days) + 1))
        axes.stairs(
            [d.contacts for d in days], edges, fill=True, color=BAR, label="calls and texts"
        )
        axes.plot(
            [0, len(days)],
            [days[0].capacity, days[0].capacity],
            color=TARGET,
            linestyle="--",
            linewidth=1,
            label="capacity",
        )
        step = max(1, len(days) // 6)
        ticks = list(range(0, len(days), step))
        axes.set_xticks([t + 0.5 for t in ticks], [f"{days[t].day:%d %b}" for t in ticks])
        _legend(axes)
    axes.tick_params(axis="x", labelsize=8)
    _style(axes, ylabel="calls and texts a day")
    return figure
