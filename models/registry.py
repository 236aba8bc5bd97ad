"""The LeadScorer as an MLflow pyfunc model: log it with a signature, load it by alias.

The pyfunc loads its two artifacts (booster text, scorer JSON) once in load_context; predict
only calls the scorer. ``load_scorer`` hands back the LeadScorer itself so serving gets
predict_proba and explain without the pyfunc layer; call it once at start-up and keep it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.models.signature import ModelSignature
from mlflow.pyfunc.model import PythonModel
from mlflow.types.schema import ColSpec, Schema

from models.scorer import LeadScorer

REGISTERED_MODEL_NAME: Final = "lead-scorer"
CHAMPION_ALIAS: Final = "champion"
MODEL_ARTIFACT_NAME: Final = "scorer"
PROBABILITY_COLUMN: Final = "probability"


class ModelNotFoundError(LookupError):
    """No registered version matches the requested name and alias or version."""


def redact_uri(uri: str) -> str:
    """The URI without a password, for messages and logs."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class LeadScorerModel(PythonModel):
    """pyfunc wrapper: artifacts are read once in load_context; predict stays thin."""

    scorer: LeadScorer

    def load_context(self, context: Any) -> None:
        self.scorer = LeadScorer.load(
            Path(context.artifacts["booster"]), Path(context.artifacts["scorer"])
        )

    def predict(
        self,
        context: Any,  # noqa: ARG002
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,  # noqa: ARG002
    ) -> pd.DataFrame:
        """Feature rows -> a DataFrame with one column, ``probability``."""
        return pd.DataFrame({PROBABILITY_COLUMN: self.scorer.predict_proba(model_input)})


_MLFLOW_TYPES: Final = {"int": "long", "float": "double", "category": "string"}


def scorer_signature(scorer: LeadScorer) -> ModelSignature:
    """Input columns with their types (nullable ones optional) and the probability output."""
    layout = scorer.layout
    inputs = Schema(
        [
            ColSpec(_MLFLOW_TYPES[layout.kinds[n]], n, required=n not in layout.nullable)
            for n in layout.names
        ]
    )
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", PROBABILITY_COLUMN)]))


def pip_requirements() -> list[str]:
    return [
        f"mlflow=={mlflow.__version__}",
        f"lightgbm=={lgb.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
    ]


def log_scorer(
    scorer: LeadScorer,
    *,
    registered_model_name: str | None = None,
    input_example: pd.DataFrame | None = None,
) -> Any:
    """Log the scorer as a pyfunc model in the active MLflow run; returns MLflow's ModelInfo.

    With a registered_model_name the model also becomes a new version of that registered model.
    Logged as models-from-code (models/mlflow_entry.py), so no pickled object; it loads where
    the leadscore package is installed (the wrapper class lives here).
    """
    with tempfile.TemporaryDirectory(prefix="leadscore-model-") as tmp:
        booster_path, scorer_path = scorer.save(Path(tmp))
        return mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT_NAME,
            python_model=str(Path(__file__).with_name("mlflow_entry.py")),
            artifacts={"booster": str(booster_path), "scorer": str(scorer_path)},
            signature=scorer_signature(scorer),
            input_example=input_example,
            registered_model_name=registered_model_name,
            pip_requirements=pip_requirements(),
        )


def alias_version(
    tracking_uri: str, alias: str = CHAMPION_ALIAS, *, model_name: str = REGISTERED_MODEL_NAME
) -> str | None:
    """The version the alias points at now, or None when it points nowhere (one registry read:
    cheap enough for every serving process to ask every few seconds)."""
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except mlflow.exceptions.MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def load_scorer(
    tracking_uri: str,
    alias: str = CHAMPION_ALIAS,
    *,
    model_name: str = REGISTERED_MODEL_NAME,
    version: str | None = None,
) -> LeadScorer:
    """The scorer registered as ``models:/<model_name>@<alias>`` (or that version).

    Does not change MLflow's global tracking URI. scorer.version becomes "<name>/<version>",
    the string every score and audit record carries.
    """
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    wanted = f"version {version}" if version else f"alias '{alias}'"
    try:
        model_version = (
            client.get_model_version(model_name, version)
            if version
            else client.get_model_version_by_alias(model_name, alias)
        )
        source = client.get_model_version_download_uri(model_name, model_version.version)
    except mlflow.exceptions.MlflowException as exc:
        raise ModelNotFoundError(
            f"no version of model '{model_name}' with {wanted} in {redact_uri(tracking_uri)}; "
            "train one with `leadscore train` or promote one with `leadscore promote VERSION`"
        ) from exc
    pyfunc_model = mlflow.pyfunc.load_model(source)
    wrapper = pyfunc_model.unwrap_python_model()
    scorer: LeadScorer = wrapper.scorer
    scorer.version = f"{model_name}/{model_version.version}"
    return scorer
