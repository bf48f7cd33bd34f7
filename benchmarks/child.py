"""One benchmark task in a fresh process: ``python -m benchmarks.child TASK ARGS_JSON RESULT_JSON``.

Each task times its own work (``seconds``) and writes a JSON result; the parent (``benchmarks.measure``) measures
the process's wall time and peak memory.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from runlens import metrics, runs
from runlens.config import Settings
from runlens.ingest import POOL_MIN_BYTES, ingest_file
from runlens.readers import decoded_size_hint
from runlens.validation import RecordValidator, load_schema

from benchmarks import baselines, datasets, pipeline_probe


def ingest(file: str, lake: str, workers: int = 0) -> dict[str, Any]:
    """runlens ``ingest_file`` of one export into a fresh lake (``workers``: ``RUNLENS_INGEST_WORKERS``, when set)."""
    path, lake_dir = Path(file), Path(lake)
    settings = Settings.from_env(lake_dir.parent).with_overrides(lake_dir=lake_dir)
    if workers:
        settings = settings.with_overrides(limits=replace(settings.limits, ingest_workers=workers))
    validator = RecordValidator.from_file(settings.schema_path)
    start = time.perf_counter()
    result = ingest_file(path, settings, validator)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "records": result.records_read,
        "valid": result.records_valid,
        "quarantined": result.records_quarantined,
        "outcome": result.outcome,
        "workers": settings.limits.ingest_workers if decoded_size_hint(path) >= POOL_MIN_BYTES else 1,
        "lake_bytes": datasets.tree_bytes(lake_dir),
    }


def baseline_a(file: str, layout: str, sample: int) -> dict[str, Any]:
    schema = load_schema(Settings.from_env().schema_path)
    return baselines.baseline_a(Path(file), layout, schema, sample)


def baseline_b(file: str, layout: str, out: str) -> dict[str, Any]:
    return baselines.baseline_b(Path(file), layout, Path(out))


def rebuild_all(lake: str, chunk_days: int | None = None) -> dict[str, Any]:
    """A full rebuild of ``runs``: every day with staged records or a partition, in one call (as runlens does) or
    in calls of ``chunk_days`` days each."""
    lake_dir = Path(lake)
    start = time.perf_counter()
    days = sorted(runs.all_days(lake_dir))
    found = time.perf_counter()
    step = chunk_days or len(days) or 1
    counts: dict[date, int] = {}
    for first in range(0, len(days), step):
        counts.update(runs.rebuild_days(lake_dir, days[first : first + step]))
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "all_days_s": found - start,
        "rebuild_days_s": end - found,
        "days": len(days),
        "records": sum(counts.values()),
    }


def metric_tables_timed(lake_dir: Path, days: list[date] | None) -> dict[str, float]:
    """Seconds of each metric table refreshed on its own (a second pass, to show where the time goes)."""
    seconds: dict[str, float] = {}
    for table in metrics.METRIC_TABLES:
        start = time.perf_counter()
        metrics.refresh_metrics(lake_dir, days, tables=[table.name])
        seconds[table.name] = time.perf_counter() - start
    return seconds


def refresh_all(lake: str) -> dict[str, Any]:
    """A full metric refresh (every table, every day), then each table again on its own."""
    lake_dir = Path(lake)
    start = time.perf_counter()
    rows = metrics.refresh_metrics(lake_dir)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rows": rows,
        "records": sum(rows.values()),
        "by_table_s": metric_tables_timed(lake_dir, None),
    }


def incremental(lake: str, export_id: str) -> dict[str, Any]:
    """What a new export costs: the days it changes, those runs partitions, the metrics for those days."""
    lake_dir = Path(lake)
    start = time.perf_counter()
    days = sorted(runs.affected_days(lake_dir, [export_id]))
    found = time.perf_counter()
    counts = runs.rebuild_days(lake_dir, days)
    rebuilt = time.perf_counter()
    metrics.refresh_metrics(lake_dir, days)
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "affected_days_s": found - start,
        "rebuild_days_s": rebuilt - found,
        "refresh_metrics_s": end - rebuilt,
        "days": [d.isoformat() for d in days],
        "records": sum(counts.values()),
        "by_table_s": metric_tables_timed(lake_dir, days),
    }


TASKS: dict[str, Callable[..., dict[str, Any]]] = {
    "ingest": ingest,
    "baseline_a": baseline_a,
    "baseline_b": baseline_b,
    "rebuild_all": rebuild_all,
    "refresh_all": refresh_all,
    "incremental": incremental,
    "pipeline": pipeline_probe.run,
}


def main(argv: list[str]) -> int:
    task, args_path, out_path = argv
    result = TASKS[task](**json.loads(Path(args_path).read_text()))
    Path(out_path).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
