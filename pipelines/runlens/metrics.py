"""Metric tables: each ``sql/<table>.sql`` run by DuckDB over the runs lake, written as Parquet under lake/metrics/.

Day-partitioned tables live in ``metrics/<table>/day=YYYY-MM-DD/data.parquet`` (the ``day`` column comes from
the folder name, as ``created_date`` does for runs); the others are one ``metrics/<table>/data.parquet``,
recomputed whole on every refresh. Every file is replaced atomically (``lake.atomic_target``). The SQL files
define the metrics; ``docs/metrics.md`` explains them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from runlens import lake
from runlens.config import SQL_DIR
from runlens.contracts import RUNS_SCHEMA

PARTITION_COLUMN = "day"
DATA_FILE = "data.parquet"
MACRO_FILE = "workflow_metrics_macro.sql"


class DayOf(Enum):
    """Which UTC day of a run puts it into a partition of a day-partitioned metric table."""

    CREATED = "created_date"
    COMPLETED = "completed_at"


@dataclass(frozen=True)
class MetricTable:
    """One metric table: ``sql/<name>.sql``, its partitioning and the parameters it binds (with defaults).

    A partitioned table's SQL binds ``$days`` (the partition days to compute, NULL for all) and returns a
    ``day`` column, which becomes the folder name.
    """

    name: str
    partitioned_by: DayOf | None = None
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def sql_file(self) -> Path:
        return SQL_DIR / f"{self.name}.sql"


METRIC_TABLES: tuple[MetricTable, ...] = (
    MetricTable("workflow_daily_metrics", DayOf.CREATED),
    MetricTable("workflow_hourly_throughput", DayOf.COMPLETED),
    MetricTable("error_signatures"),
    MetricTable(
        "stuck_runs",
        params={"as_of": None, "min_age_s": 3600.0, "p99_multiplier": 3.0, "p99_window_days": 28, "threshold_s": None},
    ),
    MetricTable("workflow_regressions", params={"as_of": None, "p95_ratio": 1.5, "min_runs": 20}),
)

# Parameters users may override through refresh_metrics(params=...); as_of has its own argument.
TUNABLE_PARAMS = frozenset(name for table in METRIC_TABLES for name in table.params) - {"as_of"}


def macro_sql() -> str:
    """DDL of the metric macros (``workflow_metrics``, ``fleet_metrics`` and their helpers) over ``runs``."""
    return (SQL_DIR / MACRO_FILE).read_text()


def metric_globs(lake_dir: Path) -> dict[str, str]:
    """The glob that reads each metric table (read partitioned ones with ``hive_partitioning``, ``day`` DATE)."""
    metrics_dir = lake.table_dir(lake_dir, lake.METRICS)
    return {
        table.name: lake.table_glob(metrics_dir, table.name, partitioned=table.partitioned_by is not None)
        for table in METRIC_TABLES
    }


def refresh_metrics(
    lake_dir: Path,
    days: Collection[date] | None = None,
    *,
    as_of: datetime | None = None,
    params: Mapping[str, object] | None = None,
    tables: Collection[str] | None = None,
) -> dict[str, int]:
    """Recompute the metric tables from ``lake/runs``; returns the number of rows written per table.

    ``days``: the created_date partitions of runs that changed (None: everything). Daily metrics are recomputed
    for those days; hourly throughput for those days and every UTC day on which a finished run created on them
    completed. A run whose completed_at moved to another day (a status conflict) leaves its old completion day
    stale unless that day is in ``days`` too. The other tables are recomputed whole. Partitions that no longer
    have rows are removed.

    ``as_of``: the time the lake describes, for stuck runs and regressions (timezone-aware); default: the newest
    created_at or completed_at in runs. ``params`` overrides the SQL parameters in ``TUNABLE_PARAMS``.
    ``tables``: the names of the tables to refresh (None: all).
    """
    overrides = dict(params or {})
    unknown = sorted(set(overrides) - TUNABLE_PARAMS)
    if unknown:
        raise ValueError(f"unknown metric parameters {unknown}; known: {sorted(TUNABLE_PARAMS)}")
    if as_of is not None and as_of.utcoffset() is None:
        raise ValueError(f"as_of {as_of.isoformat()} has no time zone; pass an aware datetime such as one in UTC")
    chosen = _choose(tables)

    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        _create_runs_view(con, lake_dir)
        con.execute(macro_sql())
        if as_of is None and any("as_of" in table.params for table in chosen):
            as_of = _newest_event(con)
        metrics_dir = lake.table_dir(lake_dir, lake.METRICS)
        counts: dict[str, int] = {}
        for table in chosen:
            bound = {name: overrides.get(name, default) for name, default in table.params.items()}
            if "as_of" in bound:
                bound["as_of"] = as_of
            if table.partitioned_by is None:
                result = con.sql(table.sql_file.read_text(), params=bound).to_arrow_table()
                _write(metrics_dir / table.name / DATA_FILE, result)
            else:
                selected = _partition_days(con, table.partitioned_by, days)
                result = con.sql(table.sql_file.read_text(), params={**bound, "days": selected}).to_arrow_table()
                _write_partitions(metrics_dir / table.name, result, selected)
            counts[table.name] = result.num_rows
    return counts


def _choose(names: Collection[str] | None) -> list[MetricTable]:
    if names is None:
        return list(METRIC_TABLES)
    unknown = sorted(set(names) - {table.name for table in METRIC_TABLES})
    if unknown:
        raise ValueError(f"unknown metric tables {unknown}; known: {[table.name for table in METRIC_TABLES]}")
    return [table for table in METRIC_TABLES if table.name in names]


def _create_runs_view(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> None:
    """The ``runs`` relation the SQL reads: the lake table, or an empty one with its columns if there is none."""
    if lake.has_files(lake_dir, lake.RUNS, partitioned=True):
        con.execute("set variable runs_glob = $glob", {"glob": lake.table_glob(lake_dir, lake.RUNS, partitioned=True)})
        con.execute(
            "create temp view runs as select * from read_parquet("
            "getvariable('runs_glob'), hive_partitioning = true, hive_types = {'created_date': 'DATE'})"
        )
    else:
        con.register("runs", RUNS_SCHEMA.append(pa.field("created_date", pa.date32())).empty_table())


def _newest_event(con: duckdb.DuckDBPyConnection) -> datetime | None:
    [(newest,)] = con.execute("select max(greatest(created_at, completed_at)) from runs").fetchall()
    return newest


def _partition_days(con: duckdb.DuckDBPyConnection, day_of: DayOf, days: Collection[date] | None) -> list[date] | None:
    """The partitions to recompute when the runs of ``days`` changed (None: all)."""
    if days is None:
        return None
    if day_of is DayOf.CREATED:
        return sorted(set(days))
    # the changed days themselves, and the UTC days on which the finished runs created on them completed
    rows = con.execute(
        """
        select distinct timezone('UTC', completed_at)::date
        from runs
        where list_contains($days, created_date) and status in ('completed', 'failed') and completed_at is not null
        """,
        {"days": sorted(set(days))},
    ).fetchall()
    return sorted(set(days) | {day for (day,) in rows})


def _write(path: Path, table: pa.Table) -> None:
    with lake.atomic_target(path) as tmp:
        pq.write_table(table, tmp)


def _write_partitions(table_dir: Path, result: pa.Table, selected: list[date] | None) -> None:
    """Write one file per day of ``result``; remove the files of selected days (all when None) left empty."""
    result = result.sort_by(PARTITION_COLUMN)
    day_runs = pc.run_end_encode(result.column(PARTITION_COLUMN).combine_chunks())
    data = result.drop_columns([PARTITION_COLUMN])
    written, start = set(), 0
    for day, end in zip(day_runs.values.to_pylist(), day_runs.run_ends.to_pylist(), strict=True):
        _write(_partition_file(table_dir, day), data.slice(start, end - start))
        written.add(day)
        start = end
    for day in (_existing_days(table_dir) if selected is None else set(selected)) - written:
        lake.remove_file(_partition_file(table_dir, day))


def _existing_days(table_dir: Path) -> set[date]:
    prefix = f"{PARTITION_COLUMN}="
    return {date.fromisoformat(folder.name.removeprefix(prefix)) for folder in table_dir.glob(prefix + "*")}


def _partition_file(table_dir: Path, day: date) -> Path:
    return table_dir / f"{PARTITION_COLUMN}={day.isoformat()}" / DATA_FILE
