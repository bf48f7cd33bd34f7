"""warehouse.duckdb: the catalog that notebooks and ad-hoc SQL open (read-only)."""

import dagster as dg

from runlens import runs as runs_table
from runlens import warehouse as catalog
from runlens.defs.assets.metrics import METRIC_ASSETS
from runlens.defs.failures import one_line_failure
from runlens.defs.resources import LAKE_POOL, RunlensResource
from runlens.locks import lake_write_lock
from runlens.refresh import PLAN_TAG, earlier_step_failed


class WarehouseConfig(dg.Config):
    """Set by a refresh run: the newest ingest sequence number whose records the refresh covered."""

    applied_ingest_seq: int = 0


@dg.asset(
    deps=["runs", *METRIC_ASSETS],
    group_name="warehouse",
    kinds={"duckdb"},
    pool=LAKE_POOL,
)
def warehouse(
    context: dg.AssetExecutionContext, config: WarehouseConfig, runlens: RunlensResource
) -> dg.MaterializeResult:
    """A DuckDB file holding only views over the lake (runs, quarantine, ingest_log, the metric tables) and the
    metric macros, with absolute paths, so `duckdb data/warehouse.duckdb` works from anywhere. Swapped in atomically.

    As the last step of a refresh it records which ingests are now reflected everywhere downstream; if any step
    before it fails, nothing is recorded and the next run redoes the same days.
    """
    settings = runlens.settings()
    with one_line_failure(), lake_write_lock(settings.lake_dir):
        names = catalog.refresh_warehouse(settings.lake_dir, settings.warehouse_path)
        if config.applied_ingest_seq:
            if earlier_step_failed(context.instance, context.run.tags.get(PLAN_TAG)):
                context.log.warning("a run of this refresh failed: its days are planned again, nothing marked applied")
            else:
                runs_table.mark_applied(settings.lake_dir, config.applied_ingest_seq)
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(settings.warehouse_path)), "relations": ", ".join(names)}
    )
