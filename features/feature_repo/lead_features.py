"""Feast definitions: the lead and rate-series entities, row and rate sources, views, and
lead_scoring_v1.

The stored view holds one row per lead per change (features.transforms STORED_COLUMNS, keyed by
the event time that changed it); the market-rate view holds the daily 30-year rate; the
on-demand view derives the clock features (days since ..., windowed counts, timeline months,
the rate gap, segments) from the stored row, the rate and the request's as-of time, so they are
exact whenever a score is asked for, not when the online store was last written.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Array, ComplexFeastType, Float64, Int64, PrimitiveFeastType, String
from feast.value_type import ValueType

from features.definitions import (
    CLOCK_FEATURES,
    FEATURE_NAMES,
    FEATURE_SERVICE_NAME,
    FEATURES_BY_NAME,
)
from features.transforms import CLOCK_COLUMNS, MARKET_RATE_COLUMN, STORED_COLUMNS

ROWS_PATH = "data/lead_rows/*.parquet"
RATES_PATH = "data/market_rates/*.parquet"
"""Relative to the repository folder Feast runs in (the data home's copy by default)."""

RATE_SERIES = "us_30y_fixed"
"""The one market-rate series today; every entity row names it (rate_series)."""

REQUEST_TIME_FIELD = "as_of_epoch_s"
"""The moment a score is asked for, seconds since 1970 UTC; the entity frame's as-of offline."""

_FEAST_TYPES: dict[str, PrimitiveFeastType | ComplexFeastType] = {
    "int64": Int64,
    "float64": Float64,
    "string": String,
    "list": Array(Float64),
}

# Why an entity: every feature here describes one lead, joined by the CRM's lead id.
lead = Entity(
    name="lead",
    join_keys=["lead_id"],
    value_type=ValueType.STRING,
    description="a prospective borrower, by the CRM's lead id",
    tags={"pii": "false"},
)

# Why an entity: the market rate is one value per series and day, shared by every lead.
rate_series = Entity(
    name="rate_series",
    join_keys=["rate_series"],
    value_type=ValueType.STRING,
    description="a published mortgage-rate series (the 30-year fixed average)",
    tags={"pii": "false"},
)

# Why a file source: the stored rows, one per lead per change, are the offline store.
lead_rows = FileSource(
    name="lead_rows",
    path=ROWS_PATH,
    timestamp_field="changed_at",
    created_timestamp_column="written_at",
    description="one row per lead per change, keyed by the event time (leadscore features build)",
)

# Why a push source: serving folds a lead's new events on each ingest and pushes the row online.
lead_activity_push = PushSource(
    name="lead_activity_push",
    batch_source=lead_rows,
    description="a lead's newest stored row, pushed on every ingested event",
)

# Why no ttl: a row holds until the lead's next change, however long that takes.
lead_activity = FeatureView(
    name="lead_activity",
    entities=[lead],
    ttl=timedelta(0),
    schema=[Field(name="officer_id", dtype=String, description="the lead's loan officer")]
    + [
        Field(name=name, dtype=_FEAST_TYPES[dtype], tags={"pii": "false"})
        for name, dtype in STORED_COLUMNS.items()
    ],
    online=True,
    source=lead_activity_push,
    owner="leadscore",
    description="counts, rates, profile, and the moments clock features derive from",
    tags={"pii": "false"},
)

# Why a file source: daily rates, dated at 00:00 UTC of their day.
market_rate_days = FileSource(
    name="market_rate_days",
    path=RATES_PATH,
    timestamp_field="rate_day",
    description="the daily 30-year fixed rate (leadscore ingest of a rates file)",
)

# Why a push source: the online store holds the newest rate, pushed when rates come in.
market_rate_push = PushSource(
    name="market_rate_push",
    batch_source=market_rate_days,
    description="the newest market rate",
)

# Why its own view: the rate gap must use the rate of the as-of day, not of the lead's last event.
market_rates = FeatureView(
    name="market_rates",
    entities=[rate_series],
    ttl=timedelta(0),
    schema=[Field(name=MARKET_RATE_COLUMN, dtype=Float64, description="percent")],
    online=True,
    source=market_rate_push,
    owner="leadscore",
    description="the market's 30-year fixed rate by day",
    tags={"pii": "false"},
)

# Why a request source: the clock features need the time the score is asked for.
scoring_request = RequestSource(
    name="scoring_request",
    schema=[Field(name=REQUEST_TIME_FIELD, dtype=Float64)],
    description="the as-of time of a score request",
)


def _clock_type(name: str) -> PrimitiveFeastType:
    return String if FEATURES_BY_NAME[name].kind == "category" else Float64


# Why on demand: days-since features must be right at request time, not at materialization.
@on_demand_feature_view(
    sources=[lead_activity, market_rates, scoring_request],
    schema=[Field(name=name, dtype=_clock_type(name)) for name in CLOCK_COLUMNS],
    mode="pandas",
    description="clock features derived at request time with features.transforms",
    owner="leadscore",
)
def lead_clock_features(inputs: pd.DataFrame) -> pd.DataFrame:
    # Feast runs this function from its source text, so it imports what it uses itself.
    from features.transforms import derive_clock_features

    return derive_clock_features(inputs, inputs["as_of_epoch_s"]).reset_index(drop=True)


STORED_FEATURES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n not in CLOCK_FEATURES)

# Why a versioned service: it is the model's feature contract; training and serving both use it.
lead_scoring_v1 = FeatureService(
    name=FEATURE_SERVICE_NAME,
    features=[lead_activity[list(STORED_FEATURES)], lead_clock_features],
    description="every model input of the lead scorer, v1",
    owner="leadscore",
)

FEAST_OBJECTS = (
    lead,
    rate_series,
    lead_rows,
    lead_activity_push,
    lead_activity,
    market_rate_days,
    market_rate_push,
    market_rates,
    scoring_request,
    lead_clock_features,
    lead_scoring_v1,
)
"""Everything `apply` registers, in dependency order."""
