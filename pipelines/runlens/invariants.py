"""Runs the invariant queries in ``sql/checks/``: each returns the rows that break its rule (none when it holds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runlens import db, lake, metrics, runs
from runlens.config import SQL_DIR, Settings

CHECKS_DIR = SQL_DIR / "checks"
EXAMPLES = 20  # rows of a broken rule kept as examples; every row is counted
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class Violations:
    """What a check query returned: how many rows break its rule, and the first ``EXAMPLES`` in the query's order."""

    count: int = 0
    columns: list[str] = field(default_factory=list)
    examples: list[tuple[Any, ...]] = field(default_factory=list)


def lake_sources(settings: Settings) -> dict[str, str | list[str]]:
    """The globs the check queries bind, for the tables that have files. ``runs`` is one glob per partition folder:
    a stray folder under ``lake/runs`` (see ``runs.stray_folders``) would make DuckDB's hive partitioning fail."""
    lake_dir = settings.lake_dir
    sources: dict[str, str | list[str]] = {}
    if lake.has_files(lake_dir, lake.INGEST, partitioned=True):
        for part in ("staged", "quarantine", "ingest_log"):
            sources[part] = lake.ingest_glob(lake_dir, part)
    partitions = runs.parquet_folders(lake_dir)[0]
    if partitions:
        sources["runs"] = [f"{lake.folder_glob(folder)}/*.parquet" for folder in partitions]
    daily_dir = lake.table_dir(lake_dir, lake.METRICS) / "workflow_daily_metrics"
    if next(daily_dir.glob("*/*.parquet"), None) is not None:
        sources["daily"] = metrics.metric_globs(lake_dir)["workflow_daily_metrics"]
    return sources


def violations(settings: Settings, name: str, **params: Any) -> Violations:
    """The rows breaking check ``sql/checks/<name>.sql``, counted as they stream by (none when a table it reads has
    no files yet: nothing to break)."""
    sql = (CHECKS_DIR / f"{name}.sql").read_text()
    sources = lake_sources(settings)
    needed = [source for source in ("staged", "quarantine", "ingest_log", "runs", "daily") if f"${source}" in sql]
    if any(source not in sources for source in needed):
        return Violations()
    with db.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        reader = con.sql(sql, params={**{s: sources[s] for s in needed}, **params}).to_arrow_reader(BATCH_ROWS)
        count, examples = 0, []
        for batch in reader:
            count += batch.num_rows
            kept = batch.slice(0, EXAMPLES - len(examples)).to_pylist()
            examples += [tuple(row.values()) for row in kept]
        return Violations(count, reader.schema.names, examples)
