"""The synthetic CRM: deterministic, realistic in its mix, lawful in its touches, and causal
in the ways the product relies on (speed to lead, touches, rate drops)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_contracts.models import Event, Lead
from data_contracts.schemas import EVENT_COLUMNS, LEAD_COLUMNS, MARKET_RATE_COLUMNS, TRUTH_COLUMNS
from simulator import (
    CadencePolicy,
    DayView,
    FollowUpPolicy,
    HistoricalPolicy,
    PolicyError,
    SimulatedWorld,
    SimulationConfig,
    SimulationConfigError,
    simulate,
    world_summary,
    write_world,
)

SMALL = SimulationConfig(officers=3, months=6, leads_per_month=150, seed=11)
TOUCH_TYPES = ("call", "text_sent", "email_sent")


@pytest.fixture(scope="module")
def default_world() -> SimulatedWorld:
    """The embedded default: 5 officers, 12 months, 200 leads a month, seed 7 (a few seconds)."""
    return simulate(SimulationConfig())


@pytest.fixture(scope="module")
def small_world() -> SimulatedWorld:
    return simulate(SMALL)


@pytest.fixture(scope="module")
def small_cadence_world() -> SimulatedWorld:
    """The same leads under the brief's "after" policy (answer in ~47 s, full cadence)."""
    return simulate(SMALL, CadencePolicy())


def _touches(world: SimulatedWorld) -> pd.DataFrame:
    return world.events[world.events["event_type"].isin(TOUCH_TYPES)]


def _touches_per_lead(world: SimulatedWorld) -> pd.Series:
    counts = _touches(world).groupby("lead_id").size()
    return counts.reindex(world.leads["lead_id"]).fillna(0)


def _first_response_minutes(world: SimulatedWorld) -> pd.Series:
    first = _touches(world).groupby("lead_id")["occurred_at"].min()
    created = world.leads.set_index("lead_id")["created_at"].reindex(first.index)
    return (first - created).dt.total_seconds() / 60


def _none_for_missing(row: Mapping[Hashable, object]) -> dict[str, object]:
    """A DataFrame row as the dict a CRM would send: missing values as None."""
    return {
        str(key): None
        if value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))
        else value
        for key, value in row.items()
    }


# -- determinism ----------------------------------------------------------------------------


def test_same_seed_writes_byte_identical_files_and_another_seed_differs(
    tmp_path: Path, small_world: SimulatedWorld
) -> None:
    first = write_world(small_world, tmp_path / "first")
    second = write_world(simulate(SMALL), tmp_path / "second")
    other = write_world(
        simulate(SimulationConfig(**{**SMALL.__dict__, "seed": 12})), tmp_path / "o"
    )

    assert set(first) >= {"leads", "events", "rates", "truth", "daily_hazard"}
    for name, path in first.items():
        assert path.read_bytes() == second[name].read_bytes(), f"{name} differs between runs"
    for name in ("leads", "events", "rates", "truth"):
        assert first[name].read_bytes() != other[name].read_bytes(), f"{name} ignores the seed"


def test_every_policy_meets_the_same_leads(
    small_world: SimulatedWorld, small_cadence_world: SimulatedWorld
) -> None:
    historical, cadence = small_world, small_cadence_world

    pd.testing.assert_frame_equal(historical.leads, cadence.leads)
    pd.testing.assert_frame_equal(historical.rates, cadence.rates)
    pd.testing.assert_frame_equal(historical.latent, cadence.latent)
    assert (historical.truth["protected_group"] == cadence.truth["protected_group"]).all()


# -- tables and contracts -----------------------------------------------------------------------


