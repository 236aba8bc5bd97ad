"""Bring your own data: train and score from a flat CRM export of any shape.

Reading (``read_export``): the delimiter and encoding are detected; every cell stays text.
Headers stay as written for people; the model sees internal names (``internal_names``).
Anything the importer cannot use raises CsvImportError with one sentence saying what to do.

Column roles are inferred from the values (``infer_recipe``, on at most INFER_SAMPLE_ROWS):

- placeholders that mean missing ("", "Select", "unknown", "N/A", ... see PLACEHOLDERS) become
  missing before anything else;
- yes/no columns become flags (1/0), columns that are >= 95% numbers become numeric, other text
  columns with few distinct values become categories (values seen at least MIN_CATEGORY_ROWS
  times; rarer ones count as missing);
- a numeric sentinel (999, 9999, 99999, -1, -999) that is far outside the column's other values
  and on at least 1% of rows means "never"/missing (e.g. pdays = 999), and becomes missing;
- dropped, and said so: free text, id-like columns, constant columns, dates (unless --time);
- protected attributes and proxies (training.fairness) are never features unless
  --allow-protected; they are kept aside for the adverse-impact audit instead. A model that
  takes one as input fails the fairness gate, so it can only become champion by hand.

Leak check: a column whose single-column ROC-AUC on the training slice is above LEAK_AUC, or
far above every other column (DOMINANT_AUC and DOMINANT_MARGIN), or whose name says it is only
known after the outcome (call duration), is warned about loudly; --drop removes it.

Split: with --time, rows (or ids, with --id) in time order, 60/20/20; without, a seeded
stratified 60/20/20 split. Capture at capacity uses one global ranking (no officers or days in
an export): the top CAPACITY_SHARE of test rows.

The recipe (roles, categories, sentinels) is saved with the model, so ``score_csv`` cleans a
new export exactly as training did.
"""

from __future__ import annotations

import csv
import math
import shlex
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from models.layout import FeatureKind, FeatureLayout
from models.reasons import ReasonTemplate, generic_template
from models.scorer import LeadScorer
from training.baselines import (
    Baseline,
    best_single_column,
    logistic_regression,
    newest_first,
    single_column_aucs,
)
from training.fairness import normalize_column, protected_matches
from training.train import PreparedData, Slices, TrainConfig, frame_fingerprint

PLACEHOLDERS: Final = frozenset(
    {
        "",
        "na",
        "n/a",
        "nan",
        "null",
        "none",
        "unknown",
        "select",
        "-select-",
        "--select--",
        "please select",
        "not specified",
        "unspecified",
        "missing",
        "?",
        "-",
        "--",
        "#n/a",
    }
)
"""Cell values (case-insensitive, trimmed) that mean "no value"."""
SENTINELS: Final = (999.0, 9999.0, 99999.0, -1.0, -999.0)
SENTINEL_MIN_SHARE: Final = 0.01
YES_VALUES: Final = frozenset({"yes", "y", "true", "t", "1"})
NO_VALUES: Final = frozenset({"no", "n", "false", "f", "0"})
POSITIVE_OUTCOMES: Final = YES_VALUES | {
    "1.0",
    "converted",
    "won",
    "closed won",
    "closed - won",
    "success",
    "applied",
    "funded",
}
NEGATIVE_OUTCOMES: Final = NO_VALUES | {
    "0.0",
    "lost",
    "not converted",
    "unconverted",
    "closed lost",
    "closed - lost",
    "failure",
}
"""Target values (case-insensitive) read as converted / not converted; blank cells are left out."""
MAX_SHOWN_TARGET_VALUES: Final = 20
MIN_ROWS_PER_OUTCOME: Final = 10
SMALL_TRAIN_ROWS: Final = 500
SNIFF_BYTES: Final = 65_536
INFER_SAMPLE_ROWS: Final = 50_000
"""Column roles are inferred from at most this many evenly spaced rows."""
DELIMITERS: Final = (",", ";", "\t", "|")
ENCODINGS: Final = ("utf-8-sig", "cp1252", "latin-1")
NUMBER_DECORATION: Final = r"[,\s$€£%]"
"""Thousands separators, spaces, currency and percent signs around a number."""
NAME_COLUMNS: Final = frozenset(
    {"name", "first_name", "last_name", "full_name", "contact_name", "lead_name", "customer_name"}
)
EMAIL_PATTERN: Final = r"^[^@\s]+@[^@\s]+\.[a-zA-Z]{2,}$"
PHONE_PATTERN: Final = r"^\+?[\d\s().-]+$"
PHONE_DIGITS: Final = 10
NUMERIC_SHARE: Final = 0.95
MAX_CATEGORIES: Final = 50
MIN_CATEGORY_ROWS: Final = 5
FREE_TEXT_MEAN_LENGTH: Final = 30
LEAK_AUC: Final = 0.9
DOMINANT_AUC: Final = 0.75
DOMINANT_MARGIN: Final = 0.1
POST_OUTCOME_NAMES: Final = frozenset(
    {
        "duration",
        "call_duration",
        "talk_time",
        "call_length",
        "disposition",
        "outcome",
        "result",
        "converted",
        "closed",
        "won",
    }
)
"""Names of columns usually filled in after the outcome they would predict."""
CAPACITY_SHARE: Final = 0.1
AGE_BANDS: Final = ((0, 40, "under 40"), (40, 62, "40-61"), (62, 200, "62 and over"))
"""Reg B treats applicants 62 and over as a group of their own (12 CFR 1002.6(b)(2))."""
AUDIT_PREFIX: Final = "protected__"
CSV_MODEL_NAME: Final = "lead-scorer-csv"
MAX_NAME_LENGTH: Final = 60
RESERVED_NAMES: Final = frozenset({"label", "lead_id", "time", "lead_created_at", "capacity_share"})
"""Columns the importer adds to the frame it trains on; no feature may be named like one."""

