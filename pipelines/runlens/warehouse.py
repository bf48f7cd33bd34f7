"""``warehouse.duckdb``: a thin catalog of views over the lake, for ad-hoc SQL and notebooks.

The file holds no data, only views (with absolute paths, so it reads the same from any working directory) and the
metric macros. It is rebuilt in a temporary file and renamed over the old one, so readers, who open it
read-only, never see it half-made and never block the pipeline.
"""

from __future__ import annotations

import os
import shlex
from glob import iglob
from pathlib import Path

import duckdb
import pyarrow as pa

from runlens import db, lake, metrics
from runlens.contracts import INGEST_LOG_SCHEMA, QUARANTINE_SCHEMA, RUNS_SCHEMA
from runlens.errors import RunlensError

RUNS_COLUMNS = """
    run_id, workflow_name, status, created_at, completed_at, duration_s, error,
    input::json as input, output::json as output, extra::json as extra, anomalies,
    created_date, created_date_source, source_file, ingested_at"""
QUARANTINE_COLUMNS = "source_file, record_index, line, raw, raw_truncated, errors, ingested_at, export_id"
INGEST_LOG_COLUMNS = """
    source_file, sha256, bytes, records_read, records_valid, records_quarantined, ingested_at, outcome,
    message, format, export_id, ingest_seq"""


EMPTY_TABLES = (
    ("runs", RUNS_SCHEMA.append(pa.field("created_date", pa.date32()))),
    ("quarantine", QUARANTINE_SCHEMA),
    ("ingest_log", INGEST_LOG_SCHEMA),
)


def sql_string(value: str) -> str:
    """A SQL string literal; used only for the lake's own paths, which DDL cannot take as bound parameters."""
    return "'" + value.replace("'", "''") + "'"


# The relation whose comment names the lake the warehouse was built over, and the warehouse's format (see built_for).
# FORMAT goes up when the relations or macros a warehouse holds change, so that `runlens run` rebuilds an older one
# (2: newest_created_at(), and empty metric tables for tables without files).
MARKED = "ingest_log"
FORMAT = 2
LAKE_MARK = f"runlens warehouse {FORMAT}, lake: "


def _parquet(glob: str, hive: dict[str, str] | None = None) -> str:
    if not hive:
        return f"read_parquet({sql_string(glob)})"
    types = ", ".join(f"{sql_string(k)}: {v}" for k, v in hive.items())
    return f"read_parquet({sql_string(glob)}, hive_partitioning = true, hive_types = {{{types}}})"


def _empty(con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema) -> None:
    """A typed empty table, so queries and notebooks work before the first data arrives."""
    empty = schema.empty_table()  # noqa: F841 - read by DuckDB's replacement scan below
    con.execute(f"create table {name} as select * from empty")


def view_statements(lake_dir: Path) -> list[str]:
    """The DDL of every view, for the tables that have files."""
    statements: list[str] = []
    if lake.has_files(lake_dir, lake.RUNS, partitioned=True):
        source = _parquet(lake.table_glob(lake_dir, lake.RUNS, partitioned=True), {"created_date": "date"})
        statements.append(f"create view runs as select {RUNS_COLUMNS} from {source}")
    if lake.has_files(lake_dir, lake.INGEST, partitioned=True):
        quarantine = _parquet(lake.ingest_glob(lake_dir, "quarantine"))
        log = _parquet(lake.ingest_glob(lake_dir, "ingest_log"))
        statements.append(f"create view quarantine as select {QUARANTINE_COLUMNS} from {quarantine}")
        statements.append(f"create view ingest_log as select {INGEST_LOG_COLUMNS} from {log}")
    globs = metrics.metric_globs(lake_dir)
    for table in metrics.METRIC_TABLES:
        glob = globs[table.name]
        if _any_file(glob):
            hive = {metrics.PARTITION_COLUMN: "date"} if table.partitioned_by else None
            statements.append(f"create view {table.name} as select * from {_parquet(glob, hive)}")
    return statements


def _any_file(glob: str) -> bool:
    """Whether a glob (``lake.table_glob``) matches a file."""
    return next(iglob(glob), None) is not None


