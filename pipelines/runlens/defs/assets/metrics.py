"""Reliability metrics: the sql/*.sql metric tables computed by DuckDB over runs, written under lake/metrics/."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg

from runlens import db, lake, metrics
from runlens.config import SQL_DIR
from runlens.defs.assets.ingest import md_escape
from runlens.defs.config import DaysConfig, window_days
from runlens.defs.failures import one_line_failure
from runlens.defs.partitions import days
from runlens.defs.resources import LAKE_POOL, RunlensResource
from runlens.locks import lake_write_lock

DAILY = "workflow_daily_metrics"
FLEET = ("workflow_hourly_throughput", "error_signatures", "stuck_runs", "workflow_regressions")
METRIC_ASSETS = (DAILY, *FLEET)
AS_OF_TABLES = {"stuck_runs", "workflow_regressions"}  # computed as of the lake's time, which after_ingest runs skip
PREVIEW_SQL = SQL_DIR / "preview_worst_workflows.sql"


@dg.asset(
    name=DAILY,
    partitions_def=days,
    deps=["runs"],
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="metrics",
    kinds={"duckdb", "parquet"},
    pool=LAKE_POOL,
)
def workflow_daily_metrics(
    context: dg.AssetExecutionContext, config: DaysConfig, runlens: RunlensResource
) -> dg.MaterializeResult:
    """Per workflow and created_date cohort (UTC): runs, completed, failed, in flight, failure rate with its Wilson
    95% interval, and exact p50/p90/p95/p99/max duration of the finished runs. See docs/metrics.md."""
    settings = runlens.settings()
    selected = config.select(window_days(context))
    with one_line_failure(), lake_write_lock(settings.lake_dir):
        counts = metrics.refresh_metrics(settings.lake_dir, selected, tables=[DAILY])
    return dg.MaterializeResult(
        metadata={
            "days": dg.MetadataValue.int(len(selected)),
            "rows_written": dg.MetadataValue.int(counts[DAILY]),
            "worst_workflows": dg.MetadataValue.md(worst_workflows_markdown(settings.lake_dir, selected)),
        }
    )


def worst_workflows_markdown(lake_dir: Path, selected: list[date]) -> str:
    glob = metrics.metric_globs(lake_dir)[DAILY]
    if not selected or not lake.has_files(lake.table_dir(lake_dir, lake.METRICS), DAILY, partitioned=True):
        return "no data"
    with db.connect() as con:
        rows = con.execute(PREVIEW_SQL.read_text(), {"daily": glob, "days": selected}).fetchall()
    lines = [
        f"| {md_escape(name)} | {finished} | {failed} | {'-' if rate is None else f'{rate:.1%}'} |"
        for name, finished, failed, rate in rows
    ]
    return "| workflow | finished | failed | failure rate |\n|---|---|---|---|\n" + "\n".join(lines)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(name, deps=["runs"], group_name="metrics", kinds={"duckdb", "parquet"}, description=text)
        for name, text in (
            (
                "workflow_hourly_throughput",
                "Finished, completed and failed runs per workflow and UTC hour of completion.",
            ),
            ("error_signatures", "Failed runs' errors normalised into recurring signatures, per workflow."),
            ("stuck_runs", "Queued or running runs older than their workflow's threshold at the newest export's time."),
            ("workflow_regressions", "Workflows whose failure rate or p95 got significantly worse this week."),
        )
    ],
    pool=LAKE_POOL,
    can_subset=True,
)
def reliability_tables(
    context: dg.AssetExecutionContext, config: DaysConfig, runlens: RunlensResource
) -> Iterator[dg.MaterializeResult]:
    """Metric tables that are not per created_date: hourly throughput (recomputed for the completion days of the
    given days' runs, or all), error signatures, stuck runs and regressions (rewritten whole from partial results
    kept per created_date, recomputed for the given days, and the runs of their time windows).

    Any of them may be materialized alone (`--select stuck_runs`): only the selected tables and the partial results
    they read are refreshed. Each table has its own partial, and the one they share (the newest event, stuck runs'
    and regressions' default as_of) is only ever brought closer to runs, so a table left out is as it was: without
    only_days the selected tables are recomputed whole; with it, only for those days, as the refresh plan does."""
    settings = runlens.settings()
    selected = [name for name in FLEET if dg.AssetKey(name) in context.selected_asset_keys]
    changed: list[date] | None = [date.fromisoformat(d) for d in config.only_days] or None
    with one_line_failure(), lake_write_lock(settings.lake_dir):
        counts = metrics.refresh_metrics(settings.lake_dir, changed, tables=selected)
        # as runlens run's summary does: runs left out of the as-of time of stuck runs and regressions
        ahead = metrics.runs_after_ingest(settings.lake_dir) if AS_OF_TABLES & set(selected) else 0
    if ahead:
        context.log.warning(metrics.after_ingest_notice(ahead))
    for name in selected:
        metadata = {"rows_written": dg.MetadataValue.int(counts[name])}
        if name in AS_OF_TABLES:
            metadata["runs_after_ingest"] = dg.MetadataValue.int(ahead)
        yield dg.MaterializeResult(asset_key=name, metadata=metadata)
