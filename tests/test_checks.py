"""The invariant queries of sql/checks/ fail on what breaks the rule their header states: workflow_daily_metrics
rows that disagree with runs or with themselves, and files quarantined above the threshold. Expected rows are
written by hand from those rules."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from runlens import invariants, metrics, runs
from runlens.config import Settings
from runlens.defs.checks import (
    daily_metrics_reconcile,
    daily_metrics_valid,
    quarantine_rate,
    run_ids_unique,
    runs_created_date_matches,
)
from runlens.defs.resources import RunlensResource
from runlens.ingest import ingest_file
from runlens.validation import RecordValidator

DAY = date(2026, 3, 1)


def rec(run_id: str, status: str, workflow: str = "wf-a", **more: Any) -> dict[str, Any]:
    out = {"runId": run_id, "workflowName": workflow, "status": status, "createdAt": "2026-03-01T10:00:00Z"}
    if status in ("completed", "failed"):
        out["completedAt"] = "2026-03-01T10:01:00Z"
    return out | more


def ingest(settings: Settings, name: str, records: list[dict[str, Any]]) -> None:
    path = settings.exports_dir / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = ingest_file(path, settings, RecordValidator.from_file(settings.schema_path), name)
    assert result.outcome == "ingested"


def daily_file(settings: Settings, day: date = DAY) -> Path:
    return settings.lake_dir / "metrics" / "workflow_daily_metrics" / f"day={day.isoformat()}" / "data.parquet"


def metric_lake(data_dir: Path) -> Settings:
    """On 2026-03-01: wf-a has 2 completed, 1 failed and 1 queued run; wf-b 1 running and 1 completed."""
    settings = Settings.from_env(data_dir)
    records = [
        rec("run_a1", "completed"),
        rec("run_a2", "completed"),
        rec("run_a3", "failed", error="boom"),
        rec("run_a4", "queued"),
        rec("run_b1", "running", "wf-b"),
        rec("run_b2", "completed", "wf-b"),
    ]
    ingest(settings, "runs.jsonl", records)
    runs.rebuild_days(settings.lake_dir, runs.all_days(settings.lake_dir))
    metrics.refresh_metrics(settings.lake_dir)
    return settings


def tamper(settings: Settings, change: dict[str, dict[str, int]], extra: tuple[dict[str, Any], ...] = ()) -> None:
    """Rewrite the computed 2026-03-01 partition: add ``change[workflow][column]`` to the counts of that workflow's
    row, and append ``extra`` rows (the other columns NULL)."""
    path = daily_file(settings)
    table = pq.read_table(path)
    rows = table.to_pylist()
    for row in rows:
        for column, delta in change.get(row["workflow_name"], {}).items():
            row[column] += delta
    rows += [{name: None for name in table.schema.names} | row for row in extra]
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)


def reconcile(settings: Settings) -> invariants.Violations:
    return invariants.violations(settings, "daily_metrics_reconcile")


def test_daily_metrics_reconcile_holds_on_computed_metrics(data_dir: Path) -> None:
    settings = metric_lake(data_dir)
    assert reconcile(settings) == invariants.Violations(0, ["problem", "metric_runs", "lake_runs"], [])
    assert daily_metrics_reconcile(runlens=RunlensResource(data_dir=str(data_dir))).passed


@pytest.mark.parametrize(
    ("column", "delta", "metric_runs"),
    [("in_flight", -1, 6), ("completed", 1, 6), ("failed", -1, 6), ("runs", 1, 7)],
)
def test_daily_metrics_reconcile_reports_a_day_where_one_count_differs(
    data_dir: Path, column: str, delta: int, metric_runs: int
) -> None:
    """Only one of the day's counts disagrees with runs (e.g. in flight says 1 where runs has 2 queued or running
    runs): the day is reported once, with its metric and lake run counts (6 runs in the lake)."""
    settings = metric_lake(data_dir)
    tamper(settings, {"wf-a": {column: delta}})
    found = reconcile(settings)
    assert (found.count, found.examples) == (1, [("day 2026-03-01", metric_runs, 6)])
    assert not daily_metrics_reconcile(runlens=RunlensResource(data_dir=str(data_dir))).passed


def test_daily_metrics_reconcile_reports_a_queued_run_counted_as_completed(data_dir: Path) -> None:
    """The metrics move wf-a's queued run to completed (runs unchanged): the day is reported once."""
    settings = metric_lake(data_dir)
    tamper(settings, {"wf-a": {"in_flight": -1, "completed": 1}})
    found = reconcile(settings)
    assert (found.count, found.examples) == (1, [("day 2026-03-01", 6, 6)])