Role = Literal["numeric", "flag", "category"]


class CsvImportError(ValueError):
    """The export cannot be trained on as asked; the message says which column and why."""


@dataclass(frozen=True)
class FeatureColumn:
    """How one export column becomes a model feature.

    ``column`` is the header as written in the export (what people read); ``name`` is the
    model's internal name for it (``internal_names``), the one LightGBM and MLflow see.
    """

    column: str
    name: str
    role: Role
    sentinel: float | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class CsvRecipe:
    """Everything needed to clean an export the way training did (saved with the model)."""

    target: str
    features: tuple[FeatureColumn, ...]
    id_column: str | None = None
    time_column: str | None = None
    audit: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "features": [asdict(f) for f in self.features],
            "id_column": self.id_column,
            "time_column": self.time_column,
            "audit": list(self.audit),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CsvRecipe:
        return cls(
            target=data["target"],
            features=tuple(
                FeatureColumn(
                    column=f["column"],
                    # Models saved before internal names used the header itself.
                    name=f.get("name") or f["column"],
                    role=f["role"],
                    sentinel=f["sentinel"],
                    categories=tuple(f["categories"]),
                )
                for f in data["features"]
            ),
            id_column=data["id_column"],
            time_column=data["time_column"],
            audit=tuple(data["audit"]),
        )

    @property
    def layout(self) -> FeatureLayout:
        kinds: dict[str, FeatureKind] = {
            f.name: "category" if f.role == "category" else "float" for f in self.features
        }
        return FeatureLayout(
            names=tuple(f.name for f in self.features),
            kinds=kinds,
            categories={f.name: f.categories for f in self.features if f.role == "category"},
            nullable=frozenset(f.name for f in self.features),
            labels={f.name: f.column for f in self.features},
        )

    def reasons(self) -> dict[str, ReasonTemplate]:
        return {
            f.name: generic_template(
                f.column,
                "flag" if f.role == "flag" else "category" if f.role == "category" else "float",
            )
            for f in self.features
        }


@dataclass
class ImportReport:
    """What the importer decided about each column, to print and to log."""

    features: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    protected: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"note     {n}" for n in self.notes]
        out += [f"feature  {c}: {why}" for c, why in self.features.items()]
        out += [f"dropped  {c}: {why}" for c, why in self.dropped.items()]
        out += [f"protected {c}: {why}" for c, why in self.protected.items()]
        return out


