"""The MLflow store for training: the "lead-scoring" experiment and the registry's aliases.

Aliases of a registered model: "champion" (what serving loads), "challenger" (the latest
version that failed a gate), "previous-champion" (what rollback restores). The full champion
history is a registered-model tag (CHAMPION_HISTORY_TAG, a JSON list of versions, oldest
first), so rollback can step back more than once.

The artifact location is set on the experiment when it is created (``artifacts_dir``): with a
SQLite backend MLflow would otherwise put artifacts under ./mlruns of whatever directory the
command ran in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models.registry import CHAMPION_ALIAS, REGISTERED_MODEL_NAME, redact_uri

EXPERIMENT_NAME: Final = "lead-scoring"
CHALLENGER_ALIAS: Final = "challenger"
PREVIOUS_CHAMPION_ALIAS: Final = "previous-champion"
CHAMPION_HISTORY_TAG: Final = "champion_history"
KEY_METRICS: Final = ("test_roc_auc", "test_ece", "test_capture_at_capacity")


class RegistryError(RuntimeError):
    """A registry operation cannot be done as asked (unknown version, nothing to roll back)."""


def use_store(tracking_uri: str, artifacts_dir: Path | None = None) -> str:
    """Point MLflow at the store and return the experiment id (creating the experiment).

    Training owns its process, so it sets MLflow's global tracking and registry URIs.
    """
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is not None:
        return str(experiment.experiment_id)
    location = None
    if artifacts_dir is not None:
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        location = artifacts_dir.resolve().as_uri()
    return str(client.create_experiment(EXPERIMENT_NAME, artifact_location=location))


def _client(tracking_uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def alias_version(tracking_uri: str, model_name: str, alias: str) -> str | None:
    """The version holding the alias, or None."""
    try:
        return str(_client(tracking_uri).get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def champion_history(client: MlflowClient, model_name: str) -> list[str]:
    model = client.get_registered_model(model_name)
    return list(json.loads(model.tags.get(CHAMPION_HISTORY_TAG, "[]")))


def _check_version(client: MlflowClient, model_name: str, version: str) -> None:
    try:
        client.get_model_version(model_name, version)
    except MlflowException as exc:
        raise RegistryError(
            f"model '{model_name}' has no version {version}; `leadscore models` lists them"
        ) from exc


def promote(
    tracking_uri: str, version: str, *, model_name: str = REGISTERED_MODEL_NAME, by: str = "human"
) -> str | None:
    """Make version the champion; the old champion becomes previous-champion. Returns it."""
    client = _client(tracking_uri)
    version = str(version)
    _check_version(client, model_name, version)
    current = alias_version(tracking_uri, model_name, CHAMPION_ALIAS)
    if current == version:
        return current
    history = champion_history(client, model_name)
    if current is not None:
        history.append(current)
        client.set_registered_model_alias(model_name, PREVIOUS_CHAMPION_ALIAS, current)
    client.set_registered_model_tag(model_name, CHAMPION_HISTORY_TAG, json.dumps(history))
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
    if alias_version(tracking_uri, model_name, CHALLENGER_ALIAS) == version:
        client.delete_registered_model_alias(model_name, CHALLENGER_ALIAS)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_model_version_tag(model_name, version, "promoted_by", by)
    client.set_model_version_tag(model_name, version, "promoted_at", stamp)
    return current


def mark_challenger(
    tracking_uri: str, version: str, *, model_name: str = REGISTERED_MODEL_NAME
) -> None:
    _client(tracking_uri).set_registered_model_alias(model_name, CHALLENGER_ALIAS, str(version))


def rollback(tracking_uri: str, *, model_name: str = REGISTERED_MODEL_NAME) -> tuple[str, str]:
    """Give the champion alias back to the previous champion; returns (demoted, restored)."""
    client = _client(tracking_uri)
    current = alias_version(tracking_uri, model_name, CHAMPION_ALIAS)
    try:
        history = champion_history(client, model_name)
    except MlflowException as exc:
        raise RegistryError(f"no registered model '{model_name}' to roll back") from exc
    if current is None or not history:
        raise RegistryError(
            f"model '{model_name}' has no previous champion to roll back to; "
            "`leadscore models` lists the versions, `leadscore promote VERSION` picks one"
        )
    restored = history.pop()
    client.set_registered_model_tag(model_name, CHAMPION_HISTORY_TAG, json.dumps(history))
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, restored)
    if history:
        client.set_registered_model_alias(model_name, PREVIOUS_CHAMPION_ALIAS, history[-1])
    else:
        client.delete_registered_model_alias(model_name, PREVIOUS_CHAMPION_ALIAS)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_model_version_tag(model_name, current, "rolled_back_at", stamp)
    return current, restored


@dataclass(frozen=True)
class VersionSummary:
    """One registered version as `leadscore models` shows it."""

    version: str
    aliases: tuple[str, ...]
    created_at: datetime
    run_id: str | None
    metrics: dict[str, float]
    gates_failed: str


def list_models(
    tracking_uri: str, *, model_name: str = REGISTERED_MODEL_NAME
) -> list[VersionSummary]:
    """Every version of the model, newest first, with aliases and key test metrics."""
    client = _client(tracking_uri)
    try:
        versions = client.search_model_versions(f"name = '{model_name}'")
    except MlflowException as exc:
        raise RegistryError(
            f"cannot read model '{model_name}' from {redact_uri(tracking_uri)}: {exc}"
        ) from exc
    aliases: dict[str, list[str]] = {}
    if versions:
        # search_model_versions leaves aliases out; the registered model has them all.
        for alias, version in client.get_registered_model(model_name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
    summaries: list[VersionSummary] = []
    for mv in versions:
        metrics: dict[str, Any] = {}
        if mv.run_id:
            run_metrics = client.get_run(mv.run_id).data.metrics
            metrics = {k: run_metrics[k] for k in KEY_METRICS if k in run_metrics}
        summaries.append(
            VersionSummary(
                version=str(mv.version),
                aliases=tuple(sorted(aliases.get(str(mv.version), []))),
                created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC),
                run_id=mv.run_id,
                metrics=metrics,
                gates_failed=(mv.tags or {}).get("gates_failed", ""),
            )
        )
    return sorted(summaries, key=lambda s: int(s.version), reverse=True)