def test_daily_metrics_reconcile_reports_a_workflow_runs_does_not_have(data_dir: Path) -> None:
    """One of wf-b's runs is attributed to ghost-wf: the day's totals still agree, the workflow is reported."""
    settings = metric_lake(data_dir)
    tamper(
        settings,
        {"wf-b": {"runs": -1, "completed": -1}},
        ({"workflow_name": "ghost-wf", "runs": 1, "completed": 1, "failed": 0, "in_flight": 0},),
    )
    found = reconcile(settings)
    assert (found.count, found.examples) == (1, [("workflow not in runs: ghost-wf", None, None)])
    result = daily_metrics_reconcile(runlens=RunlensResource(data_dir=str(data_dir)))
    assert not result.passed
    assert result.metadata["violations"].value == 1


def test_daily_metrics_reconcile_reports_days_missing_on_either_side(data_dir: Path) -> None:
    """A day in runs without metrics, and a day in the metrics without runs: both reported, NULL on the missing
    side, in the order of their problem text; a ghost workflow on the extra day is reported too."""
    settings = metric_lake(data_dir)
    ingest(settings, "later.jsonl", [rec("run_c1", "queued", "wf-a", createdAt="2026-03-02T08:00:00Z")])
    runs.rebuild_days(settings.lake_dir, runs.all_days(settings.lake_dir))
    # metrics still only for 2026-03-01; add a partition for 2026-03-05, a day runs does not have
    table = pq.read_table(daily_file(settings))
    row = {name: None for name in table.schema.names} | {
        "workflow_name": "ghost-wf",
        "runs": 2,
        "completed": 0,
        "failed": 0,
        "in_flight": 2,
    }
    path = daily_file(settings, date(2026, 3, 5))
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row], schema=table.schema), path)
    found = reconcile(settings)
    assert found.examples == [
        ("day 2026-03-02", None, 1),
        ("day 2026-03-05", 2, None),
        ("workflow not in runs: ghost-wf", None, None),
    ]


# daily_metrics_valid: rates and bounds in [0, 1] with low <= rate <= high; p50 <= p90 <= p95 <= p99 <= max;
# runs = completed + failed + in_flight. One row per broken rule, every other rule holding on it.
GOOD = {
    "runs": 10,
    "completed": 6,
    "failed": 2,
    "in_flight": 2,
    "failure_rate": 0.25,
    "failure_rate_low": 0.1,
    "failure_rate_high": 0.6,
    "p50_s": 10.0,
    "p90_s": 20.0,
    "p95_s": 30.0,
    "p99_s": 40.0,
    "max_s": 50.0,
}
BROKEN = {
    "runs-not-the-sum": {"runs": 11},
    "in-flight-short": {"in_flight": 1},
    "runs-below-the-sum": {"completed": 7},  # only runs above the sum was tested (found by a mutation audit)
    "p99-above-max": {"p99_s": 51.0},
    "p95-above-p99": {"p95_s": 41.0},
    "p90-above-p95": {"p90_s": 31.0},
    "p50-above-p90": {"p50_s": 21.0},
    "rate-below-low": {"failure_rate": 0.05},
    "rate-above-high": {"failure_rate": 0.7},
    "low-below-0": {"failure_rate_low": -0.1, "failure_rate": 0.0},
    "high-above-1": {"failure_rate_high": 1.1, "failure_rate": 1.05},
}
EQUAL = {  # limits are inclusive: these hold
    "all-quantiles-equal": {"p50_s": 50.0, "p90_s": 50.0, "p95_s": 50.0, "p99_s": 50.0},
    "rate-at-bounds-0": {"failure_rate_low": 0.0, "failure_rate": 0.0, "failure_rate_high": 0.0},
    "rate-at-bounds-1": {"failure_rate_low": 1.0, "failure_rate": 1.0, "failure_rate_high": 1.0},
}


