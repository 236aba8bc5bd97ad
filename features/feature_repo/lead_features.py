"""Feast definitions: the lead entity, snapshot and push sources, views, and lead_scoring_v1.

The stored view holds what changes only when an event happens (features.transforms
STORED_COLUMNS); the on-demand view derives the clock features (days since ..., timeline
months, segments) from stored moments and the request's as-of time, so they are right when a
score is asked for, not when the online store was last written.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64, PrimitiveFeastType, String
from feast.value_type import ValueType

from features.definitions import (
    CLOCK_FEATURES,
    FEATURE_NAMES,
    FEATURE_SERVICE_NAME,
    FEATURES_BY_NAME,
)
from features.transforms import CLOCK_COLUMNS, STORED_COLUMNS

SNAPSHOTS_PATH = "data/lead_snapshots/*.parquet"
"""Relative to the repository folder Feast runs in (the data home's copy by default)."""

REQUEST_TIME_FIELD = "as_of_epoch_s"
"""The moment a score is asked for, seconds since 1970 UTC; the entity frame's as-of offline."""

_FEAST_TYPES: dict[str, PrimitiveFeastType] = {
    "int64": Int64,
    "float64": Float64,
    "string": String,
}

# Why an entity: every feature here describes one lead, joined by the CRM's lead id.
lead = Entity(
    name="lead",
    join_keys=["lead_id"],
    value_type=ValueType.STRING,
    description="a prospective borrower, by the CRM's lead id",
    tags={"pii": "false"},
)

# Why a file source: daily parquet snapshots are the offline store on one machine.
lead_snapshots = FileSource(
    name="lead_snapshots",
    path=SNAPSHOTS_PATH,
    timestamp_field="as_of",
    description="daily point-in-time snapshots of every open lead (leadscore features build)",
)

# Why a push source: serving recomputes a lead on each ingested event and pushes it online.
lead_activity_push = PushSource(
    name="lead_activity_push",
    batch_source=lead_snapshots,
    description="fresh stored features of one lead, pushed on every ingested event",
)

# Why ttl: a lead without a snapshot for two days was closed (applied or opted out everywhere).
lead_activity = FeatureView(
    name="lead_activity",
    entities=[lead],
    ttl=timedelta(days=2),
    schema=[Field(name="officer_id", dtype=String, description="the lead's loan officer")]
    + [
        Field(name=name, dtype=_FEAST_TYPES[dtype], tags={"pii": "false"})
        for name, dtype in STORED_COLUMNS.items()
    ],
    online=True,
    source=lead_activity_push,
    owner="leadscore",
    description="engagement counts, rates, profile and the moments clock features derive from",
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
    sources=[lead_activity, scoring_request],
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
    lead_snapshots,
    lead_activity_push,
    lead_activity,
    scoring_request,
    lead_clock_features,
    lead_scoring_v1,
)
"""Everything `apply` registers, in dependency order."""