def read_export(path: Path) -> pd.DataFrame:
    """The CSV as text cells, untouched (placeholders are handled by the recipe).

    The delimiter (comma, semicolon, tab or |) is the one that splits the header into the most
    fields; the encoding is UTF-8 (with or without a byte-order mark), else Windows-1252, else
    Latin-1. Quoted cells may hold delimiters and newlines.
    """
    if not path.is_file():
        raise CsvImportError(f"{path} does not exist or is not a file")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head.strip():
        raise CsvImportError(f"{path.name} is empty; export the leads again with a header row")
    delimiter = _delimiter(head.decode("latin-1"))
    for encoding in ENCODINGS:
        try:
            return pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                skipinitialspace=True,
                sep=delimiter,
                encoding=encoding,
            )
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError as exc:
            raise CsvImportError(f"{path.name} has no columns; is it a CSV export?") from exc
        except pd.errors.ParserError as exc:
            # pandas names the line and the field counts, never a cell's value.
            raise CsvImportError(
                f"{path.name} is not one table with the same columns on every line "
                f"({str(exc).strip().removeprefix('Error tokenizing data. C error: ')}); "
                "export it again as CSV, with cells that hold the delimiter in quotes"
            ) from exc
    raise AssertionError("latin-1 decodes any byte")  # pragma: no cover


def _delimiter(text: str) -> str:
    """The candidate delimiter that splits the first line (header) into the most fields."""
    lines = text.splitlines()[:1]
    counts = {
        d: len(next(csv.reader(lines, delimiter=d), [])) for d in DELIMITERS
    }  # ties go to the comma, first in DELIMITERS
    return max(DELIMITERS, key=lambda d: counts[d])


