"""The model being served: loaded once at start-up, swapped atomically on reload.

A reload loads and checks the new scorer completely before one reference assignment makes it
current; a request reads the reference once, so it never mixes two models. A version that fails
to load leaves the old one serving.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from features.definitions import FEATURE_NAMES

if TYPE_CHECKING:
    from models.scorer import LeadScorer

ScorerLoader = Callable[[str | None, str | None], "LeadScorer"]
"""(alias, version) -> a LeadScorer; exactly one of them is given."""

MAX_ERROR_CHARS = 300


class ModelUnavailableError(RuntimeError):
    """No model is loaded; the message says why and how to get one."""


class ModelLoadError(RuntimeError):
    """A model could not be loaded (the previous one, if any, keeps serving)."""


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A scorer with where it came from and when it was loaded."""

    scorer: LeadScorer
    source: str
    loaded_at: datetime

    @property
    def version(self) -> str:
        return self.scorer.version


def registry_loader(tracking_uri: str, model_name: str) -> ScorerLoader:
    """Load from the MLflow registry by alias or version (mlflow is imported on first use)."""

    def load(alias: str | None, version: str | None) -> LeadScorer:
        from models.registry import load_scorer

        return load_scorer(
            tracking_uri, alias or "champion", model_name=model_name, version=version
        )

    return load


def _check(scorer: LeadScorer) -> None:
    """Refuse a scorer that needs a feature serving cannot give; warm LightGBM's first call."""
    unknown = [n for n in scorer.feature_names if n not in FEATURE_NAMES]
    if unknown:
        raise ModelLoadError(
            f"the model needs feature(s) {unknown} that features/definitions.py does not "
            "define; it was trained for another feature list"
        )
    row = np.zeros((1, len(scorer.feature_names)))
    scorer.predict_proba(row)
    scorer.contributions(row)


class ModelHolder:
    """The current model; reload() swaps it only after the new one loaded and passed checks."""

    def __init__(self, loader: ScorerLoader, *, alias: str = "champion") -> None:
        self._loader = loader
        self.alias = alias
        self._current: LoadedModel | None = None
        self._reload_lock = threading.Lock()
        self.last_error: str | None = None

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def require(self) -> LoadedModel:
        """The current model, or ModelUnavailableError saying why there is none."""
        current = self._current
        if current is None:
            why = self.last_error or "the model has not been loaded yet"
            raise ModelUnavailableError(
                f"no model is loaded ({why}); train and promote one (`leadscore train`), then "
                "POST /v1/model/reload"
            )
        return current

    def load(self, *, alias: str | None = None, version: str | None = None) -> LoadedModel:
        """Load alias (default: the configured one) or version and make it current.

        On any failure the current model stays and ModelLoadError says what went wrong.
        """
        if alias is not None and version is not None:
            raise ModelLoadError("give an alias or a version, not both")
        chosen_alias = None if version is not None else (alias or self.alias)
        source = f"version {version}" if version is not None else f"alias '{chosen_alias}'"
        with self._reload_lock:
            try:
                scorer = self._loader(chosen_alias, version)
                _check(scorer)
            except Exception as exc:  # noqa: BLE001 - any failure must keep the old model
                message = str(exc) if isinstance(exc, ModelLoadError) else _describe(exc)
                self.last_error = f"{source}: {message}"
                raise ModelLoadError(self.last_error) from exc
            loaded = LoadedModel(scorer=scorer, source=source, loaded_at=datetime.now(UTC))
            self._current = loaded  # one reference assignment: atomic for readers
            self.last_error = None
            return loaded


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."