def write_daily(settings: Settings, rows: dict[str, dict[str, Any]]) -> None:
    """A hand-written workflow_daily_metrics partition for 2026-03-01 (schema of a computed one): one row per
    workflow, GOOD with the given changes."""
    ingest(settings, "runs.jsonl", [rec("run_a1", "completed")])
    runs.rebuild_days(settings.lake_dir, runs.all_days(settings.lake_dir))
    metrics.refresh_metrics(settings.lake_dir)
    schema = pq.read_schema(daily_file(settings))
    table = pa.Table.from_pylist(
        [{name: None for name in schema.names} | GOOD | {"workflow_name": wf} | change for wf, change in rows.items()],
        schema=schema,
    )
    pq.write_table(table, daily_file(settings))


def test_daily_metrics_valid_reports_each_broken_rule(data_dir: Path) -> None:
    settings = Settings.from_env(data_dir)
    write_daily(settings, {"good": {}, **BROKEN, **EQUAL})
    found = invariants.violations(settings, "daily_metrics_valid")
    assert found.count == len(BROKEN)
    assert [row[0] for row in found.examples] == sorted(BROKEN)
    by_name = {row[0]: dict(zip(found.columns, row, strict=True)) for row in found.examples}
    assert by_name["runs-not-the-sum"]["runs"] == 11
    assert by_name["p99-above-max"]["p99_s"] == 51.0
    assert by_name["p99-above-max"]["day"] == DAY
    result = daily_metrics_valid(runlens=RunlensResource(data_dir=str(data_dir)))
    assert not result.passed
    assert result.metadata["violations"].value == len(BROKEN)


def test_daily_metrics_valid_holds_on_good_and_boundary_rows(data_dir: Path) -> None:
    settings = Settings.from_env(data_dir)
    write_daily(settings, {"good": {}, **EQUAL})
    assert invariants.violations(settings, "daily_metrics_valid").count == 0
    assert daily_metrics_valid(runlens=RunlensResource(data_dir=str(data_dir))).passed


# quarantine_rate: files whose share of quarantined records is above the threshold (strictly).
def export(valid: int, invalid: int) -> list[dict[str, Any]]:
    good = [rec(f"run_{i}", "queued") for i in range(valid)]
    bad = [rec(f"run_bad_{i}", "cancelled") for i in range(invalid)]
    return good + bad


def test_quarantine_rate_is_strictly_above_the_threshold(data_dir: Path) -> None:
    """At 0.05: 0 of 20 and 1 of 20 (exactly 5 %) pass; 2 of 20 (10 %) and 3 of 20 (15 %) are reported, the
    highest rate first."""
    settings = Settings.from_env(data_dir)
    for name, invalid in (("none.jsonl", 0), ("one.jsonl", 1), ("two.jsonl", 2), ("three.jsonl", 3)):
        ingest(settings, name, export(20 - invalid, invalid))
    found = invariants.violations(settings, "quarantine_rate", threshold=0.05, applied_seq=0)
    assert found.columns == ["source_file", "records_read", "records_quarantined", "quarantine_rate"]
    assert found.examples == [("three.jsonl", 20, 3, 0.15), ("two.jsonl", 20, 2, 0.1)]
    at_ten_percent = invariants.violations(settings, "quarantine_rate", threshold=0.1, applied_seq=0)
    assert at_ten_percent.examples == [("three.jsonl", 20, 3, 0.15)]


def test_quarantine_rate_check_at_the_default_threshold(data_dir: Path) -> None:
    """The Dagster check reads RUNLENS_QUARANTINE_RATE_THRESHOLD, 5 % by default: exactly 5 % passes."""
    settings = Settings.from_env(data_dir)
    ingest(settings, "one.jsonl", export(19, 1))
    resource = RunlensResource(data_dir=str(data_dir))
    assert quarantine_rate(runlens=resource).passed
    ingest(settings, "two.jsonl", export(18, 2))
    result = quarantine_rate(runlens=resource)
    assert not result.passed
    assert result.metadata["violations"].value == 1
    assert result.description.startswith("1 file(s) with more than 5.00% of their records quarantined: ")
    assert "source_file=two.jsonl" in result.description


