"""Behavioural tests of the trained scorer: directional, invariance, minimum functionality,
explanations and reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.definitions import FEATURE_NAMES, FEATURES_BY_NAME, MONOTONE_CONSTRAINTS
from models.explain import CONTRIB_TOLERANCE, contrib_shap_max_abs_diff, global_importance
from models.reasons import LEAD_REASON_TEMPLATES, render_reason
from models.scorer import LeadScorer
from training.train import PreparedData


@pytest.fixture(scope="module")
def sample(prepared: PreparedData) -> pd.DataFrame:
    return prepared.slices.test.sample(300, random_state=0)


@pytest.mark.parametrize(("feature", "direction"), sorted(MONOTONE_CONSTRAINTS.items()))
def test_directional_each_monotone_feature_moves_the_probability_its_way(
    scorer: LeadScorer, sample: pd.DataFrame, feature: str, direction: int
) -> None:
    rows = sample[sample[feature].notna()]
    before = scorer.predict_proba(rows)
    for step in (1, 3, 10):
        changed = rows.copy()
        changed[feature] = changed[feature] + step
        after = scorer.predict_proba(changed)
        if direction > 0:
            assert (after >= before - 1e-12).all(), f"more {feature} lowered a score"
        else:
            assert (after <= before + 1e-12).all(), f"more {feature} raised a score"


def test_directional_monotone_features_matter_somewhere(
    scorer: LeadScorer, sample: pd.DataFrame
) -> None:
    moved = []
    for feature in MONOTONE_CONSTRAINTS:
        changed = sample.copy()
        changed[feature] = changed[feature] + 5
        moved.append(np.abs(scorer.predict_proba(changed) - scorer.predict_proba(sample)).max())
    assert max(moved) > 0.01, "no declared monotone feature changes any score"


def test_invariance_name_and_phone_change_no_score(
    scorer: LeadScorer, sample: pd.DataFrame
) -> None:
    with_pii = sample.assign(first_name="Ana", last_name="Diaz", phone="+13125550101")
    other_pii = sample.assign(first_name="Zoltan", last_name="Ng", phone="+14155550199")
    np.testing.assert_array_equal(scorer.predict_proba(with_pii), scorer.predict_proba(other_pii))
    assert not {"first_name", "last_name", "phone", "email"} & set(scorer.feature_names)


def test_minimum_functionality_an_engaged_lead_outranks_a_silent_one(
    scorer: LeadScorer, sample: pd.DataFrame
) -> None:
    base = sample.iloc[[0]]
    engaged = base.assign(
        web_visits_7d=6,
        texts_replied=3,
        questions_total=3,
        touches_since_last_inbound=0,
        days_since_last_inbound=0.5,
    )
    silent = base.assign(
        web_visits_7d=0,
        texts_replied=0,
        questions_total=0,
        touches_since_last_inbound=12,
        days_since_last_inbound=45.0,
    )
    assert scorer.predict_proba(engaged)[0] > scorer.predict_proba(silent)[0]


def test_contributions_sum_to_the_raw_score(scorer: LeadScorer, sample: pd.DataFrame) -> None:
    contributions = scorer.contributions(sample)
    assert contributions.shape == (len(sample), len(FEATURE_NAMES) + 1)
    np.testing.assert_allclose(contributions.sum(axis=1), scorer.raw_score(sample), atol=1e-9)


def test_pred_contrib_equals_tree_shap(scorer: LeadScorer, sample: pd.DataFrame) -> None:
    gap = contrib_shap_max_abs_diff(scorer.booster, scorer.encode(sample.head(100)))
    assert gap < CONTRIB_TOLERANCE


def test_global_importance_ranks_a_signal_feature_first(
    scorer: LeadScorer, sample: pd.DataFrame
) -> None:
    table = global_importance(scorer.booster, scorer.encode(sample), scorer.feature_names)
    signal = {
        "timeline_months",
        "timeline_segment",
        "touches_since_last_inbound",
        "questions_total",
        "days_since_last_inbound",
        "web_visits_7d",
        "texts_replied",
    }
    assert table["feature"].iloc[0] in signal
    assert (
        table.loc[table["feature"] == "loan_amount_usd", "mean_abs_shap"].iloc[0]
        < table["mean_abs_shap"].iloc[0] / 3
    )


def test_explain_gives_sorted_reasons_with_plain_text(
    scorer: LeadScorer, sample: pd.DataFrame
) -> None:
    explanations = scorer.explain(sample.head(20), top_k=3)
    assert len(explanations) == 20
    probabilities = scorer.predict_proba(sample.head(20))
    for explanation, lead_id, p in zip(
        explanations, sample["lead_id"], probabilities, strict=False
    ):
        assert explanation.lead_id == lead_id
        assert explanation.probability == pytest.approx(p)
        assert len(explanation.up) <= 3
        assert len(explanation.down) <= 3
        ups = [r.shap_log_odds for r in explanation.up]
        downs = [r.shap_log_odds for r in explanation.down]
        assert all(v > 0 for v in ups)
        assert ups == sorted(ups, reverse=True)
        assert all(v < 0 for v in downs)
        assert downs == sorted(downs)
        for reason in explanation.up + explanation.down:
            assert reason.text
            assert "{" not in reason.text
            assert "nan" not in reason.text


def test_fast_path_records_encode_like_the_frame(scorer: LeadScorer, sample: pd.DataFrame) -> None:
    rows = sample.head(5)
    records = [
        {str(k): (None if pd.isna(v) else v) for k, v in r.items()}
        for r in rows[list(FEATURE_NAMES)].to_dict("records")
    ]
    np.testing.assert_array_equal(scorer.layout.encode_records(records), scorer.encode(rows))
    np.testing.assert_array_equal(
        scorer.predict_proba(scorer.layout.encode_records(records)), scorer.predict_proba(rows)
    )


def test_small_and_large_frames_encode_alike(scorer: LeadScorer, prepared: PreparedData) -> None:
    rows = prepared.slices.test.head(600)
    whole = scorer.encode(rows)
    one_by_one = np.vstack([scorer.encode(rows.iloc[[i]]) for i in range(0, 600, 60)])
    np.testing.assert_array_equal(whole[::60], one_by_one)


def test_an_unseen_category_scores_as_missing(scorer: LeadScorer, sample: pd.DataFrame) -> None:
    rows = sample.head(3)
    unseen = rows.assign(source="billboard")
    missing = rows.assign(source=None)
    np.testing.assert_array_equal(scorer.predict_proba(unseen), scorer.predict_proba(missing))


def test_every_feature_has_a_reason_template() -> None:
    assert set(LEAD_REASON_TEMPLATES) == set(FEATURE_NAMES)


@pytest.mark.parametrize(
    ("feature", "value", "shap", "text"),
    [
        ("web_visits_7d", 6.0, 0.4, "visited the site 6 times this week"),
        ("web_visits_7d", 1.0, -0.2, "only 1 site visit this week"),
        ("web_visits_7d", 0.0, -0.3, "no site visits this week"),
        ("touches_since_last_inbound", 3.0, -0.3, "no response to the last 3 touches"),
        ("timeline_months", 2.2, 0.3, "said they'd be ready in about 2 months"),
        ("timeline_months", None, -0.1, "hasn't said when they'd be ready"),
        ("rate_gap_pct", 0.6, 0.2, "market rate is 0.6 points below their quote"),
        ("rate_gap_pct", -0.4, -0.2, "market rate is 0.4 points above their quote"),
        ("questions_rates", 2.0, 0.2, "asked about rates twice"),
        ("reply_minutes_median", 180.0, -0.1, "usually takes 3 hours to reply"),
        ("days_since_last_inbound", 1.2, 0.3, "last responded yesterday"),
        ("days_since_last_inbound", 13.4, -0.3, "no response for 13 days"),
        ("last_call_outcome", "voicemail", -0.1, "our last call went to voicemail"),
        ("loan_amount_usd", 350000.0, 0.1, "asking for $350,000"),
    ],
)
def test_reason_templates_read_naturally(
    feature: str, value: float | str | None, shap: float, text: str
) -> None:
    assert render_reason(feature, LEAD_REASON_TEMPLATES[feature], value, shap) == text


def test_category_templates_cover_every_category() -> None:
    for name, template in LEAD_REASON_TEMPLATES.items():
        if FEATURES_BY_NAME[name].kind == "category":
            assert set(template.labels) == set(FEATURES_BY_NAME[name].categories), name
