"""Training: the time split, subsampling, determinism and calibration of the lead model."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from models.calibration import CalibrationMethod
from models.scorer import LeadScorer
from training.calibration import fit_calibrator
from training.evaluate import expected_calibration_error
from training.train import (
    PreparedData,
    TrainConfig,
    TrainingFrameError,
    fit_booster,
    fit_scorer,
    prepare_lead_data,
    subsample_snapshots,
)


def test_no_lead_is_on_two_sides_of_the_split(prepared: PreparedData) -> None:
    slices = prepared.slices
    sides = [
        set(s["lead_id"])
        for s in (slices.train, slices.early_stopping, slices.calibration, slices.test)
    ]
    for i, a in enumerate(sides):
        for b in sides[i + 1 :]:
            assert not a & b, "a lead appears in two slices"


def test_test_leads_are_the_newest(prepared: PreparedData) -> None:
    slices = prepared.slices
    newest_train = slices.train["lead_created_at"].max()
    newest_validation = pd.concat([slices.early_stopping, slices.calibration])[
        "lead_created_at"
    ].max()
    oldest_test = slices.test["lead_created_at"].min()
    assert newest_train <= oldest_test
    assert newest_validation <= oldest_test


def test_no_training_label_looks_into_the_test_period(prepared: PreparedData) -> None:
    label_window_end = prepared.slices.train["as_of"] + pd.Timedelta(days=30)
    assert label_window_end.max() <= prepared.slices.test["lead_created_at"].min()


def test_subsampling_keeps_every_kth_day_of_each_lead(lead_frame: pd.DataFrame) -> None:
    kept = subsample_snapshots(lead_frame, 4)
    day = (kept["as_of"] - kept["lead_created_at"]).dt.floor("D").dt.days
    assert (day % 4 == 0).all()
    assert 0.15 * len(lead_frame) < len(kept) < 0.4 * len(lead_frame)


def test_a_missing_feature_column_is_named(
    lead_frame: pd.DataFrame, fast_config: TrainConfig
) -> None:
    with pytest.raises(TrainingFrameError, match="web_visits_7d"):
        prepare_lead_data(
            lead_frame.drop(columns="web_visits_7d"), fast_config, horizon_days=30, capacity=5
        )


def test_a_protected_column_is_never_a_feature(prepared: PreparedData, scorer: LeadScorer) -> None:
    assert "protected_group" in prepared.slices.test.columns
    assert "protected_group" not in scorer.feature_names
    assert "oracle_propensity" not in scorer.feature_names


def test_same_data_and_seed_give_the_same_model(
    prepared: PreparedData, scorer: LeadScorer, fast_config: TrainConfig
) -> None:
    again = fit_scorer(prepared, fast_config)
    test = prepared.slices.test
    assert again.booster.model_to_string() == scorer.booster.model_to_string()
    np.testing.assert_array_equal(again.predict_proba(test), scorer.predict_proba(test))


def test_the_model_beats_chance_and_tracks_the_oracle(
    prepared: PreparedData, scorer: LeadScorer
) -> None:
    from sklearn.metrics import roc_auc_score

    test = prepared.slices.test
    auc = roc_auc_score(test["label"], scorer.predict_proba(test))
    oracle_auc = roc_auc_score(test["label"], test["oracle_propensity"])
    assert auc > 0.72, f"ROC-AUC {auc:.3f} is below the floor for this signal"
    assert auc <= oracle_auc + 0.02, "the model cannot beat the true propensity by much"


@pytest.fixture(scope="module")
def big_data_and_raw_scores(
    lead_frame_factory: Callable[..., pd.DataFrame], fast_config: TrainConfig
) -> tuple[PreparedData, np.ndarray, np.ndarray]:
    """One booster on 3,000 leads; raw scores on its calibration and test slices."""
    data = prepare_lead_data(
        lead_frame_factory(3000, seed=11), fast_config, horizon_days=30, capacity=5
    )
    booster = fit_booster(data, fast_config)
    raw = [
        np.asarray(booster.predict(data.layout.encode(s), raw_score=True))
        for s in (data.slices.calibration, data.slices.test)
    ]
    return data, raw[0], raw[1]


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibrated_probabilities_match_observed_rates(
    big_data_and_raw_scores: tuple[PreparedData, np.ndarray, np.ndarray], method: CalibrationMethod
) -> None:
    data, raw_calibration, raw_test = big_data_and_raw_scores
    calibrator = fit_calibrator(
        raw_calibration, data.slices.calibration["label"].to_numpy(), method
    )
    labels = data.slices.test["label"].to_numpy()
    probabilities = calibrator.apply(raw_test)
    ece = expected_calibration_error(probabilities, labels)
    assert ece < 0.02, f"ECE {ece:.4f} with {method} calibration"
    assert abs(probabilities.mean() - labels.mean()) < 0.01


def test_calibration_keeps_the_booster_order(
    big_data_and_raw_scores: tuple[PreparedData, np.ndarray, np.ndarray],
) -> None:
    data, raw_calibration, raw_test = big_data_and_raw_scores
    platt = fit_calibrator(raw_calibration, data.slices.calibration["label"].to_numpy(), "platt")
    np.testing.assert_array_equal(rankdata(platt.apply(raw_test)), rankdata(raw_test))