def test_tables_have_the_contract_columns(small_world: SimulatedWorld) -> None:
    assert list(small_world.leads.columns) == list(LEAD_COLUMNS)
    assert list(small_world.events.columns) == list(EVENT_COLUMNS)
    assert list(small_world.rates.columns) == list(MARKET_RATE_COLUMNS)
    assert list(small_world.truth.columns) == [*TRUTH_COLUMNS, "applied_at"]
    assert list(small_world.daily_hazard.columns)[:3] == ["lead_id", "date", "hazard"]
    assert str(small_world.events["occurred_at"].dtype) == "datetime64[ns, UTC]"


def test_every_lead_and_event_row_satisfies_the_pydantic_contract(
    small_world: SimulatedWorld,
) -> None:
    for row in small_world.leads.to_dict("records"):
        Lead.model_validate(_none_for_missing(row))
    for row in small_world.events.to_dict("records"):
        Event.model_validate(_none_for_missing(row))


def test_event_ids_are_unique_and_in_time_order(small_world: SimulatedWorld) -> None:
    events = small_world.events
    assert events["event_id"].is_unique
    assert events["occurred_at"].is_monotonic_increasing
    assert list(events["event_id"]) == sorted(events["event_id"])
    assert events["event_id"].str.fullmatch(r"E\d{9}").all()
    assert small_world.leads["lead_id"].str.fullmatch(r"L\d{6}").all()
    assert set(small_world.leads["officer_id"]) == {"lo-01", "lo-02", "lo-03"}


def test_no_event_before_its_lead_exists_or_after_the_period(small_world: SimulatedWorld) -> None:
    events = small_world.events.merge(small_world.leads[["lead_id", "created_at"]], on="lead_id")
    period_end = pd.Timestamp(SMALL.end.isoformat(), tz=SMALL.office_time_zone)

    assert (events["occurred_at"] >= events["created_at"]).all()
    assert (events["occurred_at"] < period_end).all()
    created = events[events["event_type"] == "lead_created"]
    assert len(created) == len(small_world.leads)
    assert (created["occurred_at"] == created["created_at"]).all()


# -- the law ----------------------------------------------------------------------------------


def test_calls_and_texts_happen_only_in_legal_local_hours(default_world: SimulatedWorld) -> None:
    phone = _touches(default_world)
    phone = phone[phone["event_type"].isin(["call", "text_sent"])].merge(
        default_world.leads[["lead_id", "time_zone", "state"]], on="lead_id"
    )
    assert phone["time_zone"].notna().all(), "a lead with no known time zone was called"
    for zone, rows in phone.groupby("time_zone"):
        local = rows["occurred_at"].dt.tz_convert(str(zone))
        hour = local.dt.hour + local.dt.minute / 60
        last_hour = np.where(rows["state"].isin(["FL", "OK", "MD"]), 20, 21)
        assert ((hour >= 8) & (hour < last_hour)).all(), f"call outside hours in {zone}"


def test_no_touch_without_consent_after_opt_out_or_after_applying(
    default_world: SimulatedWorld,
) -> None:
    events, leads = default_world.events, default_world.leads
    touches = _touches(default_world).merge(leads, on="lead_id")
    for event_type, channel in (("call", "call"), ("text_sent", "text"), ("email_sent", "email")):
        sent = touches[touches["event_type"] == event_type]
        assert sent[f"consent_{channel}"].all(), f"{event_type} without consent"
        opt_outs = events[(events["event_type"] == "opt_out") & (events["channel"] == channel)]
        first_opt_out = opt_outs.groupby("lead_id")["occurred_at"].min().rename("opted_out_at")
        after = sent.merge(first_opt_out, left_on="lead_id", right_index=True)
        assert (after["occurred_at"] <= after["opted_out_at"]).all(), f"{event_type} after opt-out"
    dnc = events[events["event_type"] == "dnc_request"].groupby("lead_id")["occurred_at"].min()
    phone = touches[touches["event_type"].isin(["call", "text_sent"])]
    after_dnc = phone.merge(dnc.rename("dnc_at"), left_on="lead_id", right_index=True)
    assert (after_dnc["occurred_at"] <= after_dnc["dnc_at"]).all()
    applied = default_world.truth.dropna(subset=["applied_at"])[["lead_id", "applied_at"]]
    after_applying = _touches(default_world).merge(applied, on="lead_id")
    assert (after_applying["occurred_at"] <= after_applying["applied_at"]).all()


