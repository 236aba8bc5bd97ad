"""Apache Spark engine: the full feature build's per-lead fold, distributed by Spark.

Spark runs the pandas engine's own functions, not a copy of them: the event log is exported
(only the columns the fold reads; no names, phones or emails) as parquet, Spark groups leads and
events by lead_id (``cogroup(...).applyInPandas``), and each group is folded by
``transforms.fold_rows``. Spark writes the stored rows as parquet, each lead's newest row
carrying its final fold state; the driver then streams those files, one at a time, into the
offline store, the online store and the saved states, exactly as the pandas engine's parts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.event_log import EventLog
from features.transforms import (
    STORED_COLUMNS,
    RowKey,
    event_columns,
    fold_rows,
    lead_profiles,
    stored_rows_frame,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOG4J2_CONFIG: Final = Path(__file__).with_name("spark_log4j2.properties")
"""Spark's own log lines at ERROR only (its default profile prints INFO/WARN to the console)."""

EXPORT_LEADS_PER_PART: Final = 20_000
"""The export reads and writes this many leads (and their events) at a time."""

LEAD_EXPORT_COLUMNS: Final[tuple[str, ...]] = (
    "lead_id",
    "officer_id",
    "source",
    "loan_type",
    "loan_amount_usd",
    "credit_band",
    "quoted_rate_pct",
    "timeline_statement",
)
EVENT_EXPORT_COLUMNS: Final[tuple[str, ...]] = (
    "event_id",
    "lead_id",
    "event_type",
    "channel",
    "call_outcome",
    "question_topic",
    "page",
    "text",
)
LEAD_TIMES: Final[tuple[str, ...]] = ("created_at", "updated_at")
EVENT_TIMES: Final[tuple[str, ...]] = ("occurred_at",)
"""Timestamps travel as int64 nanoseconds since the epoch (``<name>_ns``): exact, and free of
Spark's session time zone."""

FOLD_STATE: Final = "fold_state"
"""On each lead's newest row: its final fold state (JSON); null on the others."""
LEAD_UPDATED_AT_NS: Final = "lead_updated_at_ns"
LEAD_EVENTS: Final = "lead_events"

_SPARK_TYPES: Final = {
    "string": "string",
    "float64": "double",
    "int64": "bigint",
    "list": "array<double>",
}
FOLD_OUTPUT_SCHEMA: Final = ", ".join(
    [
        "lead_id string",
        "officer_id string",
        "changed_at_us bigint",
        *(f"{name} {_SPARK_TYPES[dtype]}" for name, dtype in STORED_COLUMNS.items()),
        f"{FOLD_STATE} string",
        f"{LEAD_UPDATED_AT_NS} bigint",
        f"{LEAD_EVENTS} bigint",
    ]
)
"""What each group's fold returns (Spark DDL): the stored row, keyed as the pandas engine's."""


class SparkUnavailableError(RuntimeError):
    """Spark cannot start here (no Java, no pyspark); the message says what to install."""


def java_executable() -> str | None:
    """The java Spark would launch: $JAVA_HOME/bin/java, else java on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def spark_missing_reason() -> str | None:
    """Why Spark cannot run here, or None when it can."""
    if java_executable() is None:
        return (
            "Spark needs Java 17 or newer and none was found: install it (Debian: "
            "apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed: pip install 'leadscore[spark]'"
    return None


def start_spark(
    master: str = "local[*]",
    *,
    conf: Mapping[str, str] | None = None,
    app_name: str = "leadscore",
    jvm_output: Path | None = None,
) -> SparkSession:
    """A Spark session whose Python workers run this interpreter, with Spark's logging quiet.

    ``conf`` adds or overrides Spark settings (``spark.sql.shuffle.partitions``,
    ``spark.executor.memory``, ...). ``jvm_output``: a file that takes the JVM's stderr (Spark's
    error log lines, and start-up warnings the JVM prints before any log configuration).
    """
    reason = spark_missing_reason()
    if reason is not None:
        raise SparkUnavailableError(reason)
    from pyspark.sql import SparkSession

    # Workers must import pandas and this package: the project's interpreter, unless the
    # cluster names its own (PYSPARK_PYTHON set by the operator).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    quiet = f"-Dlog4j2.configurationFile=file:{LOG4J2_CONFIG}"
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.extraJavaOptions": quiet,
        "spark.executor.extraJavaOptions": quiet,
        **(conf or {}),
    }
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    with _process_output_to(jvm_output):
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextlib.contextmanager
def _process_output_to(path: Path | None) -> Iterator[None]:
    """Point this process's stderr file descriptor at ``path`` while the block runs: a child
    started in it (the JVM, which prints its warnings and Spark's log there, and the Python
    workers it starts) keeps writing there. stdout stays: the command's own output."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with path.open("ab") as target:
            os.dup2(target.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _nanoseconds(values: pd.Series) -> np.ndarray[Any, np.dtype[np.int64]]:
    stamps = pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
    return stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)


