"""The model page's data, read straight from the MLflow registry and the training runs.

Serving never imports training, so this reads what training logs by name: the registered
model's aliases (champion, challenger, previous-champion), each version's run metrics
(``test_*``, each with its 95% interval as ``test_*_lo`` / ``test_*_hi``), its gate tags
(``gate.<name>`` = "pass: ...", "FAIL: ..." or "UNDECIDED: ..."), and the run's artifacts
``evaluation/baselines.csv`` (with ``<metric>_lo`` / ``<metric>_hi`` columns),
``evaluation/fairness.txt`` and ``plots/*.png``. Artifacts of a run never change, so they are
cached per run.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from models.registry import redact_uri

PLOTS: Final = {
    "calibration": ("plots/calibration.png", "Calibration"),
    "lift": ("plots/lift_by_decile.png", "Lift by score decile"),
    "capture": ("plots/capture_at_capacity.png", "Capture at capacity"),
    "shap": ("plots/shap_summary.png", "SHAP summary"),
}
"""URL name -> (artifact path, title) of the charts every training run logs."""

PLOT_ALT: Final = {
    "calibration": "Reliability diagram: mean predicted probability against the observed "
    "application rate per bin, for the model and the baselines that give probabilities.",
    "lift": "Lift over the base rate by score decile for the model and each baseline.",
    "capture": "Share of applications captured in each officer-day's top K calls, by K, with "
    "the officer's capacity marked.",
    "shap": "SHAP beeswarm: each feature's contribution to the score across sampled leads.",
}

METRIC_COLUMNS: Final = (
    ("roc_auc", "ROC-AUC", True),
    ("pr_auc", "PR-AUC", True),
    ("brier", "Brier", False),
    ("ece", "ECE", False),
    ("capture_at_capacity", "Capture at capacity", True),
    ("top_decile_lift", "Top-decile lift", True),
)
"""(column of baselines.csv, heading, higher is better)."""

METHOD_LABELS: Final = {
    "model": "This model",
    "newest_first": "Newest first",
    "points_rule": "Points rule",
    "logistic_regression": "Logistic regression",
    "oracle": "Oracle (true propensity)",
}
ALIAS_ORDER: Final = ("champion", "challenger", "previous-champion")


class RegistryUnavailableError(RuntimeError):
    """The MLflow store cannot be read; the message says where and why."""


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    detail: str
    undecided: bool = False
    """The data could not decide (not enough evidence); it blocks promotion like a failure."""


@dataclass(frozen=True)
class MethodRow:
    method: str
    label: str
    values: list[str]
    best: list[bool]
    is_model: bool


@dataclass
class VersionInfo:
    """One registered version with what its training run logged."""

    version: str
    aliases: list[str]
    created_at: datetime
    run_id: str | None
    run_name: str
    trained_at: datetime | None
    metrics: dict[str, float]
    gates: list[Gate]
    gates_failed: str
    promoted_at: str | None = None
    baselines: list[MethodRow] = field(default_factory=list)
    fairness: list[str] = field(default_factory=list)
    fairness_passed: bool | None = None
    plots: list[tuple[str, str, str]] = field(default_factory=list)
    """(url name, title, alt text) of the charts the run has."""

    @property
    def key_metrics(self) -> list[tuple[str, str]]:
        wanted = (
            ("test_roc_auc", "ROC-AUC"),
            ("test_ece", "ECE"),
            ("test_capture_at_capacity", "Capture at capacity"),
        )
        shown = [
            (
                label,
                _fmt_interval(
                    name,
                    self.metrics.get(name),
                    self.metrics.get(f"{name}_lo"),
                    self.metrics.get(f"{name}_hi"),
                ),
            )
            for name, label in wanted
        ]
        leads, applied = self.metrics.get("test_leads"), self.metrics.get("test_applying_leads")
        if leads is not None and applied is not None:
            shown.append(("Test leads (applied)", f"{int(leads):,} ({int(applied):,})"))
        return shown


@dataclass
class RegistryView:
    model_name: str
    tracking_uri: str
    versions: list[VersionInfo]
    by_alias: dict[str, VersionInfo]
    last_trained_at: datetime | None
    last_trained_version: str | None


def _fmt(column: str, value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    if "capture" in column:
        return f"{value:.1%}"
    if "lift" in column:
        return f"{value:.2f}×"
    return f"{value:.3f}"


def _fmt_interval(column: str, value: float | None, low: float | None, high: float | None) -> str:
    """``0.712 [0.660, 0.760]``: the value and its 95% interval when the run logged one."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return _fmt(column, value)
    if value is None or not math.isfinite(value):
        return _fmt(column, value)
    return f"{_fmt(column, value)} [{_fmt(column, low)}, {_fmt(column, high)}]"


