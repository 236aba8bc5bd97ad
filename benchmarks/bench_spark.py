"""Spark benchmark: full feature builds on Spark at 1M, 3M and 10M events, and batch scoring of
1M rows through MLflow's spark_udf next to the in-process scorer.

`python -m benchmarks.bench_spark` loads the histories of bench_features (the simulated lender
and its copies) into fresh event logs and runs `leadscore features build --full --engine spark`'s
job in a separate process each (local mode, `--master`, default local[2]), so the driver's peak
memory is its own; the JVM's heap is bounded by spark.driver.memory (`--driver-memory`, 2g).
The pandas engine's figures for the same histories come from benchmarks/results/features.json.
Scoring: 1M random lead feature rows, a small registered LightGBM model, probabilities and tiers
through spark_udf (no reasons) against LeadScorer.predict_proba in this process.

`--sizes tiny --score-rows 20000` is the smoke run (a minute or two); the full run is
`python -m benchmarks.bench_spark` (about an hour on 2 cores, most of it loading event logs).
Figures: benchmarks/results/spark.json (the smoke run: spark_smoke.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.bench_features import BUILD_NOW, prepare
from benchmarks.report import RESULTS_DIR, child_step, peak_rss_mib, write

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"base": "tiny", "copies": 1},
    "1M events": {"base": "lender", "copies": 1},
    "3M events": {"base": "lender", "copies": 3},
    "10M events": {"base": "lender", "copies": 10},
}
TARGETS = {"driver_peak_mib_10m": 4096.0}


def build(home: Path, master: str, driver_memory: str) -> dict[str, Any]:
    """The Spark feature build on the loaded event log under home."""
    from features.build import build_feature_store
    from features.event_log import EventLog
    from features.spark_engine import spark_full_fold, start_spark
    from features.store import LeadFeatureStore

    clock = time.perf_counter()
    spark = start_spark(
        master, conf={"spark.driver.memory": driver_memory}, jvm_output=home / "spark-jvm.log"
    )
    start_s = time.perf_counter() - clock
    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    store = LeadFeatureStore(home / "feast")
    clock = time.perf_counter()
    report = build_feature_store(
        log, store, now=BUILD_NOW, full=True, spark_fold=spark_full_fold(spark, home / "spark")
    )
    total = time.perf_counter() - clock
    spark.stop()
    return {
        "spark_start_s": start_s,
        "build_s": total,
        "stages_s": report.seconds,
        "stored_rows": report.stored_rows,
        "online_rows": report.online_rows,
        "events_folded": report.events,
        "driver_peak_rss_mib": peak_rss_mib(),
        "contract_ok": report.validation.ok,
    }


def score(home: Path, rows: int, master: str, driver_memory: str) -> dict[str, Any]:
    """spark_udf against the in-process scorer on the same random feature rows."""
    import mlflow

    from features.definitions import FEATURES
    from features.spark_engine import start_spark
    from models.registry import load_scorer
    from training.spark_scoring import score_table_on_spark

    rng = np.random.default_rng(3)
    data: dict[str, Any] = {"lead_id": [f"L{i:07d}" for i in range(rows)]}
    for spec in FEATURES:
        if spec.kind == "int":
            data[spec.name] = rng.poisson(2.0, rows).astype(np.int64)
        elif spec.kind == "float":
            data[spec.name] = np.where(rng.random(rows) < 0.1, np.nan, rng.exponential(5, rows))
        else:
            data[spec.name] = rng.choice(list(spec.categories), rows)
    frame = pd.DataFrame(data)
    frame.to_parquet(home / "table.parquet", index=False)
    _register_scorer(home, frame.head(20_000))
    uri = f"sqlite:///{home / 'mlflow.db'}"
    scorer = load_scorer(uri, version="1")
    clock = time.perf_counter()
    scorer.predict_proba(frame)
    in_process_s = time.perf_counter() - clock
    spark = start_spark(
        master, conf={"spark.driver.memory": driver_memory}, jvm_output=home / "spark-jvm.log"
    )
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    clock = time.perf_counter()
    scored = score_table_on_spark(
        spark,
        home / "table.parquet",
        home / "scores",
        "models:/lead-scorer/1",
        scorer,
        reasons=False,
    )
    spark_s = time.perf_counter() - clock
    spark.stop()
    return {
        "rows": scored,
        "in_process_s": in_process_s,
        "in_process_rows_per_s": rows / in_process_s,
        "spark_udf_s": spark_s,
        "spark_udf_rows_per_s": rows / spark_s,
    }


def _register_scorer(home: Path, frame: pd.DataFrame) -> None:
    """A LightGBM model of the default shape (31 leaves, 100 trees) as lead-scorer version 1."""
    import lightgbm as lgb
    import mlflow

    from features.definitions import FEATURES
    from models.calibration import Calibrator
    from models.layout import FeatureLayout
    from models.reasons import LEAD_REASON_TEMPLATES
    from models.registry import log_scorer
    from models.scorer import LeadScorer

    layout = FeatureLayout(
        names=tuple(f.name for f in FEATURES),
        kinds={f.name: f.kind for f in FEATURES},
        categories={f.name: f.categories for f in FEATURES if f.kind == "category"},
        nullable=frozenset(f.name for f in FEATURES if f.nullable),
    )
    label = np.random.default_rng(1).random(len(frame)) < 0.05 + 0.02 * frame["web_visits_7d"]
    data = lgb.Dataset(
        layout.encode(frame),
        label=label.astype(float),
        feature_name=list(layout.names),
        categorical_feature=layout.categorical_indices,
    )
    params = {"objective": "binary", "num_leaves": 31, "verbose": -1, "seed": 1}
    scorer = LeadScorer(
        lgb.train(params, data, num_boost_round=100),
        Calibrator("platt", slope=1.0, intercept=0.0),
        layout,
        LEAD_REASON_TEMPLATES,
        base_rate=float(label.mean()),
    )
    uri = f"sqlite:///{home / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("bench", artifact_location=(home / "art").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        log_scorer(scorer, registered_model_name="lead-scorer")


def _child(*args: str) -> dict[str, Any]:
    return child_step("benchmarks.bench_spark", *args)


def _pandas_engine() -> dict[str, Any]:
    path = RESULTS_DIR / "features.json"
    if not path.exists():
        return {}
    figures: dict[str, Any] = json.loads(path.read_text())
    return figures


def main(sizes: list[str], score_rows: int, master: str, driver_memory: str) -> None:
    figures: dict[str, Any] = {"targets": TARGETS, "master": master}
    pandas_engine = _pandas_engine()
    rows = []
    base = Path(os.environ.get("LEADSCORE_BENCH_DIR", tempfile.gettempdir()))
    for size in sizes:
        with tempfile.TemporaryDirectory(dir=base, prefix="leadscore-bench-") as tmp:
            data = _child("prepare", size, tmp)
            load_before = os.getloadavg()[0]
            result = _child("build", tmp, master, driver_memory)
            result["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        result.update(data)
        result["s_per_1m_events"] = result["build_s"] / data["events"] * 1e6
        pandas_s = pandas_engine.get(size, {}).get("s_per_1m_events")
        figures[size] = result
        rows.append(
            [
                f"{size}: Spark full build",
                f"{data['events']:,}",
                f"{result['stored_rows']:,}",
                result["build_s"],
                f"{result['s_per_1m_events']:.1f}",
                f"{pandas_s:.1f}" if pandas_s else "n/a",
                f"{result['driver_peak_rss_mib']:,.0f}",
            ]
        )
    if score_rows:
        with tempfile.TemporaryDirectory(dir=base, prefix="leadscore-bench-") as tmp:
            scoring = _child("score", tmp, str(score_rows), master, driver_memory)
        figures["scoring"] = scoring
        rows.append(
            [
                f"score {scoring['rows']:,} rows: spark_udf",
                "",
                "",
                scoring["spark_udf_s"],
                f"{scoring['spark_udf_rows_per_s']:,.0f} rows/s",
                f"{scoring['in_process_rows_per_s']:,.0f} rows/s in process",
                "",
            ]
        )
    write(
        "spark_smoke" if sizes == ["tiny"] else "spark",
        figures,
        rows,
        [
            "job",
            "events",
            "stored rows",
            "seconds",
            "Spark s per 1M events",
            "pandas engine s per 1M",
            "driver peak MiB",
        ],
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "prepare":
        print(json.dumps(prepare(sys.argv[2], Path(sys.argv[3]), SIZES[sys.argv[2]])))
    elif len(sys.argv) > 1 and sys.argv[1] == "build":
        print(json.dumps(build(Path(sys.argv[2]), sys.argv[3], sys.argv[4])))
    elif len(sys.argv) > 1 and sys.argv[1] == "score":
        print(json.dumps(score(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--sizes", nargs="+", default=[s for s in SIZES if s != "tiny"])
        parser.add_argument("--score-rows", type=int, default=1_000_000)
        parser.add_argument("--master", default="local[2]")
        parser.add_argument("--driver-memory", default="2g")
        args = parser.parse_args()
        main(args.sizes, args.score_rows, args.master, args.driver_memory)