def _per_distinct(
    column: pd.Series, convert: Callable[[pd.Series], pd.Series], kind: Literal["text", "number"]
) -> pd.Series:
    """``convert`` applied once to each distinct cell and mapped back to every row: an export
    repeats its values (a million rows hold a few thousand distinct ones per column)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    converted = convert(pd.Series(uniques, dtype="string"))
    if kind == "number":
        numbers = np.append(converted.to_numpy(dtype=np.float64, na_value=np.nan), np.nan)
        return pd.Series(numbers[codes], index=column.index)  # code -1 (missing) -> the NaN
    text = np.empty(len(converted) + 1, dtype=object)
    text[:-1] = converted.astype(object).where(converted.notna(), None).to_numpy()
    text[-1] = None
    return pd.Series(text[codes], index=column.index, dtype="string")


def _distinct_blanked(text: pd.Series) -> pd.Series:
    stripped = text.str.strip()
    return stripped.mask(stripped.str.lower().isin(PLACEHOLDERS))


def _blank_placeholders(column: pd.Series) -> pd.Series:
    """Trimmed text; placeholders (PLACEHOLDERS) become missing."""
    return _per_distinct(column, _distinct_blanked, "text")


def _numbers(text: pd.Series) -> pd.Series:
    """Cells as numbers: "1,234", "$1,200", "45%" and "1 500" read as 1234, 1200, 45, 1500."""
    return _per_distinct(text, _distinct_numbers, "number")


def _distinct_numbers(text: pd.Series) -> pd.Series:
    values = pd.to_numeric(text, errors="coerce")
    retry = values.isna() & text.notna()
    if retry.any():
        cleaned = text[retry].str.replace(NUMBER_DECORATION, "", regex=True)
        values = values.astype(np.float64)
        values[retry] = pd.to_numeric(cleaned, errors="coerce").astype(np.float64)
    return values


def _sentinel(values: pd.Series) -> float | None:
    present = values.dropna()
    for candidate in SENTINELS:
        hits = present == candidate
        share = float(hits.mean()) if len(present) else 0.0
        others = present[~hits]
        if share < SENTINEL_MIN_SHARE or others.empty:
            continue
        if candidate > 0 and others.abs().max() * 10 <= candidate:
            return candidate
        if candidate < 0 and others.min() >= 0:
            return candidate
    return None


def _is_id_name(column: str) -> bool:
    key = normalize_column(column)
    return key in {"id", "uuid", "guid", "key"} or key.endswith("_id") or key.startswith("id_")


def _looks_like_dates(text: pd.Series) -> bool:
    """Dates or times in one format or several ("2024-03-01", "01/03/2024 09:30", "Mar 1, 2024")."""
    sample = text.dropna().head(200)
    if sample.empty or not sample.str.contains(r"\d", regex=True).all():
        return False
    with warnings.catch_warnings():  # "could not infer format": expected on mixed formats
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.to_datetime(sample, errors="coerce", utc=True, format="mixed")
    return bool(parsed.notna().mean() >= NUMERIC_SHARE)


def _looks_like_contact_details(column: str, present: pd.Series) -> bool:
    """Emails, phone numbers or names: personal data, never a feature (nor in a reason)."""
    if normalize_column(column) in NAME_COLUMNS:
        return True
    sample = present.head(200)
    emails = sample.str.contains(EMAIL_PATTERN, regex=True)
    phones = sample.str.contains(PHONE_PATTERN, regex=True) & (
        sample.str.count(r"\d") >= PHONE_DIGITS
    )
    return bool((emails | phones).mean() >= 0.5)


def internal_names(headers: Sequence[str]) -> dict[str, str]:
    """Header -> the model's name for it: [a-z0-9_], at most MAX_NAME_LENGTH characters, unique.

    LightGBM rewrites spaces and refuses quotes, commas and brackets in feature names, so the
    model never sees a header; "Lead Source" and "lead-source" become lead_source and
    lead_source_2, a header of only symbols or letters outside ASCII becomes "column".
    RESERVED_NAMES are the importer's own columns and never a feature's name.
    """
    taken = set(RESERVED_NAMES)
    names: dict[str, str] = {}
    for header in headers:
        ascii_text = unicodedata.normalize("NFKD", str(header)).encode("ascii", "ignore").decode()
        base = normalize_column(ascii_text)[:MAX_NAME_LENGTH]
        base = base.rstrip("_") or "column"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names[header] = name
    return names


def infer_column(
    column: str, raw: pd.Series, name: str | None = None
) -> tuple[FeatureColumn | None, str]:
    """One column's role (its internal ``name`` defaults to the header), or None and why not."""
    name = name or column
    text = _blank_placeholders(raw)
    present = text.dropna()
    blanked = int(text.isna().sum() - raw.isna().sum())
    note = f"; {_share(blanked / len(raw))} of cells are placeholders, read as missing"
    note = note if blanked else ""
    if present.nunique() <= 1:
        return None, "constant (one value or none)"
    if _is_id_name(column):
        return None, "id-like name"
    if _looks_like_contact_details(column, present):
        return None, "contact details (personal data), never a feature"
    lowered = set(present.str.lower().unique())
    if lowered <= (YES_VALUES | NO_VALUES) and len(lowered) == 2:
        return FeatureColumn(column, name, "flag"), f"yes/no flag{note}"
    numbers = _numbers(present)
    if numbers.notna().mean() >= NUMERIC_SHARE:
        if numbers.nunique() == len(raw) and (numbers.diff().dropna() > 0).all():
            return None, "id-like (a running number)"
        sentinel = _sentinel(numbers)
        extra = (
            f"; {sentinel:g} means missing ({(numbers == sentinel).mean():.0%} of rows)"
            if sentinel is not None
            else ""
        )
        return FeatureColumn(column, name, "numeric", sentinel), f"numeric{extra}{note}"
    if _looks_like_dates(present):
        return None, "a date or time; pass it with --time to split by it"
    distinct = present.nunique()
    if distinct > MAX_CATEGORIES and (
        present.str.len().mean() > FREE_TEXT_MEAN_LENGTH or present.str.contains(" ").mean() > 0.5
    ):
        return None, "free text"
    if distinct == len(present) and len(present) > 20:
        return None, "id-like (every value unique)"
    if distinct / len(present) > 0.5:
        return None, "free text or codes (most values unique)"
    kept = _categories(present)
    if len(kept) < 2:
        return None, "no category has enough rows"
    rare = f"; {distinct - len(kept)} rare value(s) read as missing" if distinct > len(kept) else ""
    return (
        FeatureColumn(column, name, "category", categories=kept),
        f"category ({len(kept)} values){rare}{note}",
    )