def export_event_log(log: EventLog, folder: Path, *, through_seq: int) -> tuple[int, int]:
    """Write the leads and the events up to through_seq as parquet under folder/{leads,events},
    a range of leads at a time (memory holds one range). Returns (leads, events) written."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "leads").mkdir(parents=True)
    (folder / "events").mkdir(parents=True)
    leads_written = events_written = 0
    for index, lead_range in enumerate(log.lead_id_ranges(EXPORT_LEADS_PER_PART)):
        leads = log.leads(lead_range=lead_range)
        events = log.events(lead_range=lead_range, through_seq=through_seq)
        lead_part = leads[list(LEAD_EXPORT_COLUMNS)].copy()
        for name in LEAD_TIMES:
            lead_part[f"{name}_ns"] = _nanoseconds(leads[name])
        event_part = events[list(EVENT_EXPORT_COLUMNS)].copy()
        for name in EVENT_TIMES:
            event_part[f"{name}_ns"] = _nanoseconds(events[name])
        lead_part.to_parquet(folder / "leads" / f"part-{index:05d}.parquet", index=False)
        event_part.to_parquet(folder / "events" / f"part-{index:05d}.parquet", index=False)
        leads_written += len(leads)
        events_written += len(events)
    return leads_written, events_written


def _with_times(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    frame = frame.copy()
    for name in names:
        frame[name] = pd.to_datetime(frame.pop(f"{name}_ns").astype("int64"), unit="ns", utc=True)
    return frame


def fold_lead_group(leads: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """One Spark group (a lead and its events, as exported) folded by the pandas engine's
    functions: its stored rows, the newest with the final state (FOLD_OUTPUT_SCHEMA)."""
    leads = _with_times(leads, LEAD_TIMES)
    events = _with_times(events, EVENT_TIMES)
    folded = fold_rows(lead_profiles(leads), event_columns(events))
    frame = stored_rows_frame(folded.keys, folded.rows)
    frame.insert(2, "changed_at_us", frame.pop("changed_at").astype("int64") // 1000)
    ids = [k[0] for k in folded.keys]  # ordered by lead, then changed_at
    newest = [i + 1 == len(ids) or ids[i + 1] != ids[i] for i in range(len(ids))]
    updated = dict(
        zip(leads["lead_id"].astype(str), _nanoseconds(leads["updated_at"]), strict=True)
    )
    counts = events["lead_id"].astype(str).value_counts()
    frame[FOLD_STATE] = [
        folded.states[lead_id].to_json() if last else None
        for lead_id, last in zip(ids, newest, strict=True)
    ]
    frame[LEAD_UPDATED_AT_NS] = [
        updated[i] if last else None for i, last in zip(ids, newest, strict=True)
    ]
    frame[LEAD_EVENTS] = [
        int(counts.get(i, 0)) if last else None for i, last in zip(ids, newest, strict=True)
    ]
    frame[LEAD_UPDATED_AT_NS] = frame[LEAD_UPDATED_AT_NS].astype("Int64")
    frame[LEAD_EVENTS] = frame[LEAD_EVENTS].astype("Int64")
    return frame


def fold_on_spark(spark: SparkSession, export: Path, out: Path) -> None:
    """Fold the exported leads and events on Spark into stored-row parquet under ``out``."""
    leads = spark.read.parquet(str(export / "leads"))
    events = spark.read.parquet(str(export / "events"))
    folded = (
        leads.groupBy("lead_id")
        .cogroup(events.groupBy("lead_id"))
        .applyInPandas(fold_lead_group, schema=FOLD_OUTPUT_SCHEMA)
    )
    folded.write.mode("overwrite").parquet(str(out))


@dataclass
class SparkPart:
    """One file of Spark's output, ready for the stores (the shape of a pandas-engine part)."""

    leads: int
    events: int
    states: dict[str, tuple[str, pd.Timestamp]]
    online_keys: list[RowKey]
    online_rows: list[tuple[Any, ...]]
    table: pa.Table


def read_fold_output(out: Path) -> Iterator[SparkPart]:
    """Spark's output files, one at a time, as stored-row tables plus states and newest rows."""
    for path in sorted(out.glob("part-*.parquet")):
        table = pq.read_table(path)
        if table.num_rows == 0:
            continue
        micros = table.column("changed_at_us")
        changed = micros.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("ns", tz="UTC"))
        rows = pa.table(
            {
                "lead_id": table.column("lead_id"),
                "officer_id": table.column("officer_id"),
                "changed_at": changed,
                **{name: table.column(name) for name in STORED_COLUMNS},
            }
        )
        newest = table.filter(pc.is_valid(table.column(FOLD_STATE)))
        ids = newest.column("lead_id").to_pylist()
        keys = [
            (lead_id, officer, us / 1e6)
            for lead_id, officer, us in zip(
                ids,
                newest.column("officer_id").to_pylist(),
                newest.column("changed_at_us").to_pylist(),
                strict=True,
            )
        ]
        values = [newest.column(name).to_pylist() for name in STORED_COLUMNS]
        updated = pd.to_datetime(newest.column(LEAD_UPDATED_AT_NS).to_numpy(), unit="ns", utc=True)
        yield SparkPart(
            leads=len(ids),
            events=int(pc.sum(newest.column(LEAD_EVENTS)).as_py() or 0),
            states=dict(
                zip(
                    ids,
                    zip(newest.column(FOLD_STATE).to_pylist(), updated, strict=True),
                    strict=True,
                )
            ),
            online_keys=keys,
            online_rows=list(zip(*values, strict=True)),
            table=rows,
        )


SparkFold = Callable[[EventLog, int], Iterator[SparkPart]]
"""A full build's fold on Spark: (event log, through_seq) -> the folded parts."""


def spark_full_fold(spark: SparkSession, work_dir: Path) -> SparkFold:
    """The Spark fold for build_feature_store: export, fold on Spark, read back file by file.

    work_dir must be a folder the driver and every executor see (local disk in local mode;
    a shared file system on a cluster).
    """

    def fold(log: EventLog, through_seq: int) -> Iterator[SparkPart]:
        export, out = work_dir / "export", work_dir / "lead_rows"
        leads, _events = export_event_log(log, export, through_seq=through_seq)
        if not leads:  # an empty log: nothing to fold (and no parquet for Spark to read)
            return
        fold_on_spark(spark, export, out)
        yield from read_fold_output(out)

    return fold