def test_a_request_to_stop_calling_is_recorded_as_a_call_opt_out(
    default_world: SimulatedWorld,
) -> None:
    events = default_world.events
    stops = events[events["call_outcome"] == "asked_to_stop"]
    opt_outs = events[(events["event_type"] == "opt_out") & (events["channel"] == "call")]
    assert len(stops) > 0
    joined = stops.merge(opt_outs, on="lead_id", suffixes=("_call", "_opt_out"))
    assert set(joined["lead_id"]) == set(stops["lead_id"])
    assert (joined["occurred_at_opt_out"] > joined["occurred_at_call"]).all()


def test_reactions_follow_the_touch_they_answer(default_world: SimulatedWorld) -> None:
    events = default_world.events
    for reaction, touch in (
        ("email_opened", "email_sent"),
        ("email_clicked", "email_opened"),
        ("text_replied", "text_sent"),
    ):
        first_reaction = (
            events[events["event_type"] == reaction].groupby("lead_id")["occurred_at"].min()
        )
        first_touch = events[events["event_type"] == touch].groupby("lead_id")["occurred_at"].min()
        assert len(first_reaction) > 0, f"no {reaction} at all"
        touch_time = first_touch.reindex(first_reaction.index)
        assert (touch_time < first_reaction).all(), f"{reaction} before any {touch}"
    funded = events[events["event_type"] == "loan_funded"]["lead_id"]
    assert set(funded) <= set(events[events["event_type"] == "application_submitted"]["lead_id"])


# -- realism ------------------------------------------------------------------------------------


def test_default_world_converts_2_to_4_percent(default_world: SimulatedWorld) -> None:
    summary = world_summary(default_world)
    assert 0.02 <= summary["application_rate"] <= 0.04, summary
    assert 0.02 <= summary["mean_true_propensity"] <= 0.045, summary
    funded = default_world.events["event_type"].eq("loan_funded").sum()
    applied = default_world.events["event_type"].eq("application_submitted").sum()
    assert 0.4 <= funded / applied <= 0.75, "about 60-70% of applications fund (less at the end)"


def test_historical_policy_matches_the_brief_before_column(default_world: SimulatedWorld) -> None:
    minutes = _first_response_minutes(default_world)
    touches = _touches_per_lead(default_world)

    assert 2.5 * 60 <= minutes.median() <= 6 * 60, "first response about 4 hours"
    assert 3 * 60 <= minutes.mean() <= 10 * 60
    assert 0.0 < (minutes <= 5).mean() < 0.12, "a few leads hear back within 5 minutes"
    assert 1.9 <= touches.mean() <= 2.8, "about 2.3 touches a lead"
    assert 0.08 <= (touches >= 5).mean() <= 0.22, "about 15% of leads get 5+ touches"


def test_sources_and_loan_types_come_in_sensible_shares(default_world: SimulatedWorld) -> None:
    leads = default_world.leads
    sources = leads["source"].value_counts(normalize=True)
    loan_types = leads["loan_type"].value_counts(normalize=True)

    assert sources.idxmax() == "online_lead"
    assert sources.max() > 0.45
    assert set(sources.index) == {"referral", "online_lead", "past_client", "realtor_partner"}
    assert sources.min() > 0.05
    assert loan_types.idxmax() == "purchase"
    assert set(loan_types.index) == {"purchase", "refinance", "investment", "jumbo"}
    assert loan_types.min() > 0.03
    jumbo = leads["loan_type"] == "jumbo"
    assert (leads.loc[jumbo, "loan_amount_usd"] > 766_550).all()
    assert (leads.loc[~jumbo, "loan_amount_usd"] <= 766_550).all()
    assert 0.005 <= leads["time_zone"].isna().mean() <= 0.04, "about 2% unknown time zone"
    for channel, share in (("email", 0.95), ("call", 0.85), ("text", 0.70)):
        assert abs(leads[f"consent_{channel}"].mean() - share) < 0.04


