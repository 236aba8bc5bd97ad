"""Apache Spark in local mode: the Spark engine gives what the pandas engine gives.

One small local Spark session serves every test here (a JVM start costs seconds); the tests
skip, saying why, where Java or pyspark is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.build import build_feature_store
from features.definitions import FEATURES
from features.event_log import EventLog
from features.spark_engine import spark_full_fold, spark_missing_reason, start_spark
from features.store import WRITTEN_AT, LeadFeatureStore
from models.calibration import Calibrator
from models.layout import FeatureLayout
from models.reasons import LEAD_REASON_TEMPLATES
from models.scorer import LeadScorer
from simulator import SimulationConfig, simulate
from training.csv_import import score_csv
from training.spark_scoring import score_table_on_spark

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
        "local[1]",  # one Python worker: CI's other core runs the rest of the suite
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
    quiet = world.leads.head(1).assign(lead_id="Z-no-events")  # a lead that never acted
    log.upsert_leads(pd.concat([world.leads, quiet], ignore_index=True))
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
    assert (actual["lead_id"] == "Z-no-events").sum() == 1  # its creation row
    assert list(actual.columns) == list(expected.columns)
    assert (actual.dtypes == expected.dtypes).all()
    pd.testing.assert_frame_equal(actual, expected)  # every value, NaN where NaN
    assert log.lead_feature_states() == pandas_states  # an incremental build continues alike
    lead_ids = sorted(expected["lead_id"].unique())
    at = datetime(2025, 4, 10, 15, tzinfo=UTC)
    pd.testing.assert_frame_equal(
        spark_store.online_features(lead_ids, at), pandas_store.online_features(lead_ids, at)
    )


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["features", "build", "--engine", "spark"], "add --full"),
        (["score", "--engine", "spark", "--out", "scores"], "needs --table PATH"),
        (["score", "--engine", "dask", "--csv", "x.csv"], "must be 'pandas' or 'spark'"),
    ],
)
def test_spark_options_used_wrongly_get_one_sentence(
    command: list[str], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.cli import app

    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path))
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert says in result.output
    assert "Traceback" not in result.output


def _feature_rows(rows: int, seed: int) -> pd.DataFrame:
    """Lead feature rows with every kind of value the model meets (NaN floats included)."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {"lead_id": [f"L{i:05d}" for i in range(rows)]}
    for spec in FEATURES:
        if spec.kind == "int":
            data[spec.name] = rng.poisson(2.0, rows).astype(np.int64)
        elif spec.kind == "float":
            values = rng.exponential(5.0, rows)
            data[spec.name] = np.where(rng.random(rows) < 0.1, np.nan, values)
        else:
            data[spec.name] = rng.choice(list(spec.categories), rows)
    return pd.DataFrame(data)


def _small_scorer(frame: pd.DataFrame) -> LeadScorer:
    layout = FeatureLayout(
        names=tuple(f.name for f in FEATURES),
        kinds={f.name: f.kind for f in FEATURES},
        categories={f.name: f.categories for f in FEATURES if f.kind == "category"},
        nullable=frozenset(f.name for f in FEATURES if f.nullable),
    )
    logit = -2.0 + 0.4 * frame["web_visits_7d"] - 0.05 * frame["days_since_created"].fillna(0)
    label = np.random.default_rng(1).random(len(frame)) < 1 / (1 + np.exp(-logit.to_numpy()))
    data = lgb.Dataset(
        layout.encode(frame),
        label=label.astype(float),
        feature_name=list(layout.names),
        categorical_feature=layout.categorical_indices,
    )
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 1, "num_threads": 1}
    return LeadScorer(
        lgb.train(params, data, num_boost_round=20),
        Calibrator("platt", slope=1.0, intercept=0.0),
        layout,
        LEAD_REASON_TEMPLATES,
        base_rate=float(label.mean()),
        batch_num_threads=1,
    )


def test_batch_scores_through_spark_udf_equal_the_in_process_scorer(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from models.registry import load_scorer, log_scorer

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("spark", artifact_location=(tmp_path / "art").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        log_scorer(_small_scorer(_feature_rows(2_000, 0)), registered_model_name="lead-scorer")
    scorer = load_scorer(uri, version="1")
    rows = _feature_rows(400, 7)
    rows.to_parquet(tmp_path / "table.parquet", index=False)

    scored = score_table_on_spark(
        spark, tmp_path / "table.parquet", tmp_path / "scores", "models:/lead-scorer/1", scorer
    )

    on_spark = pd.read_parquet(tmp_path / "scores").sort_values("id").reset_index(drop=True)
    in_process = score_csv(rows, scorer).sort_values("id").reset_index(drop=True)
    assert scored == len(rows)
    assert set(on_spark["tier"]) == {"hot", "warm", "cold"}  # a model that tells leads apart
    pd.testing.assert_frame_equal(on_spark, in_process, check_dtype=False)

    from leadscore.cli import app

    monkeypatch.setenv("LEADSCORE_HOME", str(tmp_path / "home"))
    command = ["score", "--engine", "spark", "--table", str(tmp_path / "table.parquet")]
    command += ["--out", str(tmp_path / "cli"), "--tracking-uri", uri, "--version", "1"]
    result = CliRunner().invoke(app, command)  # the session above: one JVM per process
    assert result.exit_code == 0, result.output
    assert "scored 400 rows on Spark with lead-scorer/1" in result.output
    from_cli = pd.read_parquet(tmp_path / "cli").sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(from_cli, on_spark)
