"""runs: the latest known state of every workflow run, one partition per UTC created_date."""

import dagster as dg

from runlens import runs as runs_table
from runlens.defs.config import DaysConfig, window_days
from runlens.defs.failures import one_line_failure
from runlens.defs.partitions import days
from runlens.defs.resources import LAKE_POOL, RunlensResource
from runlens.locks import lake_write_lock


@dg.asset(
    partitions_def=days,
    deps=[dg.AssetDep("ingested_exports", partition_mapping=dg.AllPartitionMapping())],
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="lake",
    kinds={"duckdb", "parquet"},
    pool=LAKE_POOL,
)
def runs(context: dg.AssetExecutionContext, config: DaysConfig, runlens: RunlensResource) -> dg.MaterializeResult:
    """One row per workflow run: its latest known state across every export (a stale export never moves a run
    backwards; a run seen both completed and failed keeps the later record and is flagged), with duration_s for
    finished runs. Each day's partition is recomputed whole from all staged records and swapped in atomically.
    """
    settings = runlens.settings()
    selected = config.select(window_days(context))
    with one_line_failure(), lake_write_lock(settings.lake_dir):
        counts = runs_table.rebuild_days(settings.lake_dir, selected)
    rows = "\n".join(f"| {day} | {n} |" for day, n in sorted(counts.items()))
    return dg.MaterializeResult(
        metadata={
            "days_rebuilt": dg.MetadataValue.int(len(counts)),
            "rows_written": dg.MetadataValue.int(sum(counts.values())),
            "preview": dg.MetadataValue.md("| created_date | runs |\n|---|---|\n" + rows),
        }
    )
