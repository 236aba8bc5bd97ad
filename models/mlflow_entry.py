"""MLflow models-from-code entry point: MLflow copies this file into each logged lead scorer.

Never imported by leadscore itself; MLflow executes it when it loads the model, and the
set_model call is how that format names the model object.
"""

from __future__ import annotations

import mlflow

from models.registry import LeadScorerModel

mlflow.models.set_model(LeadScorerModel())
