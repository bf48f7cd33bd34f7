"""Idempotency: re-materializing any asset (partition) of ``runlens.definitions.defs()`` gives the same rows.

One lake is built once by ``run_pipeline`` on a Dagster instance in a temporary folder; each test snapshots the
tables an asset writes, materializes that asset again through ``dg.materialize`` (as ``runlens run`` does) and
compares the rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from runlens import runs
from runlens.config import Settings
from runlens.definitions import defs
from runlens.defs.partitions import export_files
from runlens.defs.resources import RunlensResource
from runlens.generate import generate_exports
from runlens.pipeline import run_pipeline

FLEET = ("workflow_hourly_throughput", "error_signatures", "stuck_runs", "workflow_regressions")
GLOBS = {
    "staged": "ingest/*/staged.parquet",
    "quarantine": "ingest/*/quarantine.parquet",
    "ingest_log": "ingest/*/ingest_log.parquet",
    "runs": "runs/*/*.parquet",
    "workflow_daily_metrics": "metrics/workflow_daily_metrics/*/*.parquet",
    "workflow_hourly_throughput": "metrics/workflow_hourly_throughput/*/*.parquet",
    "error_signatures": "metrics/error_signatures/*.parquet",
    "stuck_runs": "metrics/stuck_runs/*.parquet",
    "workflow_regressions": "metrics/workflow_regressions/*.parquet",
}


@dataclass(frozen=True)
class Deployment:
    settings: Settings
    definitions: dg.Definitions
    instance: dg.DagsterInstance

    def materialize(self, selection: list[str], **kwargs: Any) -> dg.ExecuteInProcessResult:
        result = dg.materialize(
            [*self.definitions.assets, *self.definitions.asset_checks],
            selection=selection,
            instance=self.instance,
            resources={"runlens": RunlensResource(data_dir=str(self.settings.data_dir))},
            raise_on_error=True,
            **kwargs,
        )
        materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
        assert set(selection) <= materialized, "the asset was materialized again, not skipped by Dagster"
        return result

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        with duckdb.connect() as con:
            con.execute("set TimeZone = 'UTC'")
            glob = str(self.settings.lake_dir / GLOBS[table])
            return con.execute(
                "select * from read_parquet($glob, hive_partitioning = true) order by all", {"glob": glob}
            ).fetchall()

    def rewritten(self, table: str, since: int) -> bool:
        """Whether every file of ``table`` was replaced after ``since`` (``time.time_ns()``)."""
        files = list(self.settings.lake_dir.glob(GLOBS[table]))
        return bool(files) and all(path.stat().st_mtime_ns > since for path in files)

    def days(self) -> list[date]:
        return sorted(runs.partition_days(self.settings.lake_dir))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("idempotency") / "data"
    generate_exports(root / "exports", runs=3_000, days=2, seed=17)
    shm = Path("/dev/shm")
    home = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("RUNLENS_")]:
            patch.delenv(name)
        patch.setenv("DAGSTER_HOME", str(home))
        settings = Settings.from_env(root)
        run_pipeline(settings, echo=lambda _: None)
        with dg.DagsterInstance.get() as instance:
            yield Deployment(settings, defs(), instance)
    shutil.rmtree(home, ignore_errors=True)


def range_tags(first: str, last: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def test_ingested_exports(deployment: Deployment) -> None:
    before = {part: deployment.rows(part) for part in ("staged", "quarantine", "ingest_log")}
    keys = deployment.instance.get_dynamic_partitions(export_files.name)
    deployment.materialize(["ingested_exports"], tags=range_tags(keys[0], keys[-1]))
    assert {part: deployment.rows(part) for part in before} == before
    assert len(before["ingest_log"]) == len(keys)


@pytest.mark.parametrize("which", [0, -1])
def test_runs_partition(deployment: Deployment, which: int) -> None:
    before = deployment.rows("runs")
    day = deployment.days()[which]
    since = time.time_ns()
    deployment.materialize(["runs"], partition_key=day.isoformat())
    assert deployment.rows("runs") == before
    assert runs.partition_file(deployment.settings.lake_dir, day).stat().st_mtime_ns > since, "rebuilt, not kept"
    assert len(before) == len({row[0] for row in before}) > 0


def test_workflow_daily_metrics(deployment: Deployment) -> None:
    before = deployment.rows("workflow_daily_metrics")
    days = deployment.days()
    since = time.time_ns()
    deployment.materialize(["workflow_daily_metrics"], tags=range_tags(days[0].isoformat(), days[-1].isoformat()))
    assert deployment.rows("workflow_daily_metrics") == before
    assert deployment.rewritten("workflow_daily_metrics", since)
    assert before


def test_fleet_metric_tables(deployment: Deployment) -> None:
    before = {table: deployment.rows(table) for table in FLEET}
    since = time.time_ns()
    deployment.materialize(list(FLEET))
    assert {table: deployment.rows(table) for table in FLEET} == before
    assert all(deployment.rewritten(table, since) for table in FLEET)
    assert all(before[table] for table in ("workflow_hourly_throughput", "error_signatures"))


def test_warehouse(deployment: Deployment) -> None:
    path = deployment.settings.warehouse_path

    def catalog() -> dict[str, Any]:
        with duckdb.connect(str(path), read_only=True) as con:
            con.execute("set TimeZone = 'UTC'")
            views = dict(con.execute("select view_name, sql from duckdb_views() where not internal").fetchall())
            macros = sorted(
                row[0]
                for row in con.execute(
                    "select function_name from duckdb_functions() where function_type like '%macro' and not internal"
                ).fetchall()
            )
            contents = {name: con.execute(f'select * from "{name}" order by all').fetchall() for name in views}
        return {"views": views, "macros": macros, "contents": contents}

    before = catalog()
    since = time.time_ns()
    deployment.materialize(["warehouse"])
    assert catalog() == before
    assert path.stat().st_mtime_ns > since
    assert {"runs", "quarantine", "ingest_log", *FLEET} <= set(before["views"])
