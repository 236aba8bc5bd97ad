"""The model as serving sees it: LeadScorer (booster, calibrator, layout, reasons) and its MLflow
registry adapter. Import the submodules you need; this package imports nothing heavy."""
