"""Apache Spark in local mode: the Spark engine gives what the pandas engine gives.

One small local Spark session serves every test here (a JVM start costs seconds); the tests
skip, saying why, where Java or pyspark is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.build import build_feature_store
from features.event_log import EventLog
from features.spark_engine import spark_full_fold, spark_missing_reason, start_spark
from features.store import WRITTEN_AT, LeadFeatureStore
from simulator import SimulationConfig, simulate

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SMALL_WORLD = SimulationConfig(
    officers=2, months=3, leads_per_month=100, seed=5, start=date(2025, 1, 1)
)
"""About 300 leads and 1,200 events: every event type, in a few seconds of folding."""
NOW = datetime(2025, 4, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    reason = spark_missing_reason()
    if reason is not None:
        pytest.skip(f"Spark tests need Java 17+ and pyspark: {reason}")
    session = start_spark(
        "local[2]",
        conf={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"},
        app_name="leadscore-tests",
        jvm_output=tmp_path_factory.mktemp("spark-logs") / "jvm.log",
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def world_log(tmp_path_factory: pytest.TempPathFactory) -> EventLog:
    world = simulate(SMALL_WORLD)
    log = EventLog(f"sqlite:///{tmp_path_factory.mktemp('spark-world') / 'log.db'}")
    log.upsert_leads(world.leads)
    log.append_events(world.events)
    log.put_market_rates(world.rates)
    return log


def _stored_rows(store: LeadFeatureStore) -> pd.DataFrame:
    rows = store.read_rows().drop(columns=[WRITTEN_AT])
    return rows.sort_values(["lead_id", "changed_at"]).reset_index(drop=True)


def test_a_full_build_on_spark_equals_the_pandas_engine_row_for_row(
    spark: SparkSession, world_log: EventLog, tmp_path: Path
) -> None:
    log = world_log
    pandas_store = LeadFeatureStore(tmp_path / "pandas")
    on_pandas = build_feature_store(log, pandas_store, now=NOW, full=True, workers=1)
    pandas_states = log.lead_feature_states()

    spark_store = LeadFeatureStore(tmp_path / "spark")
    on_spark = build_feature_store(
        log, spark_store, now=NOW, full=True, spark_fold=spark_full_fold(spark, tmp_path / "work")
    )

    assert on_spark.validation.ok, on_spark.validation.render()
    assert (on_spark.leads, on_spark.events, on_spark.stored_rows, on_spark.online_rows) == (
        on_pandas.leads,
        on_pandas.events,
        on_pandas.stored_rows,
        on_pandas.online_rows,
    )
    assert on_pandas.leads > 200
    assert on_pandas.stored_rows > on_pandas.leads
    expected, actual = _stored_rows(pandas_store), _stored_rows(spark_store)
    assert list(actual.columns) == list(expected.columns)
    assert (actual.dtypes == expected.dtypes).all()
    pd.testing.assert_frame_equal(actual, expected)  # every value, NaN where NaN
    assert log.lead_feature_states() == pandas_states  # an incremental build continues alike
    lead_ids = sorted(expected["lead_id"].unique())
    at = datetime(2025, 4, 10, 15, tzinfo=UTC)
    pd.testing.assert_frame_equal(
        spark_store.online_features(lead_ids, at), pandas_store.online_features(lead_ids, at)
    )


def test_features_build_on_spark_needs_a_full_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.cli import app

    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["features", "build", "--engine", "spark"])
    assert result.exit_code == 2
    assert "add --full" in result.output
    assert "Traceback" not in result.output
