"""LeadScorer: a trained booster with its calibrator, feature layout and reason templates.

Everything a consumer needs to turn feature rows into calibrated probabilities and reasons.
SHAP values come from LightGBM's own pred_contrib (exactly TreeSHAP, PERFORMANCE.md), in the
booster's log-odds. Small batches predict with one thread: a second thread on a busy core makes
single-row latency worse, not better.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.calibration import Calibrator
from models.layout import FeatureLayout
from models.reasons import Explanation, Reason, ReasonTemplate, generic_template, render_reason

SMALL_BATCH_ROWS: Final = 512
"""Up to this many rows predict on one thread (per-request scoring); more use batch threads."""

TIERS: Final = ("hot", "warm", "cold")
HOT_LIFT: Final = 2.0
"""Tiers: hot at two or more times the training base rate, warm at or above it, cold below."""

BOOSTER_FILE: Final = "booster.txt"
SCORER_FILE: Final = "scorer.json"

FrameLike = pd.DataFrame | np.ndarray


class LeadScorer:
    """Calibrated lead-conversion probabilities and their plain-language reasons."""

    def __init__(
        self,
        booster: lgb.Booster,
        calibrator: Calibrator,
        layout: FeatureLayout,
        reasons: Mapping[str, ReasonTemplate] | None = None,
        *,
        base_rate: float | None = None,
        version: str = "",
        metadata: Mapping[str, Any] | None = None,
        batch_num_threads: int = 0,
    ) -> None:
        if list(booster.feature_name()) != list(layout.names):
            raise ValueError(
                "booster features differ from the layout: "
                f"{booster.feature_name()} vs {list(layout.names)}"
            )
        self.booster = booster
        self.calibrator = calibrator
        self.layout = layout
        self.reasons: dict[str, ReasonTemplate] = {
            name: (reasons or {}).get(name) or generic_template(name, layout.kinds[name])
            for name in layout.names
        }
        self.base_rate = base_rate
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.batch_num_threads = batch_num_threads
        self.version = version or f"unregistered-{self.fingerprint}"

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.layout.names

    @property
    def fingerprint(self) -> str:
        """A content hash: the same model and calibration give the same fingerprint."""
        digest = hashlib.sha256(self.booster.model_to_string().encode())
        digest.update(json.dumps(self.calibrator.to_dict(), sort_keys=True).encode())
        return digest.hexdigest()[:12]

    def encode(self, frame: FrameLike) -> np.ndarray:
        """Feature matrix in model order; an ndarray is taken as already encoded."""
        if isinstance(frame, np.ndarray):
            if frame.ndim != 2 or frame.shape[1] != len(self.layout.names):
                raise ValueError(
                    f"an encoded array needs shape (n, {len(self.layout.names)}), got {frame.shape}"
                )
            return np.ascontiguousarray(frame, dtype=np.float64)
        return self.layout.encode(frame)

    def _threads(self, n_rows: int) -> int:
        return 1 if n_rows <= SMALL_BATCH_ROWS else self.batch_num_threads

    def raw_score(self, frame: FrameLike) -> np.ndarray:
        """The booster's log-odds, before calibration."""
        matrix = self.encode(frame)
        raw = self.booster.predict(matrix, raw_score=True, num_threads=self._threads(len(matrix)))
        return np.asarray(raw, dtype=np.float64)

    def predict_proba(self, frame: FrameLike) -> np.ndarray:
        """Calibrated probability of applying within the horizon, one per row."""
        return self.calibrator.apply(self.raw_score(frame))

    def contributions(self, frame: FrameLike) -> np.ndarray:
        """SHAP values in log-odds, shape (n, n_features + 1); the last column is the base value.

        Each row sums to raw_score.
        """
        matrix = self.encode(frame)
        values = self.booster.predict(
            matrix, pred_contrib=True, num_threads=self._threads(len(matrix))
        )
        return np.asarray(values, dtype=np.float64)

    def tiers(self, probabilities: np.ndarray) -> list[str]:
        """hot / warm / cold against the training base rate (see HOT_LIFT)."""
        base = self.base_rate if self.base_rate is not None else 0.5
        return [
            TIERS[0] if p >= HOT_LIFT * base else TIERS[1] if p >= base else TIERS[2]
            for p in probabilities
        ]

    def explain(
        self, frame: FrameLike, top_k: int = 3, lead_ids: Sequence[str] | None = None
    ) -> list[Explanation]:
        """For each row, the top_k features that pushed its score up and down, as sentences."""
        matrix = self.encode(frame)
        if lead_ids is None and isinstance(frame, pd.DataFrame) and "lead_id" in frame.columns:
            lead_ids = [str(v) for v in frame["lead_id"]]
        contributions = self.contributions(matrix)
        raw = contributions.sum(axis=1)
        probabilities = self.calibrator.apply(raw)
        names = self.layout.names
        explanations: list[Explanation] = []
        for i in range(len(matrix)):
            row = contributions[i, :-1]
            order = np.argsort(-row, kind="stable")
            up = [j for j in order[:top_k] if row[j] > 0]
            down = [j for j in order[::-1][:top_k] if row[j] < 0]
            explanations.append(
                Explanation(
                    probability=float(probabilities[i]),
                    raw_log_odds=float(raw[i]),
                    base_log_odds=float(contributions[i, -1]),
                    up=tuple(self._reason(names[j], matrix[i, j], row[j]) for j in up),
                    down=tuple(self._reason(names[j], matrix[i, j], row[j]) for j in down),
                    lead_id=lead_ids[i] if lead_ids is not None else None,
                )
            )
        return explanations

    def _reason(self, name: str, encoded: float, shap_value: float) -> Reason:
        value = self.layout.decode_value(name, float(encoded))
        return Reason(
            feature=name,
            value=value,
            shap_log_odds=float(shap_value),
            direction="up" if shap_value > 0 else "down",
            text=render_reason(name, self.reasons[name], value, float(shap_value)),
        )

    def save(self, directory: Path) -> list[Path]:
        """Write the booster (LightGBM text) and everything else (JSON) into directory."""
        directory.mkdir(parents=True, exist_ok=True)
        booster_path = directory / BOOSTER_FILE
        booster_path.write_text(self.booster.model_to_string())
        scorer_path = directory / SCORER_FILE
        scorer_path.write_text(
            json.dumps(
                {
                    "calibrator": self.calibrator.to_dict(),
                    "layout": self.layout.to_dict(),
                    "reasons": {k: v.to_dict() for k, v in self.reasons.items()},
                    "base_rate": self.base_rate,
                    "version": self.version,
                    "metadata": self.metadata,
                },
                indent=1,
                sort_keys=True,
            )
        )
        return [booster_path, scorer_path]

    @classmethod
    def load(cls, booster_path: Path, scorer_path: Path, *, version: str = "") -> LeadScorer:
        """Read what ``save`` wrote; ``version`` overrides the saved one (the registry's)."""
        data = json.loads(scorer_path.read_text())
        return cls(
            lgb.Booster(model_str=booster_path.read_text()),
            Calibrator.from_dict(data["calibrator"]),
            FeatureLayout.from_dict(data["layout"]),
            {k: ReasonTemplate.from_dict(v) for k, v in data["reasons"].items()},
            base_rate=data["base_rate"],
            version=version or data["version"],
            metadata=data["metadata"],
        )