def test_timeline_statements_are_varied_and_match_the_latent_timeline(
    default_world: SimulatedWorld,
) -> None:
    statements = default_world.leads["timeline_statement"]
    latent = default_world.latent.set_index("lead_id")["months_to_ready"]
    months = latent.reindex(default_world.leads["lead_id"]).to_numpy()

    assert (statements.str.strip().str.len() > 0).all()
    assert statements.nunique() >= 30
    lowered = statements.str.lower()
    now = lowered.str.contains("asap|ready now|right away|as soon as possible").to_numpy()
    later = lowered.str.contains("year or two|couple of years|18 months").to_numpy()
    assert now.sum() > 20
    assert later.sum() > 20
    assert months[now].mean() < 1.5 < 12 < months[later].mean()
    refinance = default_world.leads["loan_type"] == "refinance"
    assert not lowered[refinance].str.contains("made an offer|our lease|sell my house").any()


def test_market_rates_cover_every_day_and_include_a_rally(default_world: SimulatedWorld) -> None:
    rates = default_world.rates
    config = default_world.config
    assert len(rates) == config.days
    assert rates["date"].iloc[0] == config.start.isoformat()
    assert rates["date"].is_unique
    assert abs(rates["rate_30y_pct"].iloc[0] - 6.8) < 0.2
    rate = rates["rate_30y_pct"].to_numpy()
    assert (rate[30:] - rate[:-30]).min() <= -0.4, "a drop of about half a point within a month"


# -- causal structure ---------------------------------------------------------------------------


def test_leads_answered_within_5_minutes_convert_far_better_than_after_30(
    default_world: SimulatedWorld,
) -> None:
    minutes = _first_response_minutes(default_world)
    propensity = default_world.truth.set_index("lead_id")["true_propensity"]
    fast = propensity.reindex(minutes.index[minutes <= 5])
    slow = propensity.reindex(minutes.index[minutes > 30])

    assert len(fast) >= 50
    assert fast.mean() >= 1.5 * slow.mean(), (fast.mean(), slow.mean())


def test_answering_fast_raises_conversion_for_the_same_leads(
    small_cadence_world: SimulatedWorld,
) -> None:
    slow = simulate(SMALL, CadencePolicy(speed_to_lead_s=None))
    fast = small_cadence_world

    assert _first_response_minutes(fast).median() < 2
    assert fast.truth["true_propensity"].mean() > 1.4 * slow.truth["true_propensity"].mean()


def test_conversion_rises_with_touches_with_diminishing_returns(
    small_cadence_world: SimulatedWorld,
) -> None:
    worlds = {cap: simulate(SMALL, CadencePolicy(max_touches=cap)) for cap in (1, 2, 4)}
    worlds[99] = small_cadence_world
    touches = {cap: _touches_per_lead(w).mean() for cap, w in worlds.items()}
    rate = {cap: w.truth["true_propensity"].mean() for cap, w in worlds.items()}
    gain_per_touch = [
        (rate[high] - rate[low]) / (touches[high] - touches[low])
        for low, high in ((1, 2), (2, 4), (4, 99))
    ]

    assert rate[1] < rate[2] < rate[4] < rate[99]
    assert touches[99] > 6
    assert gain_per_touch[0] > gain_per_touch[1] > gain_per_touch[2] > 0, gain_per_touch


def test_leads_with_more_touches_convert_more_in_the_history(
    default_world: SimulatedWorld,
) -> None:
    touches = _touches_per_lead(default_world).to_numpy()
    propensity = default_world.truth["true_propensity"].to_numpy()
    assert propensity[touches >= 5].mean() > 1.2 * propensity[touches <= 1].mean()