def _categories(present: pd.Series) -> tuple[str, ...]:
    """Values seen at least MIN_CATEGORY_ROWS times, the MAX_CATEGORIES most frequent, sorted."""
    counts = present.value_counts()
    return tuple(sorted(counts[counts >= MIN_CATEGORY_ROWS].head(MAX_CATEGORIES).index))


def _share(share: float) -> str:
    return "under 1%" if share < 0.01 else f"{share:.0%}"


def infer_recipe(
    raw: pd.DataFrame,
    target: str,
    *,
    id_column: str | None = None,
    time_column: str | None = None,
    allow_protected: bool = False,
    drop: Sequence[str] = (),
) -> tuple[CsvRecipe, ImportReport]:
    """Decide every column's role (module docstring)."""
    for name, flag in ((target, "--target"), (id_column, "--id"), (time_column, "--time")):
        if name is not None and name not in raw.columns:
            raise CsvImportError(
                f"column '{name}' ({flag}) is not in the file; its columns are {list(raw.columns)}"
            )
    unknown_drops = [c for c in drop if c not in raw.columns]
    if unknown_drops:
        raise CsvImportError(f"--drop names unknown column(s) {unknown_drops}")
    report = ImportReport()
    protected = protected_matches(
        c for c in raw.columns if c not in {target, id_column, time_column}
    )
    features: list[FeatureColumn] = []
    audit: list[str] = []
    names = internal_names(list(raw.columns))
    # Roles from evenly spaced rows (order kept for the running-number check); categories
    # are then counted on every row.
    step = math.ceil(len(raw) / INFER_SAMPLE_ROWS)
    sample = raw.iloc[::step]
    for column in raw.columns:
        if column in {target, id_column, time_column}:
            continue
        if column in drop:
            report.dropped[column] = "dropped on request (--drop)"
            continue
        role, why = infer_column(column, sample[column], names[column])
        if role is not None and role.role == "category" and step > 1:
            role = replace(role, categories=_categories(_blank_placeholders(raw[column]).dropna()))
        if column in protected:
            attribute = protected[column]
            law = f"{'proxy for ' if attribute.proxy else ''}{attribute.name} ({attribute.law})"
            if not allow_protected:
                groups = _blank_placeholders(sample[column]).dropna()
                numeric = len(groups) and _numbers(groups).notna().mean() >= NUMERIC_SHARE
                if _looks_like_contact_details(column, groups) or (
                    not numeric and groups.nunique() > MAX_CATEGORIES
                ):
                    # one group per person: nothing to audit, and the groups' names would
                    # print personal data in the report and the MLflow run
                    report.protected[column] = (
                        f"{law}: not a feature; personal identifiers, not audit groups"
                    )
                    continue
                report.protected[column] = f"{law}: not a feature; kept for the fairness audit"
                audit.append(column)
                continue
            report.warnings.append(
                f"column '{column}' is a protected attribute or proxy, {law}, and is a feature "
                "because of --allow-protected; the fairness gate will fail"
            )
        if role is None:
            report.dropped[column] = why
        else:
            features.append(role)
            report.features[column] = why
    if not features:
        raise CsvImportError("no usable feature column is left; see the dropped columns above")
    recipe = CsvRecipe(target, tuple(features), id_column, time_column, tuple(audit))
    return recipe, report


def absent_columns(raw: pd.DataFrame, recipe: CsvRecipe) -> list[str]:
    """The model's columns (headers) that the export lacks."""
    return [f.column for f in recipe.features if f.column not in raw.columns]


