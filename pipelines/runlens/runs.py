"""The ``runs`` table: one row per run id, its latest known state, partitioned by UTC created_date.

A rebuild takes a set of days, recomputes each of those partitions whole from every committed staged record
(``sql/runs_latest.sql``) and swaps each file in atomically; days outside the set are not touched, and a day that
lost all its rows loses its file.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import uuid
from collections import deque
from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from runlens import db, lake, ledger
from runlens.config import SQL_DIR
from runlens.contracts import RUN_KEY_SQL, RUNS_PARTITION_COLUMN, RUNS_SCHEMA
from runlens.errors import RunlensError

RUNS_LATEST_SQL = (SQL_DIR / "runs_latest.sql").read_text()
BATCH_ROWS = 65_536
WRITER_THREADS = 2
WRITE_AHEAD = 4
OTHER_OPEN_FILES = 256  # file descriptors left to DuckDB and the rest when day files are held open
SLICED_RUNS_PER_DAY = 4  # above this many runs of rows per day in a batch, sort it instead of slicing
EPOCH = date(1970, 1, 1)
# zstd level 1 as for staged files; dictionaries where values repeat; statistics on the columns queries filter on.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": ["workflow_name", "status", "created_date_source", "source_file", "anomalies"],
    "write_statistics": ["run_id", "workflow_name", "status", "created_at", "completed_at", "duration_s"],
}
AFFECTED_DAYS_SQL = (SQL_DIR / "runs_affected_days.sql").read_text()
AFFECTED_DAYS_BY_KEY_SQL = (SQL_DIR / "runs_affected_days_by_key.sql").read_text()
CANDIDATE_FILES_SQL = (SQL_DIR / "runs_candidate_files.sql").read_text()
RUN_KEY = "run_key"


def day_file(root: Path, day: date) -> Path:
    """A day's file under a runs root (the lake's table folder, or a rebuild's hidden output folder)."""
    return root / f"{RUNS_PARTITION_COLUMN}={day.isoformat()}" / "data.parquet"


def partition_file(lake_dir: Path, day: date) -> Path:
    return day_file(lake.table_dir(lake_dir, lake.RUNS), day)


