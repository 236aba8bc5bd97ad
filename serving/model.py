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

AliasResolver = Callable[[str], str | None]
"""alias -> the registry version it points at now (None: it points nowhere)."""

RETRY_FAILED_AFTER_LOOKS = 10
"""An alias version that failed to load is tried again after this many looks (a corrupt model
is not reloaded every few seconds; a registry that was briefly down is)."""

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


def registry_alias_resolver(tracking_uri: str, model_name: str) -> AliasResolver:
    def resolve(alias: str) -> str | None:
        from models.registry import alias_version

        return alias_version(tracking_uri, alias, model_name=model_name)

    return resolve


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

    def __init__(
        self,
        loader: ScorerLoader,
        *,
        alias: str = "champion",
        resolver: AliasResolver | None = None,
    ) -> None:
        self._loader = loader
        self._resolver = resolver
        self.alias = alias
        self._current: LoadedModel | None = None
        self._reload_lock = threading.Lock()
        self.last_error: str | None = None
        self._alias_version: str | None = None
        """The alias's version when it was last loaded (or last failed to load)."""
        self._looks_since_failure = 0

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
            if chosen_alias == self.alias:
                self._alias_version = loaded.version.rsplit("/", 1)[-1]
            return loaded

    def follow_alias(self) -> LoadedModel | None:
        """Load the configured alias again if it moved since this process last loaded it;
        None when it did not. A version pinned by a reload stays until the alias moves. On a
        failure the current model keeps serving (ModelLoadError), and that version is tried
        again only after RETRY_FAILED_AFTER_LOOKS looks."""
        if self._resolver is None:
            return None
        version = self._resolver(self.alias)
        if version is None or version == self._alias_version:
            if version is not None and self.last_error is not None:
                self._looks_since_failure += 1
                if self._looks_since_failure >= RETRY_FAILED_AFTER_LOOKS:
                    self._alias_version = None  # look again at the next call
            return None
        try:
            return self.load(alias=self.alias)
        except ModelLoadError:
            self._alias_version, self._looks_since_failure = version, 0
            raise


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."