def clean_features(
    raw: pd.DataFrame, recipe: CsvRecipe, *, absent_as_missing: bool = False
) -> pd.DataFrame:
    """The export's feature columns as the model reads them (floats, categories or missing).

    A column the export lacks is an error, or (``absent_as_missing``, for scoring) missing in
    every row, unless every one is absent.
    """
    absent = absent_columns(raw, recipe)
    if absent and (not absent_as_missing or len(absent) == len(recipe.features)):
        raise CsvImportError(
            f"the file lacks column(s) {absent} that the model was trained on; export them too"
        )
    blank = pd.Series(pd.NA, index=raw.index, dtype="string")
    data: dict[str, pd.Series] = {}
    for feature in recipe.features:
        column = raw.get(feature.column, blank)
        convert = partial(_feature_values, feature)
        if feature.role == "category":
            values = _per_distinct(column, convert, "text")
            data[feature.name] = values.astype(object).where(values.notna(), None)
        else:
            data[feature.name] = _per_distinct(column, convert, "number")
    return pd.DataFrame(data, index=raw.index)


def _feature_values(feature: FeatureColumn, distinct: pd.Series) -> pd.Series:
    """Distinct cells of one column as the model reads them: 1/0, a number, a category, NA."""
    text = _distinct_blanked(distinct)
    if feature.role == "flag":
        lowered = text.str.lower()
        flags = np.where(
            lowered.isin(YES_VALUES), 1.0, np.where(lowered.isin(NO_VALUES), 0.0, np.nan)
        )
        return pd.Series(flags, index=distinct.index)
    if feature.role == "numeric":
        values = _distinct_numbers(text)
        return values.mask(values == feature.sentinel) if feature.sentinel is not None else values
    return text.where(text.isin(feature.categories))


def parse_target(raw: pd.Series, column: str) -> np.ndarray:
    """The outcome as 1.0 (POSITIVE_OUTCOMES), 0.0 (NEGATIVE_OUTCOMES) or NaN (blank cell).

    Any other value is an error; it names the values only when the column has few of them
    (a column of names or emails given as --target by mistake must not be echoed).
    """
    text = _blank_placeholders(raw).str.lower()
    present = text.dropna()
    if present.empty:
        raise CsvImportError(f"target column '{column}' is empty; pick the outcome column")
    unknown = sorted(set(present.unique()) - POSITIVE_OUTCOMES - NEGATIVE_OUTCOMES)
    if unknown:
        shown = (
            f"values such as {[v[:30] for v in unknown[:5]]}"
            if present.nunique() <= MAX_SHOWN_TARGET_VALUES
            else f"{present.nunique():,} different values (is it the outcome column?)"
        )
        raise CsvImportError(
            f"target column '{column}' must hold two outcomes such as yes/no, 1/0, true/false "
            f"or converted/lost; it has {shown}. Recode it to yes/no, or pick another --target"
        )
    labels = np.where(text.isin(POSITIVE_OUTCOMES), 1.0, np.where(text.isna(), np.nan, 0.0))
    if np.nanmin(labels) == np.nanmax(labels):
        outcome = "converted" if np.nanmax(labels) == 1 else "not converted"
        raise CsvImportError(
            f"target column '{column}' has only one outcome (every row is {outcome}); "
            "nothing to learn. Export leads with both outcomes"
        )
    return labels


