"""Training the lead model: split, LightGBM, calibration, evaluation against baselines,
fairness audit, promotion gates and the MLflow registry. Entry point: training.pipeline."""
