"""Metric tables: each ``sql/<table>.sql`` run by DuckDB over the runs lake, written as Parquet under lake/metrics/.

Day-partitioned tables live in ``metrics/<table>/day=YYYY-MM-DD/data.parquet`` (the ``day`` column comes from
the folder name, as ``created_date`` does for runs); the others are one ``metrics/<table>/data.parquet``,
rewritten on every refresh. Every file is replaced atomically (``lake.atomic_target``). The SQL files define the
metrics; ``docs/metrics.md`` explains them.

A refresh after some runs partitions changed reads only what it needs: those partitions, the partitions of a
table's time window, and partial results kept per created_date partition (``sql/partial_*.sql``, one file each
under ``metrics/_partial/``), of which only the rows of the changed partitions are recomputed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from itertools import pairwise
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from runlens import db, lake, runs
from runlens.config import SQL_DIR
from runlens.contracts import RUNS_PARTITION_COLUMN, RUNS_SCHEMA
from runlens.errors import ConfigError

PARTITION_COLUMN = "day"
DATA_FILE = "data.parquet"
MACRO_FILE = "workflow_metrics_macro.sql"
PARTIAL_DIR = "_partial"
PARAMS_KEY = b"runlens.params"  # a whole-lake table's file records the parameters it was computed with


class DayOf(Enum):
    """Which UTC day of a run puts it into a partition of a day-partitioned metric table."""

    CREATED = "created_date"
    COMPLETED = "completed_at"


@dataclass(frozen=True)
class Partial:
    """A partial result per created_date partition of runs: ``sql/<name>.sql`` over the runs it is given, returning
    a ``created_date`` column. It is kept whole in ``metrics/_partial/<name>.parquet``; a refresh replaces the rows
    of the changed partitions (all rows when the file is missing or has other columns)."""

    name: str

    @property
    def sql_file(self) -> Path:
        return SQL_DIR / f"{self.name}.sql"

    def path(self, lake_dir: Path) -> Path:
        return lake.table_dir(lake_dir, lake.METRICS) / PARTIAL_DIR / f"{self.name}.parquet"


NEWEST_EVENTS = Partial("partial_newest_events")  # gives the default as_of


@dataclass(frozen=True)
class MetricTable:
    """One metric table: ``sql/<name>.sql``, its partitioning, the parameters it binds (with defaults) and what its
    SQL reads.

    A partitioned table's SQL binds ``$days`` (the partition days to compute, NULL for all) and returns a
    ``day`` column, which becomes the folder name. A table partitioned by creation day computes the changed days;
    one partitioned by completion day, the ``day`` values its partial's rows of the changed partitions had or have.

    The SQL reads ``partial`` (a relation of that name) if set, and ``runs``: ``windowed`` tables read runs only
    through the window macros of ``sql/workflow_metrics_macro.sql``, which bound created_date, so they are given
    every partition and DuckDB opens only those of the window; the others read no partition when they have a
    partial, else the changed partitions.
    """

    name: str
    partitioned_by: DayOf | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    partial: Partial | None = None
    windowed: bool = False

    def __post_init__(self) -> None:
        if self.partitioned_by is DayOf.COMPLETED and self.partial is None:
            raise ValueError(f"{self.name}: partitioned by completion day, so it needs a partial to find those days")

    @property
    def sql_file(self) -> Path:
        return SQL_DIR / f"{self.name}.sql"

    @property
    def partials(self) -> list[Partial]:
        """The partials to bring up to date first: its own, and the newest events when it binds ``as_of``."""
        return [p for p in (self.partial, NEWEST_EVENTS if "as_of" in self.params else None) if p is not None]


METRIC_TABLES: tuple[MetricTable, ...] = (
    MetricTable("workflow_daily_metrics", DayOf.CREATED),
    MetricTable("workflow_hourly_throughput", DayOf.COMPLETED, partial=Partial("partial_hourly_throughput")),
    MetricTable("error_signatures", partial=Partial("partial_error_signatures")),
    MetricTable(
        "stuck_runs",
        params={"as_of": None, "min_age_s": 3600.0, "p99_multiplier": 3.0, "p99_window_days": 28, "threshold_s": None},
        partial=Partial("partial_in_flight_runs"),
        windowed=True,
    ),
    MetricTable(
        "workflow_regressions",
        params={"as_of": None, "p95_ratio": 1.5, "min_runs": 20, "window_days": 7},
        windowed=True,
    ),
)

# Parameters users may set: RUNLENS_<TABLE>_<PARAM> in the environment (RUNLENS_STUCK_RUNS_MIN_AGE_S), or
# refresh_metrics(params=...), which wins; as_of has its own argument.
PARAM_ENV = {
    name: f"RUNLENS_{table.name}_{name}".upper() for table in METRIC_TABLES for name in table.params if name != "as_of"
}
TUNABLE_PARAMS = frozenset(PARAM_ENV)


# The largest whole-number parameters the SQL takes: windows of days (100 years, as a report window; their date
# arithmetic fails beyond DuckDB's range), and a count of runs (an INTEGER).
WHOLE_MAX = {"p99_window_days": 36_500, "window_days": 36_500, "min_runs": 2**31 - 1}


def env_params() -> dict[str, object]:
    """The metric parameters set in the environment (``PARAM_ENV``); a ConfigError names a variable whose value
    does not fit: a whole number from 1 to its ``WHOLE_MAX`` for a whole-number parameter, else a finite number of
    at least 0."""
    defaults = {name: default for table in METRIC_TABLES for name, default in table.params.items()}
    chosen: dict[str, object] = {}
    for name, variable in PARAM_ENV.items():
        value = os.environ.get(variable)
        if not value:
            continue
        whole = isinstance(defaults[name], int)
        top = WHOLE_MAX.get(name, 2**31 - 1) if whole else math.inf
        try:
            number = int(value) if whole else float(value)
        except ValueError:
            number = -1
        if not (1 if whole else 0) <= number <= top or not math.isfinite(number):
            expected = f"a whole number from 1 to {top:,}" if whole else "a number of at least 0"
            unset = "no fixed threshold" if defaults[name] is None else defaults[name]
            raise ConfigError(f"{variable}={value!r}: expected {expected} (unset: {unset}; see docs/metrics.md)")
        chosen[name] = number
    return chosen


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
    for those days; hourly throughput for every UTC day on which a finished run created on them completed, before
    or after the change. Error signatures, stuck runs and regressions are rewritten whole, from partial results
    kept per created_date partition (recomputed for ``days`` only) and the runs partitions of their time windows.
    Partitions that no longer have rows are removed.

    ``as_of``: the time the lake describes, for stuck runs and regressions (timezone-aware); default: the newest
    created_at or completed_at in runs. The SQL parameters in ``TUNABLE_PARAMS`` are taken from the environment
    (``env_params``) and ``params``, which wins; a whole-lake table's file records those it was computed with
    (``stale_params``). ``tables``: the names of the tables to refresh (None: all).
    """
    overrides = {**env_params(), **(params or {})}
    unknown = sorted(set(overrides) - TUNABLE_PARAMS)
    if unknown:
        raise ValueError(f"unknown metric parameters {unknown}; known: {sorted(TUNABLE_PARAMS)}")
    if as_of is not None and as_of.utcoffset() is None:
        raise ValueError(f"as_of {as_of.isoformat()} has no time zone; pass an aware datetime such as one in UTC")
    chosen = _choose(tables)
    changed = None if days is None else sorted(set(days))

    with db.connect() as con:
        _prepare(con, lake_dir)
        needed = dict.fromkeys(partial for table in chosen for partial in table.partials)
        partials = {partial: _update_partial(con, lake_dir, partial, changed) for partial in needed}
        if as_of is None and NEWEST_EVENTS in partials:
            as_of = _default_as_of(con, lake_dir)
        metrics_dir = lake.table_dir(lake_dir, lake.METRICS)
        counts: dict[str, int] = {}
        for table in chosen:
            bound = {name: overrides.get(name, default) for name, default in table.params.items()}
            if "as_of" in bound:
                bound["as_of"] = as_of
            _point_runs(con, lake_dir, _runs_days(table, changed))
            if table.partitioned_by is None:
                result = con.sql(table.sql_file.read_text(), params=bound).to_arrow_table()
                tuned = {name: value for name, value in bound.items() if name in TUNABLE_PARAMS}
                _write(metrics_dir / table.name / DATA_FILE, _with_params(result, tuned))
            else:
                if table.partitioned_by is DayOf.CREATED:
                    selected = changed
                else:  # the completion days its partial's rows of the changed partitions had or have
                    selected = _partial_days(partials[table.partial][1])
                result = con.sql(table.sql_file.read_text(), params={**bound, "days": selected}).to_arrow_table()
                _write_partitions(metrics_dir / table.name, result, selected)
            counts[table.name] = result.num_rows
        # last: a refresh that dies before this point leaves the old partials, so running it again recomputes the
        # same rows and finds the same completion days to recompute
        for partial, (rows, _) in partials.items():
            _write(partial.path(lake_dir), rows)
    return counts