def _check_enough_rows(labels: np.ndarray, target: str) -> None:
    """Each slice (train, early stopping, calibration, test) needs both outcomes."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if min(positives, negatives) < MIN_ROWS_PER_OUTCOME:
        raise CsvImportError(
            f"the export has {positives:,} converted and {negatives:,} not converted lead(s) "
            f"in '{target}'; training, calibration and the test need at least "
            f"{MIN_ROWS_PER_OUTCOME} of each. Export more leads"
        )


def audit_values(raw: pd.Series) -> pd.Series:
    """A protected column as audit groups: age in Reg B bands, others as their values."""
    text = _blank_placeholders(raw)
    numbers = _numbers(text.dropna())
    if len(numbers) and numbers.notna().mean() >= NUMERIC_SHARE:
        values = _numbers(text)
        bands = pd.Series("missing", index=raw.index, dtype=object)
        for low, high, label in AGE_BANDS:
            bands[(values >= low) & (values < high)] = label
        return bands
    return text.fillna("missing").astype(object)


def split_rows(
    frame: pd.DataFrame, config: TrainConfig, *, by_time: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ids ('lead_id': the --id value or the line) for train, early stopping, calibration, test.

    By time: ids ordered by their first time. Else stratified by the id's outcome (positive if
    any of its rows is), seeded. The validation ids are halved at random either way.
    """
    rng = np.random.default_rng(config.seed)
    grouped = frame.groupby("lead_id", sort=False)
    units = grouped["label"].max().to_frame()
    if by_time:
        units["first"] = grouped["time"].min()
        strata = [units.sort_values("first", kind="stable").index.to_numpy()]
    else:
        strata = [
            rng.permutation(units.index[units["label"] == outcome].to_numpy())
            for outcome in (False, True)
        ]
    parts: list[list[np.ndarray]] = [[], [], [], []]
    for ids in strata:
        cut_train = round(len(ids) * config.split_fractions[0])
        cut_validation = round(len(ids) * (config.split_fractions[0] + config.split_fractions[1]))
        validation = rng.permutation(ids[cut_train:cut_validation])
        n_cal = round(len(validation) * config.calibration_share)
        for i, chunk in enumerate(
            (ids[:cut_train], validation[n_cal:], validation[:n_cal], ids[cut_validation:])
        ):
            parts[i].append(chunk)
    train, stop, calibrate, test = (np.concatenate(p) for p in parts)
    return train, stop, calibrate, test


def leak_warnings(aucs: Mapping[str, float]) -> dict[str, str]:
    """Loud sentences about columns (by header) that (nearly) give the answer away."""
    ranked = sorted(aucs.items(), key=lambda kv: kv[1], reverse=True)
    warnings: dict[str, str] = {}
    for position, (column, auc) in enumerate(ranked):
        runner_up = ranked[1][1] if position == 0 and len(ranked) > 1 else math.nan
        why = ""
        if auc > LEAK_AUC:
            why = f"alone it separates the outcome with ROC-AUC {auc:.3f}"
        elif position == 0 and auc >= DOMINANT_AUC and auc - runner_up >= DOMINANT_MARGIN:
            why = (
                f"alone it reaches ROC-AUC {auc:.3f}, far above every other column "
                f"(next best {runner_up:.3f})"
            )
        if normalize_column(column) in POST_OUTCOME_NAMES:
            why = (why + "; " if why else "") + "its name says it is recorded after the outcome"
        if why:
            warnings[column] = (
                f"POSSIBLE LEAK: column '{column}': {why}. If it is only known after the outcome "
                f"(like a call's duration), the model will not work on new leads: rerun with "
                f"--drop {shlex.quote(column)}"
            )
    return warnings