def test_the_after_policy_converts_clearly_more_than_the_before_policy(
    small_world: SimulatedWorld, small_cadence_world: SimulatedWorld
) -> None:
    before = world_summary(small_world)
    after = world_summary(small_cadence_world)

    assert after["touches_per_lead"] > 3 * before["touches_per_lead"]
    assert (after["five_plus_touches_share"]) > 0.7
    assert after["mean_true_propensity"] > 2 * before["mean_true_propensity"], (before, after)


def test_refinance_leads_react_when_the_market_drops_below_their_quote(
    default_world: SimulatedWorld,
) -> None:
    leads = default_world.leads[["lead_id", "loan_type", "quoted_rate_pct"]]
    days = default_world.daily_hazard
    days = days[days["lead_open"]].astype({"lead_id": str, "date": str})
    days = days.merge(default_world.rates, on="date").merge(leads, on="lead_id")
    days["market_below_quote"] = days["rate_30y_pct"] < days["quoted_rate_pct"]
    hazard = days.groupby(["loan_type", "market_below_quote"])["hazard"].mean()

    refinance_lift = hazard["refinance", True] / hazard["refinance", False]
    purchase_lift = hazard["purchase", True] / hazard["purchase", False]
    assert refinance_lift > 2.0, hazard
    assert refinance_lift > 1.5 * purchase_lift

    visits = default_world.events[default_world.events["event_type"] == "web_visit"]
    visit_date = visits["occurred_at"].dt.tz_convert(default_world.config.office_time_zone)
    visits = visits.assign(date=visit_date.dt.strftime("%Y-%m-%d"))[["lead_id", "date"]]
    visit_counts = visits.groupby(["lead_id", "date"]).size().rename("visits").reset_index()
    refinance_days = days[days["loan_type"] == "refinance"].merge(
        visit_counts, on=["lead_id", "date"], how="left"
    )
    per_day = refinance_days["visits"].fillna(0).groupby(refinance_days["market_below_quote"])
    assert per_day.mean()[True] > 1.3 * per_day.mean()[False]


def test_true_propensity_is_the_product_of_the_daily_hazards(small_world: SimulatedWorld) -> None:
    truth = small_world.truth.set_index("lead_id")["true_propensity"]
    hazards = small_world.daily_hazard.astype({"lead_id": str})
    from_hazards = 1 - (1 - hazards["hazard"]).groupby(hazards["lead_id"]).prod()

    assert truth.between(0, 1).all()
    assert (hazards["hazard"].between(0, 1)).all()
    np.testing.assert_allclose(from_hazards.reindex(truth.index), truth, rtol=1e-9, atol=1e-12)
    applied = small_world.truth["applied"]
    assert applied.sum() > 0
    assert small_world.truth["applied_at"].notna().eq(applied).all()


def test_protected_group_lives_only_in_the_truth(small_world: SimulatedWorld) -> None:
    groups = small_world.truth["protected_group"]
    assert set(groups) == {"A", "B"}
    for table in (small_world.leads, small_world.events, small_world.rates, small_world.latent):
        assert "protected_group" not in table.columns
    # The documented proxy through source is small: B is a bit more common among online leads.
    online = (small_world.leads["source"] == "online_lead").to_numpy()
    is_b = (groups == "B").to_numpy()
    assert 0.0 < is_b[online].mean() - is_b[~online].mean() < 0.2