def folder_day(name: str) -> date | None:
    """The day of a runs partition folder, ``created_date=YYYY-MM-DD`` (a real date, spelled so); None for any other
    folder name."""
    value = name.removeprefix(f"{RUNS_PARTITION_COLUMN}=")
    if value == name or not re.fullmatch(r"\d{4}-\d\d-\d\d", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:  # 2026-02-30
        return None


def parquet_folders(lake_dir: Path) -> tuple[list[Path], list[Path]]:
    """The folders under ``lake/runs`` that hold a ``*.parquet`` file (those the readers' glob ``runs/*/*.parquet``
    reads), in name order, as (partitions, stray folders)."""
    root = lake.table_dir(lake_dir, lake.RUNS)
    if not root.is_dir():
        return [], []
    folders = sorted(f for f in root.iterdir() if f.is_dir() and next(f.glob("*.parquet"), None) is not None)
    return [f for f in folders if folder_day(f.name)], [f for f in folders if not folder_day(f.name)]


def stray_folders(lake_dir: Path) -> list[str]:
    """The names of the folders under ``lake/runs`` that hold a ``*.parquet`` file but are not partitions
    (``created_date=oops``, ``backup``, ``.hidden``): DuckDB's hive partitioning fails on every query of the glob
    ``runs/*/*.parquet`` while one is there (a created_date that is not a date, or a folder without one)."""
    return [folder.name for folder in parquet_folders(lake_dir)[1]]


def refuse_stray_folders(lake_dir: Path) -> list[Path]:
    """The partition folders of ``lake/runs`` (``parquet_folders``); a RunlensError naming its stray folders (see
    ``stray_folders``), if there are any."""
    partitions, stray = parquet_folders(lake_dir)
    if stray:
        raise RunlensError(
            f"{lake.table_dir(lake_dir, lake.RUNS)} holds {len(stray)} folder(s) that are not runs partitions"
            f" ({RUNS_PARTITION_COLUMN}=YYYY-MM-DD): {', '.join(f.name for f in stray)}; move them out of the lake"
            " (while they are there, no query can read the runs table)"
        )
    return partitions


def partition_days(lake_dir: Path) -> set[date]:
    """Days that currently have a runs partition (a ``data.parquet`` in their folder); a RunlensError when
    ``lake/runs`` holds a stray folder. One listing of the folders serves both."""
    return {
        day
        for folder in refuse_stray_folders(lake_dir)
        if (folder / "data.parquet").is_file() and (day := folder_day(folder.name)) is not None
    }


def staged_files(lake_dir: Path, export_ids: Iterable[str] | None = None) -> list[str]:
    """Staged Parquet files of committed ingests (all, or those of ``export_ids``)."""
    root = lake.table_dir(lake_dir, lake.INGEST)
    if export_ids is None:
        return sorted(str(p) for p in root.glob(f"{lake.COMMITTED}/staged.parquet"))
    return [str(root / eid / "staged.parquet") for eid in sorted(export_ids) if (root / eid).is_dir()]


def staged_days(lake_dir: Path) -> set[date]:
    files = staged_files(lake_dir)
    if not files:
        return set()
    with db.connect() as con:
        rows = con.execute("select distinct created_date from read_parquet($f)", {"f": lake.literal(files)}).fetchall()
    return {row[0] for row in rows}


def all_keyed(con: duckdb.DuckDBPyConnection, files: list[str]) -> bool:
    """Whether every one of the staged ``files`` has the run_key column (files written before it lack it)."""
    query = "select count(distinct file_name) from parquet_schema($files) where name = $key"
    [(keyed,)] = con.execute(query, {"files": lake.literal(files), "key": RUN_KEY}).fetchall()
    return keyed == len(files)


def affected_days(lake_dir: Path, export_ids: Collection[str]) -> set[date]:
    """The runs partitions that the staged records of ``export_ids`` can change (``linked_days``, merged)."""
    return set().union(*linked_days(lake_dir, export_ids))


def linked_days(lake_dir: Path, export_ids: Collection[str]) -> list[frozenset[date]]:
    """The runs partitions that the staged records of ``export_ids`` can change, as the distinct sets of days that
    one run's row may move between (by run_key when every staged file has it: the days of every record of a run
    they mention; otherwise a new record's day and its run's current partition). Days of one set must be rebuilt
    in one pass: a run moved by two passes is, between them, in two partitions or in none."""
    new = staged_files(lake_dir, export_ids)
    if not new:
        return []
    current = [str(partition_file(lake_dir, d)) for d in sorted(partition_days(lake_dir))]
    every = staged_files(lake_dir)
    with db.connect() as con:
        con.execute("set parquet_metadata_cache = true")  # all_keyed and the query read the same footers
        if current and all_keyed(con, every):
            params = {"new_staged": lake.literal(new), "staged": lake.literal(every)}
            rows = con.execute(AFFECTED_DAYS_BY_KEY_SQL, params).fetchall()
        elif current:
            params = {"new_staged": lake.literal(new), "runs": lake.literal(current)}
            rows = con.execute(AFFECTED_DAYS_SQL, params).fetchall()
        else:
            query = "select distinct [created_date] from read_parquet($f)"
            rows = con.execute(query, {"f": lake.literal(new)}).fetchall()
    return [frozenset(row[0]) for row in rows]


def covers_every_day(lake_dir: Path, days: Collection[date]) -> bool:
    """Whether ``days`` holds every day of a staged record (a full rebuild). A runs partition is a day of some
    staged record, so days that miss a partition are answered "no" without scanning staged (were the partition a
    leftover, the general path writes the same rows, only slower)."""
    chosen = set(days)
    return partition_days(lake_dir) <= chosen and staged_days(lake_dir) <= chosen


def all_days(lake_dir: Path) -> set[date]:
    """Every day a full rebuild must visit: days with staged records and days that have a partition now."""
    return staged_days(lake_dir) | partition_days(lake_dir)


def rebuild_days(lake_dir: Path, days: Collection[date]) -> dict[date, int]:
    """Rebuild the runs partitions of ``days``; returns the row count written per day (0: partition removed).

    The new partitions are written into a hidden folder (``_write_partitions``); each one is then fsynced and
    renamed over the old file on its own (a few days at once, since each waits on the disk), so a reader always sees
    a whole old partition or a whole new one.
    """
    days = sorted(set(days))
    if not days:
        return {}
    files = staged_files(lake_dir)
    work = lake_dir / lake.TMP / f"runs.{uuid.uuid4().hex}"
    work.mkdir(parents=True)
    try:
        written: dict[date, int] = {}
        if files:
            every_day = covers_every_day(lake_dir, days)
            per_pass = _days_per_pass()
            for first in range(0, len(days), per_pass):
                chosen = days[first : first + per_pass]
                written |= _write_partitions(files, chosen, every_day and len(chosen) == len(days), work)
        with ThreadPoolExecutor(lake.FSYNC_THREADS, thread_name_prefix="runs-swap") as pool:
            moved = pool.map(lambda day: _swap_in(lake_dir, work, day, written.get(day, 0)), days)
            return dict(zip(days, moved, strict=True))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _days_per_pass() -> int:
    """How many days one pass may write: each day's file stays open until the pass ends, so a lake of more days
    than the open-file limit allows (1024 by default on many systems) is rebuilt in several passes."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(1, soft - OTHER_OPEN_FILES) if soft != resource.RLIM_INFINITY else 1 << 20


def _write_partitions(files: list[str], days: list[date], every_day: bool, work: Path) -> dict[date, int]:
    """Write the partitions of ``days`` under ``work/out``; ``every_day``: ``days`` holds every staged day.
    Returns the rows written per day (a day without rows gets no file).

    DuckDB runs the query once and streams its rows out in Arrow batches; each batch is cut by created_date and
    the pieces are appended to one Parquet file per day by a small pool of writer threads (pyarrow releases the
    GIL while it encodes). In the benchmark at 10M runs this first took 13.3 s and 1.1 GiB (11-12 s and
    0.75-0.8 GiB now), where DuckDB's own ``COPY ... PARTITION_BY`` took 22.5 s and 6.6 GiB (it buffers every
    open partition)."""
    with db.connect(temp_directory=str(work / "spill")) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute("set parquet_metadata_cache = true")  # each staged footer is read once, not by every query
        con.execute("set variable staged = $files", {"files": lake.literal(files)})
        con.execute("set variable days = $days::date[]", {"days": days})
        con.execute("set variable every_day = $every_day", {"every_day": every_day})
        con.execute(RUN_KEY_SQL)
        keyed = all_keyed(con, files)
        con.execute("set variable keyed = $keyed", {"keyed": keyed})
        candidates = files
        if not every_day and keyed:
            candidates = [row[0] for row in con.execute(CANDIDATE_FILES_SQL).fetchall()] or files
        con.execute("set variable candidates = $files", {"files": lake.literal(candidates)})
        with DayFiles(work / "out") as out:
            for batch in con.sql(RUNS_LATEST_SQL).to_arrow_reader(BATCH_ROWS):
                out.add(batch)
        return out.rows


class DayFiles:
    """Appends rows to one Parquet file per created_date (``<root>/created_date=D/data.parquet``, without the
    created_date column, as hive partitioning reads it), encoding in writer threads. At most ``WRITE_AHEAD`` pieces
    wait to be written (memory stays bounded), and the pieces of one day are written in the order they came."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.writers: dict[date, pq.ParquetWriter] = {}
        self.pool = ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="runs-writer")
        self.pending: deque[tuple[date, Future[None]]] = deque()
        self.rows: dict[date, int] = {}

    def __enter__(self) -> DayFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            for _, future in self.pending:
                future.result()
        finally:
            self.pool.shutdown()
            for writer in self.writers.values():
                writer.close()

    def add(self, batch: pa.RecordBatch) -> None:
        rows = pa.Table.from_batches([batch])
        days = rows.column(RUNS_PARTITION_COLUMN)
        for day, piece in _split_by_day(rows.drop_columns([RUNS_PARTITION_COLUMN]).cast(RUNS_SCHEMA), days):
            while len(self.pending) >= WRITE_AHEAD or any(d == day for d, _ in self.pending):
                self.pending.popleft()[1].result()
            self.pending.append((day, self.pool.submit(self._write, day, piece)))
            self.rows[day] = self.rows.get(day, 0) + piece.num_rows

    def _write(self, day: date, piece: pa.Table) -> None:
        writer = self.writers.get(day)
        if writer is None:
            path = day_file(self.root, day)
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = self.writers[day] = pq.ParquetWriter(path, RUNS_SCHEMA, **PARQUET_OPTIONS)
        writer.write_table(piece)