def test_quarantine_rate_names_only_the_files_not_yet_taken_into_runs(data_dir: Path) -> None:
    """A file above the threshold is named by the checks of the run that ingests it; once runs has taken it in
    (lake/state/runs.json), later evaluations pass, until a new file is above the threshold again."""
    settings = Settings.from_env(data_dir)
    resource = RunlensResource(data_dir=str(data_dir))
    ingest(settings, "bad.jsonl", export(10, 10))
    assert "source_file=bad.jsonl" in quarantine_rate(runlens=resource).description
    runs.mark_applied(settings.lake_dir, 1)
    assert quarantine_rate(runlens=resource).passed
    ingest(settings, "good.jsonl", export(20, 0))
    assert quarantine_rate(runlens=resource).passed
    ingest(settings, "worse.jsonl", export(5, 15))
    result = quarantine_rate(runlens=resource)
    assert not result.passed
    assert result.metadata["violations"].value == 1
    assert "source_file=worse.jsonl" in result.description and "bad.jsonl" not in result.description


@pytest.mark.parametrize(
    "part",
    ["staged", "quarantine", "ingest_log"],
    ids=["a staged record lost", "a quarantined record twice", "one record more read than kept"],
)
def test_ingest_reconciles_reports_each_count_that_does_not_add_up(data_dir: Path, part: str) -> None:
    """8 valid and 2 quarantined records; each tampering breaks one equation of the check (records_read = valid +
    quarantined; valid = staged rows; quarantined = quarantine rows). Only a quarantine file one row short was
    tested, so dropping either other equation, or a quarantine file with a row too many, went unseen (found by a
    mutation audit)."""
    settings = Settings.from_env(data_dir)
    ingest(settings, "a.jsonl", export(8, 2))
    assert invariants.violations(settings, "ingest_reconciles").count == 0
    (path,) = (settings.lake_dir / "ingest").glob(f"*/{part}.parquet")
    table = pq.read_table(path)
    if part == "staged":
        table = table.slice(1)
    elif part == "quarantine":
        table = pa.concat_tables([table, table.slice(0, 1)])
    else:
        read = table.schema.get_field_index("records_read")
        table = table.set_column(read, "records_read", pa.array([table["records_read"][0].as_py() + 1], pa.int64()))
    pq.write_table(table, path)
    found = invariants.violations(settings, "ingest_reconciles")
    assert found.count == 1 and [row[0] for row in found.examples] == ["a.jsonl"], found


def test_an_export_with_no_records_has_no_quarantine_rate(data_dir: Path) -> None:
    """0 quarantined of 0 read is no rate (DuckDB's 0/0 is NaN, and NaN is above every threshold): an empty export
    is never reported, even at threshold 0 (found by a mutation audit)."""
    settings = Settings.from_env(data_dir)
    ingest(settings, "empty.jsonl", [])
    ingest(settings, "ok.jsonl", export(20, 0))
    found = invariants.violations(settings, "quarantine_rate", threshold=0.0, applied_seq=0)
    assert found.count == 0, found.examples


def test_a_check_of_two_tables_one_without_files_finds_nothing(data_dir: Path) -> None:
    """runs has files, workflow_daily_metrics none yet: the checks that read both have nothing to break (they used
    to need every table they read, not any: found by a mutation audit)."""
    settings = Settings.from_env(data_dir)
    ingest(settings, "runs.jsonl", [rec("run_a1", "completed")])
    runs.rebuild_days(settings.lake_dir, runs.all_days(settings.lake_dir))
    assert invariants.violations(settings, "daily_metrics_reconcile") == invariants.Violations()
    assert invariants.violations(settings, "daily_metrics_valid") == invariants.Violations()


