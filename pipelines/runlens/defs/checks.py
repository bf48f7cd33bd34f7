"""Asset checks: one per invariant (the queries live in sql/checks/). A failing check says what broke in its
description (how many, and the first few) and lists up to ``invariants.EXAMPLES`` rows in its metadata."""

import dagster as dg

from runlens import runs
from runlens.defs.resources import RunlensResource
from runlens.invariants import Violations, violations

DESCRIBED_EXAMPLES = 3  # rows a description quotes; the metadata holds more


def _row(columns: list[str], row: tuple) -> str:
    return ", ".join(f"{column}={value}" for column, value in zip(columns, row, strict=True))


def _examples_table(found: Violations) -> str:
    lines = ["| " + " | ".join(found.columns) + " |", "|" + "---|" * len(found.columns)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in found.examples]
    return "\n".join(lines)


def _result(found: Violations, what: str, problems: tuple[str, ...] = (), **kwargs: object) -> dg.AssetCheckResult:
    """The check's result: passed when no row broke the rule and there are no other ``problems``; otherwise a
    description ``<count> <what>: <first rows>`` (then the problems) and the examples as metadata."""
    described = [f"({_row(found.columns, row)})" for row in found.examples[:DESCRIBED_EXAMPLES]]
    if found.count > len(described):
        described.append(f"{found.count - len(described)} more")
    parts = [f"{found.count} {what}: {', '.join(described)}"] if found.count else []
    description = "; ".join([*parts, *problems]) or None
    metadata: dict[str, object] = {"violations": found.count, "examples_shown": len(found.examples)}
    if found.examples:
        metadata["examples"] = dg.MetadataValue.md(_examples_table(found))
    return dg.AssetCheckResult(passed=description is None, description=description, metadata=metadata, **kwargs)


@dg.asset_check(asset="ingested_exports", blocking=True)
def ingest_reconciles(runlens: RunlensResource) -> dg.AssetCheckResult:
    """Nothing lost: for every ingested file, records_read = records_valid + records_quarantined, and the staged and
    quarantine files hold exactly those counts."""
    return _result(violations(runlens.settings(), "ingest_reconciles"), "ingested file(s) whose counts do not add up")


@dg.asset_check(asset="ingested_exports")
def quarantine_rate(runlens: RunlensResource) -> dg.AssetCheckResult:
    """Warns when a file's share of quarantined records is above RUNLENS_QUARANTINE_RATE_THRESHOLD (default 5%):
    its exporter has probably changed shape. Only the files not yet taken into runs are read (those of the ingest
    run being checked, and any an interrupted run left), so a file is named by the run that ingests it, not again by
    every later one."""
    settings = runlens.settings()
    threshold = settings.quarantine_rate_threshold
    found = violations(
        settings, "quarantine_rate", threshold=threshold, applied_seq=runs.applied_seq(settings.lake_dir)
    )
    what = f"file(s) with more than {threshold:.2%} of their records quarantined"
    return _result(found, what, severity=dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset="runs", blocking=True)
def run_ids_unique(runlens: RunlensResource) -> dg.AssetCheckResult:
    """Each run id appears in exactly one row of runs, across all partitions."""
    return _result(violations(runlens.settings(), "run_ids_unique"), "run id(s) in more than one row of runs")


@dg.asset_check(asset="runs")
def runs_created_date_matches(runlens: RunlensResource) -> dg.AssetCheckResult:
    """Every run with created_at is in the partition of its UTC date, as the window macros' partition bounds assume
    (runlens writes it so; a file another writer added to the lake may not), and lake/runs holds no folder that is
    not a partition (created_date=YYYY-MM-DD: with one there, no query can read the table). Not blocking: the daily
    tables do not depend on it; the windowed ones (stuck runs, regressions, workflow_metrics) would miss the
    misplaced runs."""
    settings = runlens.settings()
    stray = runs.stray_folders(settings.lake_dir)
    problems = (
        (f"{len(stray)} folder(s) in lake/runs that are not partitions (created_date=YYYY-MM-DD): {', '.join(stray)}",)
        if stray
        else ()
    )
    found = violations(settings, "runs_created_date_matches")
    return _result(found, "partition(s) holding runs created outside their UTC day", problems)


@dg.asset_check(asset="workflow_daily_metrics")
def daily_metrics_valid(runlens: RunlensResource) -> dg.AssetCheckResult:
    """Rates and their intervals within [0, 1]; p50 <= p90 <= p95 <= p99 <= max; runs = completed + failed +
    in flight."""
    found = violations(runlens.settings(), "daily_metrics_valid")
    return _result(found, "workflow_daily_metrics row(s) that break an invariant")


@dg.asset_check(asset="workflow_daily_metrics")
def daily_metrics_reconcile(runlens: RunlensResource) -> dg.AssetCheckResult:
    """Per day, the metric counts sum to the runs totals, and every workflow in the metrics exists in runs."""
    found = violations(runlens.settings(), "daily_metrics_reconcile")
    return _result(found, "day(s) or workflow(s) where workflow_daily_metrics disagrees with runs")
