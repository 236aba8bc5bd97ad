"""Training the lead model: time split by lead, row subsampling, LightGBM, calibration.

The split (``split_leads_by_time``): leads are ordered by creation time; the earliest 60% train,
the next 20% validate, the last 20% test, and every (lead, as-of) row follows its lead, so no lead
is on two sides. The validation leads are split at random (seeded) into two halves: one stops
the boosting early, the other fits the calibrator, so calibration sees rows no tree was fit
or stopped on. Training rows whose label window (as_of + horizon) reaches past the first test
lead's creation are dropped: no training label looks into the test period.

Subsampling (``subsample_snapshots``): rows of one lead a day apart are nearly duplicates;
training keeps the rows on every k-th day of each lead's life (day 0, k, 2k, ...), k at least
``snapshot_every_days`` and raised until the training slice fits ``max_train_rows``. The
validation and test slices keep every row.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.definitions import FEATURES, MONOTONE_CONSTRAINTS
from models.calibration import CalibrationMethod
from models.layout import FeatureKind, FeatureLayout
from models.reasons import LEAD_REASON_TEMPLATES, ReasonTemplate
from models.scorer import LeadScorer
from training.baselines import Baseline, lead_baselines
from training.calibration import fit_calibrator
from training.fairness import feature_violations

ID_COLUMNS: Final = ("lead_id", "officer_id", "as_of", "lead_created_at", "label")
SAMPLE_WEIGHT: Final = "sample_weight"
ORACLE_COLUMN: Final = "oracle_propensity"
PROTECTED_GROUP_COLUMN: Final = "protected_group"
CAPACITY_SHARE: Final = "capacity_share"
"""Test-slice column: the share of its officer-day's open leads that are test leads."""


class TrainingFrameError(ValueError):
    """The training frame breaks its contract (columns, types, labels)."""