def after_ingest_notice(runs: int) -> str:
    """What to say of ``runs`` runs flagged ``after_ingest`` (``runlens run``'s summary, the fleet tables' asset)."""
    return (
        f"{runs} run(s) dated more than an hour after their ingest (anomaly after_ingest: a wrong clock or a"
        " mistyped date in the export): left out of the as-of time of stuck runs and regressions and of the"
        " report's default window, unless every run is so dated"
    )


def runs_after_ingest(lake_dir: Path) -> int:
    """How many runs are flagged ``after_ingest`` (one scan of the runs partitions' anomalies column)."""
    with db.connect() as con:
        _prepare(con, lake_dir)
        _point_runs(con, lake_dir, None)
        query = "select count(*) from runs where list_contains(anomalies, 'after_ingest')"
        [(count,)] = con.execute(query).fetchall()
    return count


def _prepare(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> None:
    """UTC, the ``runs`` view (empty until ``_point_runs`` points it at partitions) and the macros."""
    con.execute("set TimeZone = 'UTC'")
    con.register("empty_runs", RUNS_SCHEMA.append(pa.field(RUNS_PARTITION_COLUMN, pa.date32())).empty_table())
    _point_runs(con, lake_dir, [])
    con.execute(macro_sql())  # the macros read whatever runs is when they are called


def table_schemas(lake_dir: Path) -> dict[str, pa.Schema]:
    """The columns of every metric table as the warehouse shows them: its SQL run over no runs, with the ``day`` of
    a partitioned table last (it comes from the folder name, as hive partitioning reads it). The warehouse stands an
    empty table of these columns in for a table without files: a lake where no run has finished yet has no
    workflow_hourly_throughput partition."""
    with db.connect() as con:
        _prepare(con, lake_dir)
        for partial in dict.fromkeys(partial for table in METRIC_TABLES for partial in table.partials):
            con.register(partial.name, con.sql(partial.sql_file.read_text()).to_arrow_table())
        schemas = {}
        for table in METRIC_TABLES:
            bound = {**table.params, **({"days": []} if table.partitioned_by is not None else {})}
            schema = con.sql(table.sql_file.read_text(), params=bound).to_arrow_table().schema
            if table.partitioned_by is not None:
                day = schema.field(PARTITION_COLUMN)
                schema = schema.remove(schema.get_field_index(PARTITION_COLUMN)).append(day)
            schemas[table.name] = schema.remove_metadata()
    return schemas


def _default_as_of(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> datetime | None:
    """The time the lake describes: the newest created_at or completed_at of the runs not flagged ``after_ingest``
    (``partial_newest_events``). When every run is so flagged (a lake of runs dated ahead of their ingest, whatever
    the reason) there is nothing better than their own newest time, read then from all of ``runs``."""
    [(newest,)] = con.execute(f"select max(newest_event) from {NEWEST_EVENTS.name}").fetchall()
    if newest is None:
        _point_runs(con, lake_dir, None)
        [(newest,)] = con.execute("select max(greatest(created_at, completed_at)) from runs").fetchall()
    return newest


def _with_params(result: pa.Table, tuned: dict[str, object]) -> pa.Table:
    if not tuned:
        return result
    return result.replace_schema_metadata({**(result.schema.metadata or {}), PARAMS_KEY: json.dumps(tuned)})


def computed_params(lake_dir: Path, table: MetricTable) -> dict[str, object] | None:
    """The tunable parameters (``PARAM_ENV``) the whole-lake ``table``'s file in the lake was computed with: those
    it records (``PARAMS_KEY``) over the defaults (a file written before files recorded them was computed with the
    defaults); None when the table has no such parameter or no file."""
    path = lake.table_dir(lake_dir, lake.METRICS) / table.name / DATA_FILE
    defaults = {name: default for name, default in table.params.items() if name in PARAM_ENV}
    if table.partitioned_by is not None or not defaults or not path.exists():
        return None
    recorded = (pq.read_schema(path).metadata or {}).get(PARAMS_KEY)
    return defaults | (json.loads(recorded) if recorded is not None else {})


def stale_params(lake_dir: Path) -> list[str]:
    """The whole-lake tables in the lake computed with other parameters than the environment's now (a table written
    before files recorded them counts as computed with the defaults): a refresh of them applies the new ones."""
    overrides = env_params()
    stale = []
    for table in METRIC_TABLES:
        used = computed_params(lake_dir, table)
        now = {name: overrides.get(name, default) for name, default in table.params.items() if name in PARAM_ENV}
        if used is not None and used != now:
            stale.append(table.name)
    return stale


def _choose(names: Collection[str] | None) -> list[MetricTable]:
    if names is None:
        return list(METRIC_TABLES)
    unknown = sorted(set(names) - {table.name for table in METRIC_TABLES})
    if unknown:
        raise ValueError(f"unknown metric tables {unknown}; known: {[table.name for table in METRIC_TABLES]}")
    return [table for table in METRIC_TABLES if table.name in names]


def _runs_days(table: MetricTable, changed: list[date] | None) -> list[date] | None:
    """The runs partitions a table's SQL is given (None: all)."""
    if table.windowed:
        return None
    return [] if table.partial is not None else changed


def _point_runs(con: duckdb.DuckDBPyConnection, lake_dir: Path, days: Collection[date] | None) -> None:
    """Make the ``runs`` view the created_date partitions of ``days`` (None: all); empty, with its columns, when
    they have no file."""
    chosen = sorted(runs.partition_days(lake_dir)) if days is None else days
    files = [str(path) for path in (runs.partition_file(lake_dir, day) for day in chosen) if path.exists()]
    if not files:
        con.execute("create or replace temp view runs as select * from empty_runs")
        return
    con.execute("set variable runs_files = $files", {"files": lake.literal(files)})
    con.execute(
        "create or replace temp view runs as select * from read_parquet(getvariable('runs_files'), "
        f"hive_partitioning = true, hive_types = {{'{RUNS_PARTITION_COLUMN}': 'DATE'}})"
    )


def _update_partial(
    con: duckdb.DuckDBPyConnection, lake_dir: Path, partial: Partial, changed: list[date] | None
) -> tuple[pa.Table, pa.Table | None]:
    """Bring a partial up to date for the changed partitions (None: all) and register it by its name.

    Returns all its rows, and its rows of the changed partitions before and after the change (None when it was
    computed whole).
    """
    path = partial.path(lake_dir)
    old = pq.read_table(path) if changed is not None and path.exists() else None
    _point_runs(con, lake_dir, None if old is None else changed)
    new = con.sql(partial.sql_file.read_text()).to_arrow_table()
    if old is not None and not old.schema.equals(new.schema):  # written by another version: compute it whole
        return _update_partial(con, lake_dir, partial, None)
    if old is None:
        merged, touched = new, None
    else:
        in_changed = pc.is_in(old.column(RUNS_PARTITION_COLUMN), pa.array(changed, pa.date32()))
        merged = pa.concat_tables([old.filter(pc.invert(in_changed)), new])
        touched = pa.concat_tables([old.filter(in_changed), new])
    con.register(partial.name, merged)
    return merged, touched


def _partial_days(touched: pa.Table | None) -> list[date] | None:
    """The partition days to recompute of a table built from a partial whose changed rows are ``touched``."""
    if touched is None:
        return None
    return sorted(set(touched.column(PARTITION_COLUMN).to_pylist()))


def _write(path: Path, table: pa.Table) -> None:
    with lake.atomic_target(path) as tmp:
        pq.write_table(table, tmp)


def _write_partitions(table_dir: Path, result: pa.Table, selected: list[date] | None) -> None:
    """Write one file per day of ``result``, ``lake.FSYNC_THREADS`` at once (each waits on its fsyncs, so they
    overlap on the disk); remove the files of selected days (all when None) left empty."""
    result = result.sort_by(PARTITION_COLUMN)
    day_runs = pc.run_end_encode(result.column(PARTITION_COLUMN).combine_chunks())
    data = result.drop_columns([PARTITION_COLUMN])
    bounds = pairwise([0, *day_runs.run_ends.to_pylist()])
    pieces = {
        day: data.slice(start, end - start)
        for day, (start, end) in zip(day_runs.values.to_pylist(), bounds, strict=True)
    }
    with ThreadPoolExecutor(lake.FSYNC_THREADS, thread_name_prefix="metrics-writer") as pool:
        list(pool.map(lambda day: _write(_partition_file(table_dir, day), pieces[day]), pieces))
    for day in (_existing_days(table_dir) if selected is None else set(selected)) - pieces.keys():
        lake.remove_file(_partition_file(table_dir, day))


def _existing_days(table_dir: Path) -> set[date]:
    prefix = f"{PARTITION_COLUMN}="
    return {date.fromisoformat(folder.name.removeprefix(prefix)) for folder in table_dir.glob(prefix + "*")}


def _partition_file(table_dir: Path, day: date) -> Path:
    return table_dir / f"{PARTITION_COLUMN}={day.isoformat()}" / DATA_FILE
