"""The model's input layout: feature order, kinds and category lists, and the encoding to numpy.

Training and scoring share this one encoding: a float64 matrix in feature order where a
categorical feature holds the index of its value in a fixed category list (LightGBM's native
categorical handling) and NaN means missing, so the hot path never needs pandas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

FeatureKind = Literal["int", "float", "category"]
SMALL_FRAME_ROWS = 256


class FeatureFrameError(ValueError):
    """A frame handed to the model lacks a feature or carries a value the model cannot read."""


@dataclass(frozen=True)
class FeatureLayout:
    """Feature names in model order, each one's kind, the category lists and which may be null."""

    names: tuple[str, ...]
    kinds: Mapping[str, FeatureKind]
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    nullable: frozenset[str] = frozenset()
    labels: Mapping[str, str] = field(default_factory=dict)
    """What a person reads for a feature (a CSV export's original header); default its name."""
    _codes: dict[str, dict[str, float]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing_kinds = [n for n in self.names if n not in self.kinds]
        if missing_kinds:
            raise ValueError(f"feature layout has no kind for {missing_kinds}")
        for name in self.names:
            if self.kinds[name] == "category" and not self.categories.get(name):
                raise ValueError(f"categorical feature '{name}' needs a non-empty category list")
        # Lookup tables for the row-by-row fast path, built once.
        codes = {
            n: {c: float(i) for i, c in enumerate(self.categories[n])}
            for n in self.names
            if self.kinds[n] == "category"
        }
        object.__setattr__(self, "_codes", codes)

    def label(self, name: str) -> str:
        """The feature's name as people wrote it (reasons, plots, reports)."""
        return self.labels.get(name, name)

    @property
    def display_names(self) -> tuple[str, ...]:
        return tuple(self.label(n) for n in self.names)

    @property
    def categorical_features(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if self.kinds[n] == "category")

    @property
    def categorical_indices(self) -> list[int]:
        """Column positions LightGBM must treat as categorical."""
        return [i for i, n in enumerate(self.names) if self.kinds[n] == "category"]

    def encode(self, frame: pd.DataFrame, *, strict: bool = False) -> np.ndarray:
        """Frame -> float64 matrix (n, n_features); other columns are ignored.

        A category outside the list becomes missing, or raises when ``strict`` (training data must
        follow its contract; a live request with a new category still gets a score).
        """
        absent = [n for n in self.names if n not in frame.columns]
        if absent:
            raise FeatureFrameError(
                f"the frame lacks feature column(s) {absent}; the model needs all of "
                f"{list(self.names)}"
            )
        matrix = np.empty((len(frame), len(self.names)), dtype=np.float64)
        for j, name in enumerate(self.names):
            column = frame[name]
            if self.kinds[name] == "category":
                matrix[:, j] = self._category_codes(name, column, strict)
            elif pd.api.types.is_numeric_dtype(column.dtype):
                matrix[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                try:
                    matrix[:, j] = pd.to_numeric(column, errors="raise").to_numpy(
                        dtype=np.float64, na_value=np.nan
                    )
                except (TypeError, ValueError) as exc:
                    raise FeatureFrameError(
                        f"column '{name}' must be numeric ({self.kinds[name]}); {exc}"
                    ) from exc
        return matrix

    def _category_codes(self, name: str, column: pd.Series, strict: bool) -> np.ndarray:
        """Index of each value in the category list; NaN when missing or unknown."""
        lookup = self._codes[name]
        if len(column) <= SMALL_FRAME_ROWS:  # dict lookups beat pandas' set-up on a few rows
            codes = np.array([lookup.get(v, np.nan) for v in column.tolist()], dtype=np.float64)
        else:
            index = pd.Categorical(column, categories=list(self.categories[name])).codes
            codes = np.where(index < 0, np.nan, index.astype(np.float64))
        if strict:
            unknown = np.isnan(codes) & column.notna().to_numpy()
            if unknown.any():
                bad = sorted({str(v) for v in column[unknown].unique()})[:5]
                raise FeatureFrameError(
                    f"column '{name}' has value(s) {bad} outside its categories "
                    f"{list(self.categories[name])}; fix the data or the category list"
                )
        return codes

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Dicts (e.g. one API request) -> the same matrix as ``encode``, without pandas."""
        codes = self._codes
        matrix = np.full((len(records), len(self.names)), np.nan, dtype=np.float64)
        for i, record in enumerate(records):
            for j, name in enumerate(self.names):
                if name not in record:
                    raise FeatureFrameError(f"record {i} lacks feature '{name}'")
                value = record[name]
                if value is None:
                    continue
                if name in codes:
                    matrix[i, j] = codes[name].get(str(value), np.nan)
                else:
                    matrix[i, j] = float(value)
        return matrix

    def decode_value(self, name: str, encoded: float) -> float | str | None:
        """One encoded cell back to what a person reads: the category, the number or None."""
        if np.isnan(encoded):
            return None
        if self.kinds[name] == "category":
            return self.categories[name][int(encoded)]
        return float(encoded)

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "kinds": dict(self.kinds),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "nullable": sorted(self.nullable),
            "labels": dict(self.labels),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureLayout:
        return cls(
            names=tuple(data["names"]),
            kinds=dict(data["kinds"]),
            categories={k: tuple(v) for k, v in data["categories"].items()},
            nullable=frozenset(data["nullable"]),
            labels=dict(data.get("labels") or {}),
        )