def test_drift_knobs_change_the_world_they_name() -> None:
    base = SimulationConfig(officers=2, months=4, leads_per_month=150, seed=3)
    plain = simulate(base)
    vendor = simulate(SimulationConfig(**{**base.__dict__, "new_source_share": 0.5}))
    shocked = simulate(SimulationConfig(**{**base.__dict__, "rate_shock_pct": -1.0}))

    def late_online(world: SimulatedWorld) -> pd.DataFrame:
        leads = world.leads.merge(world.truth, on="lead_id")
        late = leads["created_at"] >= leads["created_at"].quantile(0.6)
        return leads[late & (leads["source"] == "online_lead")]

    assert len(late_online(vendor)) > 1.2 * len(late_online(plain))
    assert (
        late_online(vendor)["true_propensity"].mean()
        < 0.8 * late_online(plain)["true_propensity"].mean()
    )
    drop = plain.rates["rate_30y_pct"].iloc[-1] - shocked.rates["rate_30y_pct"].iloc[-1]
    assert 0.7 < drop < 1.3
    assert (shocked.leads["loan_type"] == "refinance").mean() > (
        plain.leads["loan_type"] == "refinance"
    ).mean()


# -- the policy interface -----------------------------------------------------------------------


class _NewestFirst(FollowUpPolicy):
    """A minimal third-party policy: email everyone newest first, answer new leads in a minute."""

    name = "newest_first"

    def __init__(self) -> None:
        self.views: list[DayView] = []

    def first_response_delay_s(
        self, new_leads: pd.DataFrame, rng: np.random.Generator
    ) -> np.ndarray:
        del rng  # answers every lead in one minute, no randomness needed
        return np.full(len(new_leads), 60.0)

    def plan_day(self, view: DayView) -> pd.DataFrame:
        self.views.append(view)
        leads = view.leads.sort_values("created_at", ascending=False)
        return pd.DataFrame({"lead_id": leads["lead_id"], "channel": "email"})


def test_a_policy_sees_only_the_past_and_its_plan_is_cut_to_capacity() -> None:
    config = SimulationConfig(officers=2, months=2, leads_per_month=300, seed=5, daily_capacity=4)
    policy = _NewestFirst()
    world = simulate(config, policy)

    seen = 0
    for view in policy.views:
        assert (view.leads["created_at"] < view.as_of).all()
        assert (view.new_events()["occurred_at"] < view.as_of).all()
        assert set(view.capacity.values()) == {4}
        seen += len(view.new_events())
    last = policy.views[-1].events()
    assert seen == len(last), "new_events() over the views add up to everything visible"
    assert (last["occurred_at"] < policy.views[-1].as_of).all()
    assert (policy.views[10].events()["occurred_at"] < policy.views[10].as_of).all()
    emails = world.events[world.events["event_type"] == "email_sent"].merge(
        world.leads[["lead_id", "officer_id", "created_at"]], on="lead_id"
    )
    follow_ups = emails[emails["occurred_at"] - emails["created_at"] > pd.Timedelta(minutes=5)]
    local_day = follow_ups["occurred_at"].dt.tz_convert(config.office_time_zone).dt.date
    per_officer_day = follow_ups.groupby([follow_ups["officer_id"], local_day]).size()
    assert per_officer_day.max() <= 4
    assert world.policy_name == "newest_first"


def test_a_plan_naming_an_unknown_lead_is_refused_with_a_clear_message() -> None:
    class _Broken(HistoricalPolicy):
        def plan_day(self, view: DayView) -> pd.DataFrame:
            del view  # a broken policy that ignores what it sees
            return pd.DataFrame({"lead_id": ["L999999"], "channel": ["call"]})

    with pytest.raises(PolicyError, match="L999999"):
        simulate(SimulationConfig(months=1, leads_per_month=20), _Broken())


def test_a_config_out_of_range_names_the_field() -> None:
    with pytest.raises(SimulationConfigError, match="leads_per_month"):
        SimulationConfig(leads_per_month=0)
    with pytest.raises(SimulationConfigError, match="office_time_zone"):
        SimulationConfig(office_time_zone="Mars/Olympus")
    assert SimulationConfig(start=date(2024, 1, 31), months=1).end == date(2024, 2, 29)
