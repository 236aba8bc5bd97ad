"""Synthetic CRM lead exports with the mess of real ones, for the CSV importer's tests and bench.

A real export has headers written for people ("Total Time Spent on Website", "Lead Source"),
placeholders ("Select"), yes/no columns, free text, ids, dates in the CRM's format and a
converted/lost outcome. ``crm_export`` draws one with a known signal (visits, time on site,
source, a yes/no flag); ``write_export`` writes it the way CRMs do: any delimiter, encoding and
quoting. No real person is in it: names, emails and phones are made up from counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

TARGET: Final = "Converted"
ID_COLUMN: Final = "Prospect ID"
TARGET_STYLES: Final[Mapping[str, tuple[str, str]]] = {
    "yes/no": ("Yes", "No"),
    "1/0": ("1", "0"),
    "true/false": ("True", "False"),
    "converted/lost": ("Converted", "Lost"),
}
"""How CRMs spell the outcome: (converted, not converted)."""

SOURCES: Final = ("Google", "Direct Traffic", "Olark Chat", "Organic Search", "Reference", "Select")
ACTIVITIES: Final = ("Email Opened", "SMS Sent", "Page Visited on Website", "Converted to Lead")
CITIES: Final = ("Mumbai", "Thane & Outskirts", "Other Cities", "São Paulo", "Select")


def crm_export(
    rows: int = 2_000,
    *,
    seed: int = 0,
    target_style: str = "yes/no",
    wide: bool = True,
    thousands: bool = False,
) -> pd.DataFrame:
    """A lead export as text cells, one row per lead; the outcome is ``TARGET``.

    ``wide`` adds the columns that break importers: a 300-character header, an empty one,
    quotes, unicode, a leading digit, headers that collide once normalized, a 95%-missing
    column, a mixed-type column, percent strings and three date formats.
    """
    rng = np.random.default_rng(seed)
    visits = rng.poisson(3, rows)
    seconds = np.round(rng.gamma(2.0, 300.0, rows) * (1 + 0.3 * visits))
    source = rng.choice(SOURCES, rows, p=[0.3, 0.25, 0.15, 0.1, 0.1, 0.1])
    email_ok = rng.choice(["No", "Yes"], rows, p=[0.9, 0.1])
    logit = (
        -2.0
        + 0.2 * np.minimum(visits, 8)
        + 0.0012 * np.minimum(seconds, 2000)
        + np.where(source == "Reference", 1.5, 0.0)
        - np.where(email_ok == "Yes", 1.0, 0.0)
    )
    converted = rng.random(rows) < 1 / (1 + np.exp(-logit))
    yes, no = TARGET_STYLES[target_style]
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        np.sort(rng.uniform(0, 365, rows)), unit="D"
    )
    number = np.arange(rows)
    time_on_site = (
        [f"{int(s):,}" for s in seconds] if thousands else seconds.astype(int).astype(str)
    )
    frame = pd.DataFrame(
        {
            ID_COLUMN: [f"7927b2df-{i:08x}" for i in number],
            "Lead Number": (660_000 + number).astype(str),
            "Lead Origin": rng.choice(["API", "Landing Page Submission", "Lead Add Form"], rows),
            "Lead Source": source,
            "Do Not Email": email_ok,
            TARGET: np.where(converted, yes, no),
            "TotalVisits": visits.astype(str),
            "Total Time Spent on Website": time_on_site,
            "Page Views Per Visit": np.round(rng.gamma(2, 1.2, rows), 2).astype(str),
            "Last Activity": rng.choice(ACTIVITIES, rows),
            "City": rng.choice(CITIES, rows),
            "Lead Created On": created.strftime("%Y-%m-%d %H:%M"),
            "Notes": [f"spoke about the {w} on call {i}" for i, w in enumerate(_words(rng, rows))],
            "Lead Owner Email": [f"owner{i % 17}@example.com" for i in number],
        }
    )
    if wide:
        messy = pd.DataFrame(
            {
                'Lead "Quality"': rng.choice(["High in Relevance", "Might be", "Not Sure"], rows),
                "Lead Score (%)": [f"{p}%" for p in rng.integers(0, 101, rows)],
                "Ciudad de residencia / Città": rng.choice(["Norte", "Sur", "Città"], rows),
                "1st Contact Channel": rng.choice(["phone", "email", "chat"], rows),
                "How did you hear about us? " + "x" * 280: rng.choice(["Ad", "Friend"], rows),
                "": rng.choice(["a", "b"], rows),
                "lead source": rng.choice(["web", "phone"], rows),
                "Lead-Source": rng.choice(["x", "y", "z"], rows),
                "label": rng.integers(0, 5, rows).astype(str),
                "Asymmetrique Profile Score": np.where(
                    rng.random(rows) < 0.95, "", rng.integers(10, 20, rows).astype(str)
                ),
                "Mixed Value": np.where(
                    rng.random(rows) < 0.5, rng.integers(0, 9, rows).astype(str), "n/a-ish"
                ),
                "Last Contacted": _mixed_dates(rng, created),
            }
        )
        frame = pd.concat([frame, messy], axis=1)
    return frame


def _words(rng: np.random.Generator, rows: int) -> np.ndarray:
    return rng.choice(["rate", "down payment", "documents", "timeline", "credit report"], rows)


def _mixed_dates(rng: np.random.Generator, created: pd.DatetimeIndex) -> list[str]:
    """The same column in three formats, as when a CRM changed its locale mid-year."""
    formats = ("%Y-%m-%d", "%d/%m/%Y %H:%M", "%b %d, %Y")
    picks = rng.integers(0, len(formats), len(created))
    return [t.strftime(formats[k]) for t, k in zip(created, picks, strict=True)]


def write_export(
    frame: pd.DataFrame,
    path: Path,
    *,
    sep: str = ",",
    encoding: str = "utf-8",
    quoted_newlines: bool = False,
) -> Path:
    """Write an export as a CRM would (``utf-8-sig`` writes a byte-order mark)."""
    out = frame
    if quoted_newlines:
        out = frame.assign(Notes=frame["Notes"].str.replace(" on call ", "\non call ", n=1))
    out.to_csv(path, sep=sep, index=False, encoding=encoding, errors="replace")
    return path