def prepare_csv(
    raw: pd.DataFrame,
    target: str,
    config: TrainConfig,
    *,
    id_column: str | None = None,
    time_column: str | None = None,
    allow_protected: bool = False,
    drop: Sequence[str] = (),
    capacity_share: float = CAPACITY_SHARE,
    source_name: str = "export.csv",
) -> tuple[PreparedData, ImportReport]:
    """Infer the recipe, clean, split and describe the export for run_training."""
    if target not in raw.columns:
        raise CsvImportError(
            f"column '{target}' (--target) is not in the file; its columns are {list(raw.columns)}"
        )
    outcomes = parse_target(raw[target], target)
    known = ~np.isnan(outcomes)
    if not known.all():
        raw = raw.loc[known].reset_index(drop=True)
    _check_enough_rows(outcomes[known], target)
    recipe, report = infer_recipe(
        raw,
        target,
        id_column=id_column,
        time_column=time_column,
        allow_protected=allow_protected,
        drop=drop,
    )
    if not known.all():
        report.notes.append(f"{int((~known).sum()):,} row(s) with a blank '{target}' left out")
    frame = clean_features(raw, recipe)
    frame["label"] = outcomes[known] == 1.0
    frame["lead_id"] = (
        _blank_placeholders(raw[id_column]).fillna("missing").to_numpy()
        if id_column
        else [f"row-{i + 2}" for i in range(len(raw))]
    )
    if time_column:
        times = pd.to_datetime(raw[time_column], errors="coerce", utc=True, format="mixed")
        if times.isna().any():
            row = int(np.flatnonzero(times.isna().to_numpy())[0]) + 2
            raise CsvImportError(
                f"--time column '{time_column}' has a value that is not a date at line {row}"
            )
        frame["time"] = times
        frame["lead_created_at"] = frame.groupby("lead_id")["time"].transform("min")
    for column in recipe.audit:
        frame[AUDIT_PREFIX + column] = audit_values(raw[column])
    parts = split_rows(frame, config, by_time=time_column is not None)
    train, stop, calibrate, test = (frame[frame["lead_id"].isin(p)] for p in parts)
    if len(train) < SMALL_TRAIN_ROWS:
        report.warnings.append(
            f"only {len(train):,} training rows: the model will be weak and its test figures "
            "noisy; export more leads if you can"
        )
    layout = recipe.layout
    aucs = {layout.label(n): auc for n, auc in single_column_aucs(train, layout).items()}
    leaks = leak_warnings(aucs)
    report.warnings.extend(leaks.values())
    leaky = [f.name for f in recipe.features if f.column in leaks]
    baselines: list[Baseline] = []
    if time_column:
        baselines.append(Baseline("newest_first", False, True, newest_first, "newest rows first"))
    baselines += [
        Baseline(
            "best_single_column",
            False,
            True,
            best_single_column(layout, exclude=leaky),
            "the one column that best separates the outcome on the training slice",
        ),
        Baseline(
            "logistic_regression",
            True,
            False,
            logistic_regression(layout, config.seed),
            "imputed, scaled, one-hot logistic regression on the same columns",
        ),
    ]
    data = PreparedData(
        layout=layout,
        reasons=recipe.reasons(),
        monotone={},
        slices=Slices(train=train, early_stopping=stop, calibration=calibrate, test=test),
        baselines=tuple(baselines),
        capture_groups=(),
        capacity=max(1, math.ceil(capacity_share * len(test))),
        audit_columns=tuple(AUDIT_PREFIX + c for c in recipe.audit),
        fingerprint=frame_fingerprint(raw),
        metadata={
            "data": "csv",
            "source_file": source_name,
            "csv_recipe": recipe.to_dict(),
            "single_column_auc": {k: round(v, 4) for k, v in aucs.items()},
        },
    )
    return data, report


def scoring_frame(raw: pd.DataFrame, scorer: LeadScorer) -> tuple[pd.DataFrame, pd.Series]:
    """Feature frame for the scorer and one id per row (the recipe's id column or the line)."""
    recipe_data = scorer.metadata.get("csv_recipe")
    if recipe_data is not None:
        recipe = CsvRecipe.from_dict(recipe_data)
        features = clean_features(raw, recipe, absent_as_missing=True)
        id_column = recipe.id_column
    else:
        features = raw.replace({"": None})
        id_column = "lead_id" if "lead_id" in raw.columns else None
    ids = (
        raw[id_column].astype(str)
        if id_column and id_column in raw.columns
        else pd.Series([f"row-{i + 2}" for i in range(len(raw))], index=raw.index)
    )
    return features, ids


def score_csv(
    raw: pd.DataFrame,
    scorer: LeadScorer,
    *,
    reasons: bool = True,
    top_k: int = 3,
    probabilities: np.ndarray | None = None,
) -> pd.DataFrame:
    """Probability, tier and the top reasons (up) and concern (down) for every row.

    ``probabilities``: the scorer's, computed elsewhere (MLflow's spark_udf on Spark).
    """
    features, ids = scoring_frame(raw, scorer)
    matrix = scorer.encode(features)
    if probabilities is None:
        probabilities = scorer.predict_proba(matrix)
    out = pd.DataFrame(
        {
            "id": ids.to_numpy(),
            "probability": np.round(probabilities, 6),
            "tier": scorer.tiers(probabilities),
        }
    )
    if reasons:
        explanations = scorer.explain(matrix, top_k=top_k)
        for k in range(top_k):
            out[f"reason_{k + 1}"] = [e.up[k].text if len(e.up) > k else "" for e in explanations]
        out["concern_1"] = [e.down[0].text if e.down else "" for e in explanations]
    out["model_version"] = scorer.version
    return out
