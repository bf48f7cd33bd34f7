"""The ``runs`` table: one row per run id, its latest known state, partitioned by UTC created_date.

A rebuild takes a set of days, recomputes each of those partitions whole from every committed staged record
(``sql/runs_latest.sql``) and swaps each file in atomically; days outside the set are not touched, and a day that
lost all its rows loses its file.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Collection, Iterable
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from runlens import lake
from runlens.config import SQL_DIR

RUNS_LATEST_SQL = (SQL_DIR / "runs_latest.sql").read_text()
AFFECTED_DAYS_SQL = (SQL_DIR / "runs_affected_days.sql").read_text()


def partition_file(lake_dir: Path, day: date) -> Path:
    return lake.table_dir(lake_dir, lake.RUNS) / f"created_date={day.isoformat()}" / "data.parquet"


def partition_days(lake_dir: Path) -> set[date]:
    """Days that currently have a runs partition."""
    root = lake.table_dir(lake_dir, lake.RUNS)
    if not root.is_dir():
        return set()
    return {
        date.fromisoformat(p.parent.name.removeprefix("created_date="))
        for p in root.glob("created_date=*/data.parquet")
    }


def staged_files(lake_dir: Path, export_ids: Iterable[str] | None = None) -> list[str]:
    """Staged Parquet files of committed ingests (all, or those of ``export_ids``)."""
    root = lake.table_dir(lake_dir, lake.INGEST)
    if export_ids is None:
        return sorted(str(p) for p in root.glob("*/staged.parquet"))
    return [str(root / eid / "staged.parquet") for eid in sorted(export_ids) if (root / eid).is_dir()]


def staged_days(lake_dir: Path) -> set[date]:
    files = staged_files(lake_dir)
    if not files:
        return set()
    with duckdb.connect() as con:
        rows = con.execute("select distinct created_date from read_parquet($f)", {"f": files}).fetchall()
    return {row[0] for row in rows}


def affected_days(lake_dir: Path, export_ids: Collection[str]) -> set[date]:
    """The runs partitions that the staged records of ``export_ids`` can change."""
    new = staged_files(lake_dir, export_ids)
    if not new:
        return set()
    current = [str(partition_file(lake_dir, d)) for d in sorted(partition_days(lake_dir))]
    with duckdb.connect() as con:
        if current:
            rows = con.execute(AFFECTED_DAYS_SQL, {"new_staged": new, "runs": current}).fetchall()
        else:
            rows = con.execute("select distinct created_date from read_parquet($f)", {"f": new}).fetchall()
    return {row[0] for row in rows}


def all_days(lake_dir: Path) -> set[date]:
    """Every day a full rebuild must visit: days with staged records and days that have a partition now."""
    return staged_days(lake_dir) | partition_days(lake_dir)


def rebuild_days(lake_dir: Path, days: Collection[date]) -> dict[date, int]:
    """Rebuild the runs partitions of ``days``; returns the row count written per day (0: partition removed).

    DuckDB streams the new partitions into a hidden folder (``PARTITION_BY``, spilling to disk rather than holding
    them in memory); each one is then fsynced and renamed over the old file, one day at a time, so a reader always
    sees a whole old partition or a whole new one.
    """
    days = sorted(set(days))
    if not days:
        return {}
    files = staged_files(lake_dir)
    work = lake_dir / lake.TMP / f"runs.{uuid.uuid4().hex}"
    work.mkdir(parents=True)
    try:
        if files:
            _write_partitions(files, days, staged_days(lake_dir) <= set(days), work)
        return {day: _swap_in(lake_dir, work, day) for day in days}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_partitions(files: list[str], days: list[date], every_day: bool, work: Path) -> None:
    """Write the partitions of ``days`` under ``work/out``; ``every_day``: ``days`` holds every staged day."""
    with duckdb.connect(config={"temp_directory": str(work / "spill")}) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute("set variable staged = $files", {"files": files})
        con.execute("set variable days = $days::date[]", {"days": days})
        con.execute("set variable every_day = $every_day", {"every_day": every_day})
        con.execute(
            f"copy ({RUNS_LATEST_SQL}) to $out (format parquet, compression zstd, partition_by (created_date), "
            "filename_pattern 'data_{i}', row_group_size 256000, compression_level 1)",
            {"out": str(work / "out")},
        )


def _swap_in(lake_dir: Path, work: Path, day: date) -> int:
    """Move one rebuilt day into the lake (or remove the partition when the day has no rows); returns its rows."""
    target = partition_file(lake_dir, day)
    produced = sorted((work / "out" / f"created_date={day.isoformat()}").glob("*.parquet"))
    if not produced:
        lake.remove_file(target)
        return 0
    with lake.atomic_target(target) as tmp:
        if len(produced) == 1:
            os.replace(produced[0], tmp)
        else:
            pq.write_table(pa.concat_tables(pq.read_table(p) for p in produced), tmp, compression="zstd")
    return pq.ParquetFile(target).metadata.num_rows


def _state_file(lake_dir: Path) -> Path:
    return lake_dir / "state" / "runs.json"


def applied_seq(lake_dir: Path) -> int:
    """The highest ingest sequence number whose records are reflected in ``runs``."""
    path = _state_file(lake_dir)
    return int(json.loads(path.read_text())["applied_ingest_seq"]) if path.exists() else 0


def mark_applied(lake_dir: Path, seq: int) -> None:
    with lake.atomic_target(_state_file(lake_dir)) as tmp:
        tmp.write_text(json.dumps({"applied_ingest_seq": seq}))


def pending_exports(lake_dir: Path) -> tuple[list[str], int]:
    """Committed ingests not yet reflected in ``runs`` (export ids), and the highest ingest sequence among all."""
    if not lake.has_files(lake_dir, lake.INGEST, partitioned=True):
        return [], 0
    with duckdb.connect() as con:
        rows = con.execute(
            "select export_id, ingest_seq from read_parquet($glob) order by ingest_seq",
            {"glob": lake.ingest_glob(lake_dir, "ingest_log")},
        ).fetchall()
    done = applied_seq(lake_dir)
    return [eid for eid, seq in rows if seq > done], max((seq for _, seq in rows), default=0)