@dataclass(frozen=True)
class TrainConfig:
    """Every training knob, with defaults fit for a laptop (model shape per PERFORMANCE.md)."""

    seed: int = 42
    num_threads: int = 2
    learning_rate: float = 0.03
    num_leaves: int = 7
    max_depth: int = 4
    """Small trees: applications are rare (a few dozen leads a year per officer), so a
    shallow, strongly regularized model generalizes better (test ROC-AUC 0.80 against 0.70 for
    31 leaves on the default simulated data) and keeps TreeSHAP cheap (PERFORMANCE.md)."""
    min_data_in_leaf: int = 1000
    """At most; fit_booster lowers it to 0.5% of the training rows on small data sets."""
    feature_fraction: float = 0.7
    bagging_fraction: float = 0.8
    lambda_l2: float = 10.0
    num_boost_round: int = 1000
    early_stopping_rounds: int = 50
    calibration: CalibrationMethod = "platt"
    split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    calibration_share: float = 0.5
    """Share of the validation leads that fit the calibrator (the rest stop early)."""
    snapshot_every_days: int = 1
    max_train_rows: int = 500_000
    purge_train_label_windows: bool = True

    def lightgbm_params(self, monotone: Sequence[int]) -> dict[str, Any]:
        """LightGBM parameters: seeded, deterministic, monotone where the domain is sure."""
        return {
            "objective": "binary",
            "metric": "binary_logloss",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "monotone_constraints": list(monotone),
            "monotone_constraints_method": "intermediate",
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.num_threads,
            "verbose": -1,
        }

    def as_params(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Slices:
    """The four disjoint sets of leads (rows follow their lead)."""

    train: pd.DataFrame
    early_stopping: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame

    def sizes(self) -> dict[str, int]:
        return {
            f"{name}_{unit}": int(n)
            for name, frame in (
                ("train", self.train),
                ("early_stopping", self.early_stopping),
                ("calibration", self.calibration),
                ("test", self.test),
            )
            for unit, n in (
                ("rows", len(frame)),
                ("positives", int(frame["label"].sum())),
                ("leads", frame["lead_id"].nunique() if "lead_id" in frame else len(frame)),
            )
        }


@dataclass(frozen=True)
class PreparedData:
    """A split data set and everything training and evaluation need to know about it."""

    layout: FeatureLayout
    reasons: Mapping[str, ReasonTemplate]
    monotone: Mapping[str, int]
    slices: Slices
    baselines: tuple[Baseline, ...]
    capture_groups: tuple[str, ...]
    """Columns that form one ranking (officer-day); empty: one global ranking."""
    capacity: int
    audit_columns: tuple[str, ...]
    """Test-slice columns holding protected attributes for the adverse-impact audit only."""
    fingerprint: str
    metadata: dict[str, Any] = field(default_factory=dict)


def lead_layout() -> FeatureLayout:
    """The lead model's layout, from features/definitions.py (the one feature list)."""
    kinds: dict[str, FeatureKind] = {f.name: f.kind for f in FEATURES}
    return FeatureLayout(
        names=tuple(f.name for f in FEATURES),
        kinds=kinds,
        categories={f.name: f.categories for f in FEATURES if f.kind == "category"},
        nullable=frozenset(f.name for f in FEATURES if f.nullable),
    )


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the frame's content (columns sorted, index ignored)."""
    ordered = frame[sorted(frame.columns)]
    digest = hashlib.sha256(",".join(ordered.columns).encode())
    digest.update(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def validate_training_frame(frame: pd.DataFrame, layout: FeatureLayout) -> None:
    """Raise TrainingFrameError naming the first broken column."""
    absent = [c for c in (*ID_COLUMNS, *layout.names) if c not in frame.columns]
    if absent:
        raise TrainingFrameError(
            f"the training frame lacks column(s) {absent}; build it with "
            "training.dataset.build_training_frame"
        )
    violations = feature_violations(layout.names)
    if violations:
        raise TrainingFrameError("; ".join(violations))
    for column in ("as_of", "lead_created_at"):
        if not isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            raise TrainingFrameError(
                f"column '{column}' must be a UTC timestamp, got {frame[column].dtype}"
            )
    if frame["label"].isna().any():
        raise TrainingFrameError("column 'label' has missing values; every row needs an outcome")
    for name in layout.names:
        if name not in layout.nullable and frame[name].isna().any():
            row = int(np.flatnonzero(frame[name].isna().to_numpy())[0])
            raise TrainingFrameError(
                f"feature '{name}' is not nullable but row {row} (lead "
                f"{frame['lead_id'].iloc[row]}) has no value"
            )


def split_leads_by_time(frame: pd.DataFrame, config: TrainConfig, horizon_days: int) -> Slices:
    """Train / early-stopping / calibration / test by lead creation time (module docstring)."""
    leads = (
        frame.groupby("lead_id", sort=False)["lead_created_at"]
        .min()
        .reset_index()
        .sort_values(["lead_created_at", "lead_id"], kind="stable")
    )
    n = len(leads)
    train_share, validation_share, _ = config.split_fractions
    cut_train = round(n * train_share)
    cut_validation = round(n * (train_share + validation_share))
    if cut_train < 1 or cut_validation - cut_train < 2 or n - cut_validation < 1:
        raise TrainingFrameError(
            f"{n} lead(s) cannot fill train, validation and test slices; train on more leads"
        )
    ids = leads["lead_id"].to_numpy()
    validation_ids = ids[cut_train:cut_validation].copy()
    np.random.default_rng(config.seed).shuffle(validation_ids)
    n_calibration = max(1, round(len(validation_ids) * config.calibration_share))
    test_start = leads["lead_created_at"].iloc[cut_validation]
    train = frame[frame["lead_id"].isin(ids[:cut_train])]
    if config.purge_train_label_windows:
        window_end = train["as_of"] + pd.Timedelta(days=horizon_days)
        train = train[window_end <= test_start]
    return Slices(
        train=train,
        early_stopping=frame[frame["lead_id"].isin(validation_ids[n_calibration:])],
        calibration=frame[frame["lead_id"].isin(validation_ids[:n_calibration])],
        test=frame[frame["lead_id"].isin(ids[cut_validation:])],
    )


def snapshot_step(n_rows: int, config: TrainConfig) -> int:
    """k: keep every k-th daily snapshot so the training slice fits max_train_rows."""
    return max(config.snapshot_every_days, math.ceil(n_rows / config.max_train_rows), 1)


def subsample_snapshots(frame: pd.DataFrame, every_days: int) -> pd.DataFrame:
    """Keep each lead's snapshots on days 0, k, 2k, ... of its life."""
    if every_days <= 1:
        return frame
    day = (frame["as_of"] - frame["lead_created_at"]).dt.floor("D").dt.days
    kept: pd.DataFrame = frame.loc[(day % every_days == 0).to_numpy()]
    return kept


def monotone_vector(layout: FeatureLayout, monotone: Mapping[str, int]) -> list[int]:
    return [int(monotone.get(name, 0)) for name in layout.names]


def _weights(frame: pd.DataFrame) -> np.ndarray | None:
    """Sample weights when the rows carry them (sampled instants stand for lead-time)."""
    if SAMPLE_WEIGHT not in frame.columns:
        return None
    return frame[SAMPLE_WEIGHT].to_numpy(dtype=np.float64)


def fit_booster(data: PreparedData, config: TrainConfig) -> lgb.Booster:
    """LightGBM with early stopping on the early-stopping slice; keeps the best iteration."""
    layout = data.layout
    train_set = lgb.Dataset(
        layout.encode(data.slices.train, strict=True),
        label=data.slices.train["label"].to_numpy(dtype=np.float64),
        weight=_weights(data.slices.train),
        feature_name=list(layout.names),
        categorical_feature=layout.categorical_indices,
        free_raw_data=False,
    )
    stop_set = lgb.Dataset(
        layout.encode(data.slices.early_stopping, strict=True),
        label=data.slices.early_stopping["label"].to_numpy(dtype=np.float64),
        weight=_weights(data.slices.early_stopping),
        reference=train_set,
    )
    params = config.lightgbm_params(monotone_vector(layout, data.monotone))
    # A leaf needs enough rows to mean something, but on a small export 1,000 would forbid
    # every split: cap it at half a percent of the training rows (at least 20, or a tenth of
    # the rows on a tiny export, where 20 would leave a tree of one leaf).
    rows = len(data.slices.train)
    params["min_data_in_leaf"] = min(
        config.min_data_in_leaf, max(min(20, max(3, rows // 10)), rows // 200)
    )
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.num_boost_round,
        valid_sets=[stop_set],
        valid_names=["early_stopping"],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    # Keep only the trees up to the best iteration: the saved model is what was validated.
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


def fit_scorer(data: PreparedData, config: TrainConfig) -> LeadScorer:
    """Booster + calibrator (fit on the calibration slice) -> LeadScorer."""
    booster = fit_booster(data, config)
    calibration = data.slices.calibration
    raw = np.asarray(
        booster.predict(data.layout.encode(calibration, strict=True), raw_score=True),
        dtype=np.float64,
    )
    calibrator = fit_calibrator(raw, calibration["label"].to_numpy(dtype=bool), config.calibration)
    return LeadScorer(
        booster,
        calibrator,
        data.layout,
        data.reasons,
        base_rate=float(data.slices.train["label"].mean()),
        metadata={**data.metadata, "trees": booster.num_trees()},
        batch_num_threads=config.num_threads,
    )


def prepare_lead_data(
    frame: pd.DataFrame, config: TrainConfig, *, horizon_days: int, capacity: int
) -> PreparedData:
    """Validate the lead training frame, split it by time and subsample the training slice."""
    layout = lead_layout()
    validate_training_frame(frame, layout)
    # Rows are sampled instants; a queue is an officer's day, so capture groups by that day.
    frame = frame.assign(
        label=frame["label"].astype(bool),
        queue_day=pd.to_datetime(frame["as_of"], utc=True).dt.floor("D"),
    )
    slices = split_leads_by_time(frame, config, horizon_days)
    step = snapshot_step(len(slices.train), config)
    day_groups = ["officer_id", "queue_day"]
    open_leads = frame.groupby(day_groups, sort=False)["lead_id"].transform("size")
    in_test = slices.test.groupby(day_groups, sort=False)["lead_id"].transform("size")
    slices = Slices(
        train=subsample_snapshots(slices.train, step),
        early_stopping=slices.early_stopping,
        calibration=slices.calibration,
        test=slices.test.assign(
            **{CAPACITY_SHARE: (in_test / open_leads.loc[slices.test.index]).to_numpy()}
        ),
    )
    audit_columns = (PROTECTED_GROUP_COLUMN,) if PROTECTED_GROUP_COLUMN in frame else ()
    return PreparedData(
        layout=layout,
        reasons=LEAD_REASON_TEMPLATES,
        monotone=MONOTONE_CONSTRAINTS,
        slices=slices,
        baselines=lead_baselines(layout, config.seed, with_oracle=ORACLE_COLUMN in frame),
        capture_groups=("officer_id", "queue_day"),
        capacity=capacity,
        audit_columns=audit_columns,
        fingerprint=frame_fingerprint(frame),
        metadata={
            "data": "lead_frame",
            "horizon_days": horizon_days,
            "snapshot_every_days": step,
        },
    )
