"""Asset checks: one per invariant (the queries live in sql/checks/), with metadata that explains a failure."""

import dagster as dg

from runlens.defs.resources import RunlensResource
from runlens.invariants import violations


def _result(bad: list[tuple], **kwargs: object) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=not bad, metadata={"violations": len(bad), "examples": str(bad[:5])}, **kwargs)


@dg.asset_check(asset="ingested_exports", blocking=True)
def ingest_reconciles(runlens: RunlensResource) -> dg.AssetCheckResult:
    """Nothing lost: for every ingested file, records_read = records_valid + records_quarantined, and the staged and
    quarantine files hold exactly those counts."""
    return _result(violations(runlens.settings(), "ingest_reconciles"))


@dg.asset_check(asset="ingested_exports")
def quarantine_rate(runlens: RunlensResource) -> dg.AssetCheckResult:
    """Warns when a file's share of quarantined records is above RUNLENS_QUARANTINE_RATE_THRESHOLD (default 5%):
    its exporter has probably changed shape."""
    settings = runlens.settings()
    bad = violations(settings, "quarantine_rate", threshold=settings.quarantine_rate_threshold)
    return _result(bad, severity=dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset="runs", blocking=True)
def run_ids_unique(runlens: RunlensResource) -> dg.AssetCheckResult:
    """Each run id appears in exactly one row of runs, across all partitions."""
    return _result(violations(runlens.settings(), "run_ids_unique"))


@dg.asset_check(asset="runs")
def runs_created_date_matches(runlens: RunlensResource) -> dg.AssetCheckResult:
    """Every run with created_at is in the partition of its UTC date, as the window macros' partition bounds assume
    (runlens writes it so; a file another writer added to the lake may not). Not blocking: the daily tables do not
    depend on it; the windowed ones (stuck runs, regressions, workflow_metrics) would miss the misplaced runs."""
    return _result(violations(runlens.settings(), "runs_created_date_matches"))


@dg.asset_check(asset="workflow_daily_metrics")
def daily_metrics_valid(runlens: RunlensResource) -> dg.AssetCheckResult:
    """Rates and their intervals within [0, 1]; p50 <= p90 <= p95 <= p99 <= max; runs = completed + failed +
    in flight."""
    return _result(violations(runlens.settings(), "daily_metrics_valid"))


@dg.asset_check(asset="workflow_daily_metrics")
def daily_metrics_reconcile(runlens: RunlensResource) -> dg.AssetCheckResult:
    """Per day, the metric counts sum to the runs totals, and every workflow in the metrics exists in runs."""
    return _result(violations(runlens.settings(), "daily_metrics_reconcile"))
