"""Fair-lending audit: protected attributes and their proxies, and adverse impact at the top of
the queue.

The one list of protected attributes and proxies lives here, each with the law it comes from.
A model may take none of them as input; on data that carries a protected attribute (the
simulator's protected_group, or a column set aside by the CSV importer) the audit measures how
often each group reaches an officer-day's top K and applies the four-fifths rule to those rates.
Not legal advice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

ECOA: Final = "ECOA / Regulation B (15 U.S.C. 1691; 12 CFR 1002.4, 1002.6)"
FHA: Final = "Fair Housing Act (42 U.S.C. 3604, 3605)"


@dataclass(frozen=True)
class ProtectedAttribute:
    """A characteristic the model must not use, the law behind it and the column names it takes."""

    name: str
    law: str
    column_names: tuple[str, ...]
    proxy: bool = False


PROTECTED_ATTRIBUTES: Final[tuple[ProtectedAttribute, ...]] = (
    ProtectedAttribute("race", f"{ECOA}; {FHA}", ("race", "ethnicity", "ethnic_group")),
    ProtectedAttribute("color", f"{ECOA}; {FHA}", ("color", "colour", "skin_color")),
    ProtectedAttribute("religion", f"{ECOA}; {FHA}", ("religion", "faith")),
    ProtectedAttribute(
        "national origin",
        f"{ECOA}; {FHA}",
        ("national_origin", "nationality", "country_of_birth", "birth_country", "citizenship"),
    ),
    ProtectedAttribute("sex", f"{ECOA}; {FHA}", ("sex", "gender")),
    ProtectedAttribute(
        "marital status", ECOA, ("marital", "marital_status", "married", "civil_status")
    ),
    ProtectedAttribute(
        "age", ECOA, ("age", "age_years", "date_of_birth", "dob", "birth_date", "birth_year")
    ),
    ProtectedAttribute(
        "receipt of public assistance",
        ECOA,
        ("public_assistance", "welfare", "snap_benefits", "income_source_public_assistance"),
    ),
    ProtectedAttribute(
        "familial status", FHA, ("familial_status", "children", "number_of_children", "pregnant")
    ),
    ProtectedAttribute("disability", FHA, ("disability", "handicap", "disabled")),
    ProtectedAttribute("synthetic protected group", "simulator audit column", ("protected_group",)),
    ProtectedAttribute(
        "ZIP code (proxy for race and national origin; redlining)",
        FHA,
        ("zip", "zip_code", "zipcode", "postal_code", "postcode", "census_tract"),
        proxy=True,
    ),
    ProtectedAttribute(
        "language (proxy for national origin)",
        ECOA,
        ("language", "preferred_language", "primary_language", "spoken_language"),
        proxy=True,
    ),
    ProtectedAttribute(
        "name (proxy for race, sex and national origin)",
        ECOA,
        ("first_name", "last_name", "surname", "given_name", "full_name", "name"),
        proxy=True,
    ),
)
"""ECOA/Reg B: race, color, religion, national origin, sex, marital status, age, public
assistance; FHA adds familial status and disability and reaches outreach targeting. Proxies are
columns that stand in for those (DOMAIN.md, Fair lending)."""

PERSON_PREFIXES: Final = ("applicant", "borrower", "co_borrower", "client", "customer", "lead")
"""'borrower_age' is age too; a plain token match would also flag 'lead_age_days'."""

FOUR_FIFTHS: Final = 0.8
"""Adverse impact: the lowest group's top-of-queue rate below 4/5 of the highest group's."""

MIN_GROUP_ROWS: Final = 50
"""Groups with fewer rows in the audited slice are reported but not judged: their rate is noise."""


def normalize_column(name: str) -> str:
    """'Marital Status' -> 'marital_status'."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def protected_matches(columns: Iterable[str]) -> dict[str, ProtectedAttribute]:
    """Columns whose name is a protected attribute or a proxy, with the attribute they match."""
    lookup = {n: attr for attr in PROTECTED_ATTRIBUTES for n in attr.column_names}
    found: dict[str, ProtectedAttribute] = {}
    for column in columns:
        key = normalize_column(column)
        for prefix in PERSON_PREFIXES:
            if key.startswith(prefix + "_") and key[len(prefix) + 1 :] in lookup:
                key = key[len(prefix) + 1 :]
                break
        if key in lookup:
            found[column] = lookup[key]
    return found


