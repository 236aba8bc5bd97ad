"""Training benchmark: the model and every baseline against the oracle on the default simulated
data, and the time to train on 1,000,000 rows.

`python -m benchmarks.bench_training`. The default world goes the product's way: simulate,
event log, `features build` (Feast), the training set through lead_scoring_v1, then the same
split, LightGBM, calibration and evaluation as `leadscore train` (without the registry). The
1M-row timing builds snapshots of a larger simulated lender with the same transforms
(no Feast, to time training alone). Figures: benchmarks/results/training.json.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.report import peak_rss_mib, write

TARGETS = {
    "roc_auc_within_oracle": 0.02,
    "ece_max": 0.02,
    "capture_vs_newest_first": 1.5,
    "train_1m_rows_s": 120.0,
}


def world_metrics(home: Path, officers: int, leads_per_month: int) -> dict[str, Any]:
    """Model, baselines and oracle on a simulated CRM's test slice (5 officers: the default)."""
    from features.build import build_feature_store
    from features.event_log import EventLog
    from features.store import LeadFeatureStore
    from simulator import SimulationConfig, simulate, write_world
    from training.dataset import build_training_frame
    from training.pipeline import evaluate_scorer
    from training.train import TrainConfig, fit_scorer, prepare_lead_data

    config = SimulationConfig(
        officers=officers, leads_per_month=leads_per_month, start=date(2025, 1, 1)
    )
    world = simulate(config)
    sim_dir = home / "sim"
    write_world(world, sim_dir)
    log = EventLog(f"sqlite:///{home / 'leadscore.db'}")
    log.upsert_leads(world.leads)
    log.append_events(world.events)
    log.put_market_rates(world.rates)
    store = LeadFeatureStore(home / "feast")
    build_feature_store(log, store, now=datetime(2026, 1, 1, tzinfo=UTC))
    frame, info = build_training_frame(log, store, horizon_days=30, truth_dir=sim_dir)
    train_config = TrainConfig()
    data = prepare_lead_data(frame, train_config, horizon_days=30, capacity=40)
    clock = time.perf_counter()
    scorer = fit_scorer(data, train_config)
    fit_s = time.perf_counter() - clock
    evaluation = evaluate_scorer(data, scorer, train_config.seed)
    return {
        "rows": info.rows,
        "leads": info.leads,
        "positives": info.positives,
        "test_rows": len(data.slices.test),
        "fit_s": fit_s,
        "methods": evaluation.table.to_dict(orient="index"),
    }


def one_million_rows() -> dict[str, Any]:
    """Train (LightGBM + calibration) with at least 1,000,000 rows in the training slice."""
    from features.transforms import (
        event_columns,
        fold_leads,
        lead_profiles,
        model_frame,
        rows_as_of,
    )
    from simulator import SimulationConfig, simulate
    from training.dataset import sample_entities
    from training.train import TrainConfig, fit_scorer, prepare_lead_data

    world = simulate(
        SimulationConfig(officers=20, leads_per_month=1_500, seed=5, record_daily_hazard=False)
    )
    # The training set's own path, in memory: sampled instants joined to the folded rows.
    entities, _ = sample_entities(world.leads, world.events, horizon_days=30)
    rows = fold_leads(lead_profiles(world.leads), event_columns(world.events)).rows
    joined = rows_as_of(rows, entities, world.rates)
    del rows
    frame = model_frame(joined)
    for column in ("lead_id", "officer_id", "as_of", "sample_weight", "label"):
        frame[column] = entities[column].to_numpy()
    created = world.leads.set_index("lead_id")["created_at"]
    frame["lead_created_at"] = created.reindex(frame["lead_id"]).to_numpy()
    del joined
    config = TrainConfig(max_train_rows=1_000_000)
    data = prepare_lead_data(frame, config, horizon_days=30, capacity=40)
    train_rows = len(data.slices.train)
    if train_rows < 1_000_000:
        # Pad with repeated rows: the timing is about rows, the repeats add no information.
        extra = data.slices.train.sample(1_000_000 - train_rows, replace=True, random_state=0)
        data = type(data)(
            **{**data.__dict__, "slices": type(data.slices)(
                train=pd.concat([data.slices.train, extra], ignore_index=True),
                early_stopping=data.slices.early_stopping,
                calibration=data.slices.calibration,
                test=data.slices.test,
            )}
        )  # fmt: skip
    clock = time.perf_counter()
    scorer = fit_scorer(data, config)
    seconds = time.perf_counter() - clock
    return {
        "train_rows": len(data.slices.train),
        "real_train_rows": train_rows,
        "features": len(data.layout.names),
        "trees": scorer.booster.num_trees(),
        "threads": config.num_threads,
        "train_s": seconds,
        "peak_rss_mib": peak_rss_mib(),
    }


def _row(name: str, m: dict[str, float]) -> list[Any]:
    return [
        name,
        m["roc_auc"],
        m["pr_auc"],
        m["brier"],
        m["ece"],
        f"{m['capture_at_capacity']:.1%}",
        m["top_decile_lift"],
    ]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="leadscore-bench-train-") as tmp:
        quality = world_metrics(Path(tmp), 5, 200)
    # The same lender four times as large: how much of the gap to the oracle is data.
    with tempfile.TemporaryDirectory(prefix="leadscore-bench-train-") as tmp:
        larger = world_metrics(Path(tmp), 20, 800)
    speed = one_million_rows()
    methods = quality["methods"]
    oracle_auc = methods["oracle"]["roc_auc"]
    model = methods["model"]
    checks = {
        "roc_auc_within_0.02_of_oracle": oracle_auc - model["roc_auc"] <= 0.02,
        "ece_at_most_0.02": model["ece"] <= 0.02,
        "capture_at_least_1.5x_newest_first": model["capture_at_capacity"]
        >= 1.5 * methods["newest_first"]["capture_at_capacity"],
        "train_1m_rows_under_2_min": speed["train_s"] < TARGETS["train_1m_rows_s"],
    }
    rows = [_row(name, m) for name, m in methods.items()]
    rows += [
        _row(f"{name} (4x leads)", m)
        for name, m in larger["methods"].items()
        if name in ("model", "oracle")
    ]
    figures = {
        "targets": TARGETS,
        "default_world": quality,
        "world_4x_leads": larger,
        "one_million_rows": speed,
    }
    figures["checks"] = checks
    write(
        "training",
        figures,
        rows,
        ["method", "ROC-AUC", "PR-AUC", "Brier", "ECE", "capture@40", "top-decile lift"],
    )
    print(
        f"trained on {speed['train_rows']:,} rows x {speed['features']} features in "
        f"{speed['train_s']:.1f} s ({speed['trees']} trees, {speed['threads']} threads)"
    )
    for name, ok in checks.items():
        print(f"  {'met' if ok else 'NOT met'}: {name}")
    nan = float("nan")
    print(f"oracle ROC-AUC {oracle_auc:.4f}; model {model.get('roc_auc', nan):.4f}")


if __name__ == "__main__":
    main()