def _split_by_day(rows: pa.Table, days: pa.ChunkedArray) -> Iterator[tuple[date, pa.Table]]:
    """The rows of each day, in their order within the day. Rows come in runs of one day (a staged file holds an
    export's records in export order), so each day's piece is normally its few runs sliced out without copying; a
    batch cut into many short runs (an export listing its days in random order) is reordered by one stable sort and
    sliced once per day instead, so such a batch costs no more than one of a single day."""
    values = days.combine_chunks().cast(pa.int32()).to_numpy()
    if not values.size:
        return
    starts = _run_starts(values)
    distinct = np.unique(values[starts])
    if starts.size > SLICED_RUNS_PER_DAY * distinct.size:
        order = np.argsort(values, kind="stable")
        rows, values = rows.take(pa.array(order)), values[order]
        starts = _run_starts(values)
    stops = np.append(starts[1:], values.size)
    for day in distinct.tolist():
        ours = values[starts] == day
        spans = zip(starts[ours].tolist(), stops[ours].tolist(), strict=True)
        yield EPOCH + timedelta(days=day), pa.concat_tables([rows.slice(start, stop - start) for start, stop in spans])


def _run_starts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts."""
    return np.flatnonzero(np.diff(values, prepend=values[0] - 1))


def _swap_in(lake_dir: Path, work: Path, day: date, rows: int) -> int:
    """Move one rebuilt day of ``rows`` rows into the lake (or remove the partition when it has none); returns
    ``rows``."""
    target = partition_file(lake_dir, day)
    if not rows:
        lake.remove_file(target)
        return 0
    with lake.atomic_target(target) as tmp:
        os.replace(day_file(work / "out", day), tmp)
    return rows


def _state_file(lake_dir: Path) -> Path:
    return lake_dir / "state" / "runs.json"


def applied_seq(lake_dir: Path) -> int:
    """The highest ingest sequence number whose records are reflected in ``runs``."""
    path = _state_file(lake_dir)
    return int(json.loads(path.read_text())["applied_ingest_seq"]) if path.exists() else 0


def mark_applied(lake_dir: Path, seq: int) -> None:
    """Record the ingests up to ``seq`` reflected in ``runs``; never moves the marker back (a refresh planned before
    another one that covered newer ingests may finish after it). Callers hold ``lake_write_lock``, so the read and
    the atomic rename are not interleaved with another writer's."""
    seq = max(seq, applied_seq(lake_dir))
    with lake.atomic_target(_state_file(lake_dir)) as tmp:
        tmp.write_text(json.dumps({"applied_ingest_seq": seq}))


def pending_exports(lake_dir: Path) -> tuple[list[str], int]:
    """Committed ingests not yet reflected in ``runs`` (export ids), and the highest ingest sequence among all."""
    logs = ledger.ingest_logs(lake_dir)
    pending = logs.filter(pc.greater(logs.column("ingest_seq"), applied_seq(lake_dir))).column("export_id")
    return pending.to_pylist(), pc.max(logs.column("ingest_seq")).as_py() or 0