class ModelRegistryReader:
    """Reads the registry on each page view; caches each run's immutable artifacts."""

    def __init__(self, tracking_uri: str, model_name: str) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self._artifacts: dict[tuple[str, str], bytes | None] = {}
        self._lock = threading.Lock()

    def _client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def artifact(self, run_id: str, path: str) -> bytes | None:
        """The bytes of a run's artifact, or None when the run has no such file."""
        key = (run_id, path)
        with self._lock:
            if key in self._artifacts:
                return self._artifacts[key]
        from mlflow.exceptions import MlflowException

        try:
            with tempfile.TemporaryDirectory(prefix="leadscore-web-") as tmp:
                local = self._client().download_artifacts(run_id, path, tmp)
                data: bytes | None = Path(local).read_bytes()
        except (MlflowException, OSError):
            data = None
        with self._lock:
            self._artifacts[key] = data
        return data

    def run_id_of(self, version: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            run_id = self._client().get_model_version(self.model_name, version).run_id
        except MlflowException:
            return None
        return None if run_id is None else str(run_id)

    def plot(self, version: str, name: str) -> bytes | None:
        """A version's chart as PNG bytes, or None (unknown version or chart)."""
        if name not in PLOTS or not version.isdigit():
            return None
        run_id = self.run_id_of(version)
        return None if run_id is None else self.artifact(run_id, PLOTS[name][0])

    def read(self) -> RegistryView:
        """Every version, newest first, with aliases; details for the aliased ones."""
        from mlflow.exceptions import MlflowException

        client = self._client()
        try:
            found = client.search_model_versions(f"name = '{self.model_name}'")
            aliases: dict[str, list[str]] = {}
            if found:
                for alias, version in client.get_registered_model(self.model_name).aliases.items():
                    aliases.setdefault(str(version), []).append(str(alias))
            versions = [self._version(client, mv, aliases.get(str(mv.version), [])) for mv in found]
        except MlflowException as exc:
            raise RegistryUnavailableError(
                f"cannot read model '{self.model_name}' from {redact_uri(self.tracking_uri)}: "
                f"{str(exc)[:200]}"
            ) from exc
        versions.sort(key=lambda v: int(v.version), reverse=True)
        by_alias = {alias: v for v in versions for alias in v.aliases}
        for alias in ALIAS_ORDER:
            if alias in by_alias and by_alias[alias].run_id:
                self._details(by_alias[alias])
        trained = [v for v in versions if v.trained_at is not None]
        last = max(trained, key=lambda v: v.trained_at or v.created_at, default=None)
        return RegistryView(
            model_name=self.model_name,
            tracking_uri=redact_uri(self.tracking_uri),
            versions=versions,
            by_alias=by_alias,
            last_trained_at=None if last is None else last.trained_at,
            last_trained_version=None if last is None else last.version,
        )

    def _version(self, client: Any, mv: Any, aliases: list[str]) -> VersionInfo:
        metrics: dict[str, float] = {}
        tags: dict[str, str] = {}
        run_name, trained_at = "", None
        if mv.run_id:
            run = client.get_run(mv.run_id)
            metrics = {str(k): float(v) for k, v in run.data.metrics.items()}
            tags = {str(k): str(v) for k, v in run.data.tags.items()}
            run_name = str(run.info.run_name or "")
            trained_at = datetime.fromtimestamp(run.info.start_time / 1000, UTC)
        gates = [
            Gate(
                name.removeprefix("gate."),
                text.startswith("pass"),
                text.split(": ", 1)[-1],
                undecided=text.startswith("UNDECIDED"),
            )
            for name, text in sorted(tags.items())
            if name.startswith("gate.")
        ]
        version_tags = dict(mv.tags or {})
        return VersionInfo(
            version=str(mv.version),
            aliases=sorted(aliases, key=lambda a: ALIAS_ORDER.index(a) if a in ALIAS_ORDER else 9),
            created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC),
            run_id=None if mv.run_id is None else str(mv.run_id),
            run_name=run_name,
            trained_at=trained_at,
            metrics=metrics,
            gates=gates,
            gates_failed=str(version_tags.get("gates_failed", "")),
            promoted_at=version_tags.get("promoted_at"),
        )

    def _details(self, info: VersionInfo) -> None:
        """Baselines, fairness and the charts of an aliased version's run."""
        assert info.run_id is not None
        table = self.artifact(info.run_id, "evaluation/baselines.csv")
        if table is not None:
            info.baselines = baseline_rows(table.decode("utf-8"))
        fairness = self.artifact(info.run_id, "evaluation/fairness.txt")
        if fairness is not None:
            info.fairness = [line for line in fairness.decode("utf-8").splitlines() if line]
        gate = next((g for g in info.gates if g.name == "fairness"), None)
        info.fairness_passed = None if gate is None else gate.passed
        info.plots = [
            (name, title, PLOT_ALT[name])
            for name, (path, title) in PLOTS.items()
            if self.artifact(info.run_id, path) is not None
        ]


def baseline_rows(text: str) -> list[MethodRow]:
    """baselines.csv (one row per method) as table rows, the best value of each column marked."""
    records = list(csv.DictReader(io.StringIO(text)))

    def number(record: dict[str, str], column: str) -> float | None:
        raw = record.get(column, "")
        try:
            value = float(raw)
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    # The oracle knows the true propensity: it bounds what is possible and is not a rival.
    rivals = [r for r in records if r.get("method") != "oracle"]
    best: dict[str, float | None] = {}
    for column, _, higher in METRIC_COLUMNS:
        found = [v for r in rivals if (v := number(r, column)) is not None]
        best[column] = (max(found) if higher else min(found)) if found else None
    rows = []
    for record in records:
        method = record.get("method", "")
        texts: list[str] = []
        marks: list[bool] = []
        for column, _, _ in METRIC_COLUMNS:
            value = number(record, column)
            texts.append(
                _fmt_interval(
                    column, value, number(record, f"{column}_lo"), number(record, f"{column}_hi")
                )
            )
            marks.append(
                method != "oracle"
                and value is not None
                and best[column] is not None
                and math.isclose(value, best[column] or 0.0, rel_tol=1e-9, abs_tol=1e-12)
            )
        rows.append(
            MethodRow(
                method=method,
                label=METHOD_LABELS.get(method, method.replace("_", " ")),
                values=texts,
                best=marks,
                is_model=method == "model",
            )
        )
    return rows