def feature_violations(feature_names: Iterable[str]) -> list[str]:
    """Sentences naming each feature that is a protected attribute or proxy (empty: clean)."""
    return [
        f"feature '{column}' is {'a proxy: ' if attr.proxy else ''}{attr.name} ({attr.law})"
        for column, attr in protected_matches(feature_names).items()
    ]


@dataclass(frozen=True)
class AdverseImpact:
    """Top-of-queue rates by group of one attribute, and the four-fifths verdict."""

    attribute: str
    rates: Mapping[str, float]
    rows: Mapping[str, int]
    ratio: float
    passed: bool
    too_small: tuple[str, ...] = ()

    def summary(self) -> str:
        rates = ", ".join(f"{g}: {r:.1%} of {self.rows[g]}" for g, r in self.rates.items())
        verdict = "passes" if self.passed else "FAILS"
        small = f" (not judged, under {MIN_GROUP_ROWS} rows: {list(self.too_small)})"
        return (
            f"{self.attribute}: top-K rate {rates}; ratio {self.ratio:.2f} {verdict} the "
            f"four-fifths rule{small if self.too_small else ''}"
        )


def adverse_impact(
    attribute: str, groups: Sequence[object] | np.ndarray | pd.Series, in_top_k: np.ndarray
) -> AdverseImpact:
    """Rate at which each group's rows are in the top K, and min/max rate against 4/5."""
    frame = pd.DataFrame(
        {
            "group": pd.Series(groups).astype("string").fillna("missing").to_numpy(),
            "top": np.asarray(in_top_k, dtype=bool),
        }
    )
    summary = frame.groupby("group", sort=True)["top"].agg(["mean", "size"])
    judged = summary[summary["size"] >= MIN_GROUP_ROWS]
    too_small = tuple(str(g) for g in summary.index[summary["size"] < MIN_GROUP_ROWS])
    if len(judged) < 2 or judged["mean"].max() == 0:
        ratio = 1.0
    else:
        ratio = float(judged["mean"].min() / judged["mean"].max())
    return AdverseImpact(
        attribute=attribute,
        rates={str(g): float(r) for g, r in summary["mean"].items()},
        rows={str(g): int(n) for g, n in summary["size"].items()},
        ratio=ratio,
        passed=ratio >= FOUR_FIFTHS,
        too_small=too_small,
    )


@dataclass(frozen=True)
class FairnessAudit:
    """The two checks: no protected input, and no adverse impact at the top of the queue."""

    violations: tuple[str, ...]
    impacts: tuple[AdverseImpact, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.violations and all(i.passed for i in self.impacts)

    @property
    def min_ratio(self) -> float:
        return min((i.ratio for i in self.impacts), default=float("nan"))

    def summary(self) -> str:
        lines = list(self.violations) or ["no protected attribute or proxy among the features"]
        lines += [i.summary() for i in self.impacts] or [
            "no protected attribute in the data to audit top-of-queue rates"
        ]
        return "\n".join(lines)


def audit(
    feature_names: Iterable[str], audit_groups: Mapping[str, np.ndarray], in_top_k: np.ndarray
) -> FairnessAudit:
    """Check the features, then each audit attribute's top-K rates (rows aligned with in_top_k)."""
    return FairnessAudit(
        violations=tuple(feature_violations(feature_names)),
        impacts=tuple(adverse_impact(a, g, in_top_k) for a, g in audit_groups.items()),
    )