def refresh_warehouse(lake_dir: Path, warehouse_path: Path) -> list[str]:
    """Rebuild the warehouse catalog; returns the names of the relations it holds (call it holding the lake's write
    lock: it also removes what a killed swap left behind)."""
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in warehouse_path.parent.glob(f".{warehouse_path.name}.*.tmp*"):  # from a killed swap
        leftover.unlink(missing_ok=True)
    tmp = lake.temporary_path(warehouse_path)
    try:
        with db.connect(str(tmp)) as con:
            con.execute("set TimeZone = 'UTC'")
            statements = view_statements(lake_dir)
            for statement in statements:
                con.execute(statement)
            existing = {
                row[0] for row in con.execute("select view_name from duckdb_views() where not internal").fetchall()
            }
            for name, schema in EMPTY_TABLES:
                if name not in existing:
                    _empty(con, name, schema)
            missing = [table.name for table in metrics.METRIC_TABLES if table.name not in existing]
            for name, schema in metrics.table_schemas(lake_dir).items() if missing else ():
                if name in missing:
                    _empty(con, name, schema)
            kind = "view" if MARKED in existing else "table"
            con.execute(f"comment on {kind} {MARKED} is {sql_string(LAKE_MARK + str(lake_dir))}")
            con.execute(metrics.macro_sql())
            con.execute("checkpoint")
            names = sorted(row[0] for row in con.execute("select table_name from information_schema.tables").fetchall())
        os.replace(tmp, warehouse_path)
        lake.fsync_dir(warehouse_path.parent)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
    return names


def built_for(warehouse_path: Path) -> Path | None:
    """The lake whose files a warehouse's views read, from the mark ``refresh_warehouse`` leaves on ``ingest_log``;
    None when there is no warehouse, it is not a DuckDB database, or it predates this ``FORMAT`` (then it lacks
    relations or macros runlens reads). The views hold absolute paths, so a data directory moved or copied elsewhere
    needs its warehouse rebuilt, as does an older one."""
    return _lake_in(_mark(warehouse_path))


def _mark(warehouse_path: Path) -> str | None:
    """The comment on a warehouse's ``MARKED`` relation ("" when it has none); None without a readable warehouse."""
    if not warehouse_path.is_file():
        return None
    try:
        with connect_readonly(warehouse_path) as con:
            return _mark_on(con)
    except duckdb.Error:
        return None


def refuse_foreign(warehouse_path: Path, lake_dir: Path, data_dir: Path) -> None:
    """Refuse a warehouse whose views read another lake than ``lake_dir`` (the data directory was copied or moved;
    the views hold absolute paths), so that a query or a review never shows another folder's data as this one's.
    One built by an earlier runlens (``FORMAT``) is refused too; one that cannot be read is left to the caller."""
    mark = _mark(warehouse_path)
    rebuild = f"`runlens run --data-dir {shlex.quote(str(data_dir))}` rebuilds it"
    if mark is None:
        return
    built = _lake_in(mark)
    if built is None:
        raise RunlensError(
            f"{warehouse_path} was built by an earlier version of runlens and lacks what this one reads; {rebuild}"
        )
    if _same_folder(built, lake_dir):
        return
    raise RunlensError(
        f"{warehouse_path} reads the lake at {built}, not this data directory's ({lake_dir}): the data directory was"
        f" copied or moved; {rebuild} over this lake"
    )


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them is gone
        return a.resolve() == b.resolve()


def lake_of(con: duckdb.DuckDBPyConnection) -> Path | None:
    """``built_for`` on a connection to the warehouse already open (the notebook's)."""
    return _lake_in(_mark_on(con))


def _lake_in(mark: str | None) -> Path | None:
    """The lake a mark of this ``FORMAT`` names; None for no mark, or one of an earlier runlens."""
    return Path(mark.removeprefix(LAKE_MARK)) if mark is not None and mark.startswith(LAKE_MARK) else None


def _mark_on(con: duckdb.DuckDBPyConnection) -> str:
    query = (
        "select comment from duckdb_views() where view_name = $name "
        "union all select comment from duckdb_tables() where table_name = $name"
    )
    marks = [row[0] for row in con.execute(query, {"name": MARKED}).fetchall()]
    return (marks[0] or "") if marks else ""


def connect_readonly(warehouse_path: Path) -> duckdb.DuckDBPyConnection:
    """How readers (the CLI summary, notebooks, ad-hoc users) open the warehouse."""
    con = db.connect(str(warehouse_path), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    return con


def open_warehouse(warehouse_path: Path) -> duckdb.DuckDBPyConnection:
    """``connect_readonly`` for a command (``runlens sql``, ``runlens report``): a warehouse that cannot be opened is
    a RunlensError that says why and what to do."""
    try:
        return connect_readonly(warehouse_path)
    except duckdb.Error as exc:
        reason = str(exc).splitlines()[0]
        if "Could not set lock" in reason:  # DuckDB lets one process write a file, or any number read it, not both
            remedy = (
                "another process has it open for writing (a DuckDB connection without read_only); close that"
                " connection or open it read-only, then try again"
            )
        else:
            remedy = "`runlens run` rebuilds it"
        raise RunlensError(f"{warehouse_path}: cannot be opened ({reason}); {remedy}") from None
