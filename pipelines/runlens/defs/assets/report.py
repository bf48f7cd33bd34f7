"""The weekly reliability review: the notebook rendered to one HTML page from the warehouse, and its schedule."""

import dagster as dg

from runlens import warehouse
from runlens.defs.assets.metrics import METRIC_ASSETS
from runlens.defs.failures import one_line_failure
from runlens.defs.resources import RunlensResource
from runlens.interrupts import interrupts_deferred
from runlens.report import default_report_path, render_report

REVIEW_DAYS = 7


@dg.asset(
    deps=[*METRIC_ASSETS, "warehouse"],
    group_name="report",
    kinds={"jupyter", "html"},
)
def reliability_report(context: dg.AssetExecutionContext, runlens: RunlensResource) -> dg.MaterializeResult:
    """The reliability review of the last 7 days of runs (ending at the newest created_at) against the 7 days
    before: fleet failure rate with its Wilson interval, exact p50/p95/p99 duration and throughput, failure rate
    and latency over time for the workflows that matter most, error signatures (new and growing), stuck runs,
    regressions and data quality. notebooks/reliability_review.ipynb executed on the warehouse (read-only) and
    written as one self-contained HTML page, `<data dir>/reports/reliability-review.html`.
    """
    settings = runlens.settings()
    if not settings.warehouse_path.exists():  # render_report's own message gives the command line's advice
        raise dg.Failure(
            f"{settings.warehouse_path}: no warehouse yet: materialize the warehouse asset (or turn on the sensors) for"
            " this data directory (RUNLENS_DATA_DIR in the code location's environment) first"
        )
    # one of an earlier runlens would fail in the notebook; one of another lake would review that lake
    with one_line_failure("in Dagster, materialize the warehouse asset (or turn on the sensors)"):
        warehouse.refuse_foreign(settings.warehouse_path, settings.lake_dir, settings.data_dir)
    with one_line_failure():
        result = render_report(
            settings.warehouse_path,
            default_report_path(settings),
            days=REVIEW_DAYS,
            echo=lambda text: _warn(context, text),
        )
    window = result.headline["window"]
    headline = {name: _number(value) for name, value in result.current.items() if value is not None}
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "window": f"{window['since']} .. {window['until']} (UTC)",
            **headline,
        }
    )


def _warn(context: dg.AssetExecutionContext, text: str) -> None:
    with interrupts_deferred():  # a log line is a write to the Dagster instance: Ctrl-C comes before or after it
        context.log.warning(text)


def _number(value: float) -> dg.MetadataValue:
    return dg.MetadataValue.int(value) if isinstance(value, int) else dg.MetadataValue.float(value)


weekly_reliability_report = dg.ScheduleDefinition(
    name="weekly_reliability_report",
    target=dg.AssetSelection.assets(reliability_report),
    cron_schedule="0 6 * * 1",
    execution_timezone="UTC",
)
