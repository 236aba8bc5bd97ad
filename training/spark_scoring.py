"""Batch scores on Apache Spark: MLflow's spark_udf gives each row's probability, then the
in-process scorer's own code adds tiers and reasons, batch by batch on the executors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import pandas as pd

from models.scorer import LeadScorer
from training.csv_import import score_csv

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pyspark.sql import SparkSession

TOP_K: Final = 3
REASON_COLUMNS: Final = (*(f"reason_{k + 1} string" for k in range(TOP_K)), "concern_1 string")


def score_schema(reasons: bool) -> str:
    """What `leadscore score --engine spark` writes: score_csv's columns (Spark DDL)."""
    return ", ".join(
        [
            "id string",
            "probability double",
            "tier string",
            *(REASON_COLUMNS if reasons else ()),
            "model_version string",
        ]
    )


PROBABILITY: Final = "probability"


class TableError(ValueError):
    """The table cannot be scored by this model; the message names what is missing."""


def score_table_on_spark(
    spark: SparkSession,
    table: Path,
    out: Path,
    model_uri: str,
    scorer: LeadScorer,
    *,
    reasons: bool = True,
) -> int:
    """Score a parquet table of feature rows (and lead_id) with the model at model_uri
    (scorer: the same model, loaded in process) and write score_csv's columns as parquet under
    ``out`` (the top reasons unless ``reasons`` is False). Returns the rows scored."""
    import mlflow.pyfunc
    from pyspark.sql import functions as sf

    frame = spark.read.parquet(str(table))
    names = list(scorer.layout.names)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise TableError(
            f"{table} lacks {len(missing)} column(s) the model reads: {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}"
        )
    if scorer.metadata.get("csv_recipe"):
        raise TableError(
            "Spark scores tables of lead features (the lead-scorer model); "
            "score a CSV model's export with --csv"
        )
    id_column = "lead_id"
    if id_column not in frame.columns:
        raise TableError(
            f"{table} has no lead_id column: Spark scores rows in no fixed order, "
            "so each needs its id"
        )
    predict = mlflow.pyfunc.spark_udf(spark, model_uri, result_type="double", env_manager="local")
    scored = frame.select(id_column, *names).withColumn(
        PROBABILITY, predict(sf.struct(*[sf.col(n) for n in names]))
    )

    def explain(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            probabilities = batch.pop(PROBABILITY).to_numpy(dtype="float64")
            yield score_csv(
                batch, scorer, reasons=reasons, top_k=TOP_K, probabilities=probabilities
            )

    scored.mapInPandas(explain, schema=score_schema(reasons)).write.mode("overwrite").parquet(
        str(out)
    )
    return int(spark.read.parquet(str(out)).count())