@pytest.mark.parametrize(
    ("valid", "invalid", "part", "keep"),
    [(8, 2, "staged", 0), (8, 2, "quarantine", 0), (10, 0, "staged", 9), (0, 10, "quarantine", 9)],
    ids=[
        "every staged record lost",
        "every quarantined record lost",
        "a staged record lost, none quarantined",
        "a quarantined record lost, none staged",
    ],
)
def test_ingest_reconciles_reports_a_file_with_no_rows_on_one_side_with_its_counts(
    data_dir: Path, valid: int, invalid: int, part: str, keep: int
) -> None:
    """A file whose staged or quarantine rows are all gone, or a file with nothing on the other side (every record
    valid, or every one quarantined) that lost a row, is reported with 0 for the side with no rows. Only files
    with rows on both sides were tested: joining the staged or quarantine counts without keeping the files that
    have none hid these files, and an empty side was shown as None (found by a mutation audit)."""
    settings = Settings.from_env(data_dir)
    ingest(settings, "a.jsonl", export(valid, invalid))
    (path,) = (settings.lake_dir / "ingest").glob(f"*/{part}.parquet")
    pq.write_table(pq.read_table(path).slice(0, keep), path)
    staged, quarantined = (keep, invalid) if part == "staged" else (valid, keep)
    found = invariants.violations(settings, "ingest_reconciles")
    assert found.columns[-2:] == ["staged_rows", "quarantine_rows"]
    assert (found.count, found.examples) == (1, [("a.jsonl", valid + invalid, valid, invalid, staged, quarantined)])


def test_the_runs_checks_find_nothing_when_no_record_reached_runs(data_dir: Path) -> None:
    """Every record of the only export is quarantined: runs has no partition, and its checks have nothing to break.
    They read an empty list of files instead, which DuckDB refuses (untested: found by a mutation audit)."""
    settings = Settings.from_env(data_dir)
    ingest(settings, "bad.jsonl", export(0, 3))
    runs.rebuild_days(settings.lake_dir, runs.all_days(settings.lake_dir))
    assert not list((settings.lake_dir / "runs").glob("*/*.parquet"))
    for check in ("run_ids_unique", "runs_created_date_matches"):
        assert invariants.violations(settings, check) == invariants.Violations(), check
    resource = RunlensResource(data_dir=str(data_dir))
    assert run_ids_unique(runlens=resource).passed
    assert runs_created_date_matches(runlens=resource).passed


def test_the_runs_checks_read_a_data_directory_named_with_glob_characters(tmp_path: Path, isolated_env: Path) -> None:
    """Under `br[1]` (a glob that matches `br1`), the runs checks read the lake's own partitions: a run id in two
    partitions is found. The partition folders were not escaped, and every check of runs failed to find its files
    (only a whole `runlens run` with a sibling `br1x` holding the same runs covered it: found by a mutation audit)."""
    settings = Settings.from_env(tmp_path / "br[1]")
    settings.exports_dir.mkdir(parents=True)
    ingest(settings, "a.jsonl", [rec("run_a1", "queued"), rec("run_a2", "queued")])
    runs.rebuild_days(settings.lake_dir, runs.all_days(settings.lake_dir))
    (partition,) = (settings.lake_dir / "runs").glob("*/data.parquet")
    copy = settings.lake_dir / "runs" / "created_date=2026-03-02" / "data.parquet"  # run_a1 again, a day later
    copy.parent.mkdir()
    pq.write_table(pq.read_table(partition).filter(pc.field("run_id") == "run_a1"), copy)
    found = invariants.violations(settings, "run_ids_unique")
    assert (found.columns, found.count, found.examples) == (["run_id", "copies"], 1, [("run_a1", 2)])


def test_daily_metrics_reconcile_lists_its_problems_in_the_order_of_their_text(data_dir: Path) -> None:
    """Twelve days the metrics have and runs does not, each with two workflows runs does not have (written in
    no order): 36 problems, listed by their text (the days in date order, then the workflows by name), so a
    failed check shows the same first examples each time (found by a mutation audit: two rows were tested)."""
    settings = metric_lake(data_dir)
    schema = pq.read_schema(daily_file(settings))
    days = [date(2026, 4, 1) + timedelta(days=i) for i in range(12)]
    names = [f"ghost-{(i * 7) % 24:02d}" for i in range(24)]  # every number below 24 once, out of order
    for i, day in enumerate(days):
        rows = [
            {name: None for name in schema.names}
            | {"workflow_name": name, "runs": 1, "completed": 0, "failed": 0, "in_flight": 1}
            for name in names[2 * i : 2 * i + 2]
        ]
        path = daily_file(settings, day)
        path.parent.mkdir()
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    found = reconcile(settings)
    expected = [(f"day {day}", 2, None) for day in days] + [
        (f"workflow not in runs: {name}", None, None) for name in sorted(names)
    ]
    assert (found.count, found.examples) == (36, expected[: invariants.EXAMPLES])
