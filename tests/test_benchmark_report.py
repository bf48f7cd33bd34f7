"""The benchmark's arithmetic and reporting, on hand-made measurements: which rates a ratio divides, which way a
target compares against the value issue 5 states, how repeats are aggregated, what a killed task reports, and that
the Markdown table shows what the JSON holds. No timing is asserted: every number here is one the test chose."""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from reference import SCHEMA, VALIDATOR

from benchmarks import baselines, child, datasets, measure, profile_ingest, scenarios
from benchmarks.measure import MIB, ChildRun, MemoryGuardTripped
from benchmarks.pipeline_probe import DATA, NESTED, OUTSIDE
from benchmarks.report import Measurement, Report, Target
from benchmarks.scales import Scale

MACHINE = {
    "cpu_model": "test CPU",
    "logical_cores": 2,
    "memory_gib": 8.0,
    "load_average_at_start": [0.1, 0.1, 0.1],
    "python": "3.11",
    "packages": {"duckdb": "1", "pyarrow": "2", "polars": "3"},
    "runlens_revision": "abc1234",
}
SCALE = Scale(
    "test", ingest_runs=1_000, growth_runs=5_000, baseline_a_sample=100, repeats=3, lake_runs=(1, 2), lake_days=3
)


def child_run(
    seconds: float,
    records: int | None = None,
    *,
    wall: float | None = None,
    rss: float = 100.0,
    tree: float | None = None,
    main: float | None = None,
    **result: Any,
) -> ChildRun:
    """A finished task as ``run_child`` returns it: what the task wrote, its wall time and its peaks (MiB)."""
    payload = {"seconds": seconds, **({} if records is None else {"records": records}), **result}
    tree = rss if tree is None else tree
    return ChildRun(payload, wall if wall is not None else seconds + 1, rss, tree, tree, rss if main is None else main)


def new_report() -> Report:
    return Report("test", MACHINE, "2026-11-30T00:00:00Z", 7, "all")


@dataclass
class FakeBench(scenarios.Bench):
    """A benchmark run whose tasks return the given child runs (or raise the given errors) in order, per task."""

    scripted: dict[str, list[ChildRun | Exception]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def child(self, task: str, **args: Any) -> ChildRun:
        self.calls.append((task, args))
        outcome = self.scripted[task].pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def ingest(self, export: datasets.Export, workers: int = 0) -> ChildRun:
        return self.child("ingest_workers" if workers else "ingest", file=str(export.path))


def fake_bench(tmp_path: Path, **scripted: list[ChildRun | Exception]) -> FakeBench:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return FakeBench(SCALE, tmp_path / "data", work, new_report(), 7, scripted=scripted)


def export_at(tmp_path: Path, fmt: str, records: int, decoded_bytes: int, runs: int = 1_000) -> datasets.Export:
    """A stand-in export: a small file on disk whose recorded decoded size is ``decoded_bytes``."""
    path = tmp_path / f"export-{runs}.{fmt}"
    path.write_bytes(b"x" * 10)
    return datasets.Export(path, fmt, records, runs, decoded_bytes)


def targets_by_description(report: Report) -> dict[str, Target]:
    return {t.description: t for t in report.targets}


# --- Measurement: aggregation of repeats and a killed task ------------------------------------------------------


def test_a_measurement_is_the_median_of_its_repeats_and_the_largest_peak_of_each_kind() -> None:
    runs = [
        ChildRun({"seconds": 3.0, "records": 600, "workers": 2}, 9.0, 100.0, 700.0, 500.0, 60.0),
        ChildRun({"seconds": 1.0, "records": 600, "workers": 2}, 9.0, 300.0, 400.0, 350.0, 90.0),
        ChildRun({"seconds": 2.0, "records": 600, "workers": 2}, 9.0, 200.0, 500.0, 600.0, 30.0),
    ]
    m = Measurement.of("1", "runlens", runs)
    assert m.seconds == 2.0 and m.repeats_s == [3.0, 1.0, 2.0]
    assert (m.peak_rss_mib, m.peak_tree_rss_mib, m.peak_tree_pss_mib, m.peak_main_rss_mib) == (300, 700, 600, 90)
    assert m.rate == 600 / 2.0
    assert m.details == {"workers": 2} and m.completed


def test_a_killed_task_is_reported_as_not_finished_with_its_guard_and_no_rate() -> None:
    tripped = MemoryGuardTripped("ingest", wall_s=42.4, guard_mib=1536.0)
    m = Measurement.killed("3", "runlens ingest_file: jsonl", 5_000, tripped)
    assert not m.completed
    assert (m.seconds, m.peak_tree_rss_mib, m.peak_main_rss_mib) == (42.4, 1536.0, 1536.0)
    assert m.ratio.startswith("DID NOT FINISH") and "1,536 MiB" in m.ratio and "42 s" in m.ratio
    report = new_report()
    report.measurements.append(m)
    [row] = [line for line in report.render().splitlines() if "runlens ingest_file: jsonl" in line]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[2:5] == ["5,000", "42.40", "n/a"] and cells[5].startswith("DID NOT FINISH")


# --- Target: direction, boundary, margin, a killed measurement -------------------------------------------------


@pytest.mark.parametrize(
    ("measured", "required", "at_most", "passed"),
    [
        (20.0, 20.0, False, True),  # "records/s >= 20x baseline A": exactly 20x meets it
        (19.9, 20.0, False, False),
        (25.0, 20.0, False, True),
        (10.0, 10.0, True, True),  # "<= 10 s": exactly 10 s meets it
        (10.1, 10.0, True, False),
        (4.0, 10.0, True, True),
    ],
)
def test_a_target_compares_in_the_direction_the_issue_states_and_its_bound_counts_as_met(
    measured: float, required: float, at_most: bool, passed: bool
) -> None:
    assert Target("4", "t", measured, required, "x", at_most=at_most).passed is passed


def test_a_targets_margin_is_the_measured_value_as_a_share_of_the_required_one() -> None:
    assert Target("1", "t", 25.0, 20.0, "x").margin == "met, 25% to spare"
    assert Target("1", "t", 15.0, 20.0, "x").margin == "missed by 25%"
    assert Target("4", "t", 12.0, 10.0, " s", at_most=True).margin == "missed by 20%"
    assert Target("4", "t", 7.0, 10.0, " s", at_most=True).margin == "met, 30% to spare"


def test_a_target_on_a_killed_measurement_fails_and_says_its_value_is_a_bound() -> None:
    target = Target("4", "full runs rebuild <= 10 s", 3.0, 10.0, " s", at_most=True, completed=False)
    assert target.passed is False
    assert "did not finish" in target.margin
    assert target.to_json()["passed"] is False and "did not finish" in target.to_json()["margin"]


def test_the_targets_table_shows_each_targets_direction_value_and_verdict_as_the_json_holds_them() -> None:
    report = new_report()
    report.targets += [
        Target("1", "ingest >= 20x A", 30.0, 20.0, "x"),
        Target("4", "rebuild <= 10 s", 12.5, 10.0, " s", at_most=True),
    ]
    printed = report.render()
    assert "| 1 ingest >= 20x A | 30.00x | >= 20.00x | PASS (met, 50% to spare) |" in printed
    assert "| 4 rebuild <= 10 s | 12.50 s | <= 10.00 s | FAIL (missed by 25%) |" in printed
    as_json = report.to_json()["targets"]
    assert [(t["measured"], t["required"], t["at_most"], t["passed"]) for t in as_json] == [
        (30.0, 20.0, False, True),
        (12.5, 10.0, True, False),
    ]


def test_only_a_full_run_judges_its_targets_without_a_warning() -> None:
    """The smoke scale's files are too small for the targets (fixed process memory against a tiny file): its report
    says the verdicts are not to be judged; a full run's report does not."""
    small, full = new_report(), Report("full", MACHINE, "2026-11-30T00:00:00Z", 7, "all")
    assert "judge them on a full run" in small.render()
    assert "judge them on a full run" not in full.render()


def test_the_measurement_table_shows_the_rate_and_peaks_the_json_holds() -> None:
    report = new_report()
    m = Measurement("1", "runlens", 3_000, 2.0, [2.0], 123.0, 456.0, 400.0, 100.0, ratio="r")
    report.measurements.append(m)
    [as_json] = report.to_json()["measurements"]
    assert as_json["rate_per_s"] == 1_500.0
    assert "| 1 | runlens | 3,000 | 2.00 | 1,500 | r | 123 | 456 |" in report.render()


# --- Scenarios 1 and 2: ratios and targets of one format --------------------------------------------------------


def test_ingest_ratios_divide_runlens_rate_by_each_baselines_and_the_targets_use_the_issues_values(
    tmp_path: Path,
) -> None:
    # runlens: 1,000 records, repeats of 1, 2 and 10 s (median 2 s: 500/s); A: 100 records in 8, 4 and 2 s (median
    # 4 s: 25/s); B: the same 1,000 records in 1.25 s (800/s). The reading process peaks at 40 MiB (tree: 300 MiB),
    # the file decodes to 100 MiB (its bytes on disk are only a few, like a gzipped file's).
    export = export_at(tmp_path, "jsonl.gz", 1_000, 100 * MIB)
    bench = fake_bench(
        tmp_path,
        ingest=[child_run(t, 1_000, main=40.0, tree=300.0, workers=2) for t in (1.0, 2.0, 10.0)],
        baseline_b=[child_run(1.25, rows_written=1_000) for _ in range(3)],
        baseline_a=[child_run(t, 100, invalid=1) for t in (8.0, 4.0, 2.0)],
    )
    runlens, b = scenarios.compare_ingest(bench, "2 jsonl.gz", export)
    assert [task for task, _ in bench.calls] == ["ingest", "baseline_b", "baseline_a"] * 3, "alternated, 3 each"
    assert (runlens.rate, b.rate) == (500.0, 800.0)
    targets = targets_by_description(bench.report)
    ratio_a = targets["runlens ingest >= 20x baseline A (jsonl.gz)"]
    ratio_b = targets["runlens ingest >= 0.8x baseline B (jsonl.gz)"]
    streamed = targets["streamed: reading process peak RSS < decoded file size (jsonl.gz)"]
    assert (ratio_a.measured, ratio_a.required, ratio_a.at_most, ratio_a.passed) == (20.0, 20.0, False, True)
    assert (ratio_b.measured, ratio_b.required, ratio_b.at_most, ratio_b.passed) == (500 / 800, 0.8, False, False)
    assert (streamed.measured, streamed.required, streamed.at_most, streamed.passed) == (0.4, 1.0, True, True)
    assert {t.key for t in bench.report.targets} == {"2 jsonl.gz"}
    ratios = {m.label.split(":")[0]: m.ratio for m in bench.report.measurements}
    assert ratios["baseline A"] == "runlens = 20.0x this" and ratios["baseline B"] == "runlens = 0.62x this"
    assert ratios["runlens ingest_file"] == "reading process peak RSS = 0.40x decoded file"


def test_an_ingest_whose_reading_process_outgrows_the_decoded_file_fails_the_streaming_target(tmp_path: Path) -> None:
    export = export_at(tmp_path, "jsonl", 1_000, 100 * MIB)
    bench = fake_bench(
        tmp_path,
        ingest=[child_run(1.0, 1_000, main=150.0, tree=150.0, workers=1) for _ in range(3)],
        baseline_b=[child_run(1.0, rows_written=1_000) for _ in range(3)],
        baseline_a=[child_run(1.0, 100, invalid=0) for _ in range(3)],
    )
    scenarios.compare_ingest(bench, "1", export)
    streamed = targets_by_description(bench.report)["streamed: reading process peak RSS < decoded file size (jsonl)"]
    assert streamed.measured == 1.5 and streamed.passed is False


# --- Scenario 3: peak memory at 1M and 5x the runs --------------------------------------------------------------


def growth_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, big: ChildRun | Exception
) -> tuple[FakeBench, list[int]]:
    asked: list[int] = []

    def export_file(data_dir: Path, runs: int, fmt: str, seed: int) -> datasets.Export:
        asked.append(runs)
        return export_at(tmp_path, fmt, 5 * runs, 10 * MIB, runs)

    monkeypatch.setattr(scenarios.datasets, "export_file", export_file)
    return fake_bench(tmp_path, ingest=[big]), asked


def test_memory_growth_ingests_five_times_the_runs_and_compares_process_tree_peaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # base: tree 800 MiB (largest single process 400); 5x the runs: tree 960 (= 1.2x), single process 600 (1.5x)
    base = Measurement("1", "runlens", 1_000, 1.0, [1.0], 400.0, 800.0, 700.0, 300.0)
    bench, asked = growth_setup(tmp_path, monkeypatch, child_run(5.0, 25_000, rss=600.0, tree=960.0))
    scenarios.memory_growth(bench, base)
    assert asked == [SCALE.growth_runs]
    one_gib, growth = bench.report.targets
    assert (one_gib.measured, one_gib.required, one_gib.at_most, one_gib.passed) == (800.0, 1024.0, True, True)
    assert (growth.measured, growth.required, growth.at_most, growth.passed) == (960 / 800, 1.2, True, True)
    [big] = bench.report.measurements
    assert big.ratio == "peak RSS = 1.20x the 1,000-record ingest"


def test_a_killed_larger_ingest_fails_the_not_growing_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the guard (880 MiB) is only 1.1x the base peak: the measured value is a bound, so the target still fails
    base = Measurement("1", "runlens", 1_000, 1.0, [1.0], 400.0, 800.0, 700.0, 300.0)
    bench, _ = growth_setup(tmp_path, monkeypatch, MemoryGuardTripped("ingest", 30.0, 880.0))
    scenarios.memory_growth(bench, base)
    _, growth = bench.report.targets
    assert growth.passed is False and not growth.completed and "did not finish" in growth.margin
    [big] = bench.report.measurements
    assert big.records == 25_000 and big.ratio.startswith("DID NOT FINISH")


# --- Scenario 4: targets on the largest lake, the incremental share, the breakdowns ---------------------------


def lake_measurement(label: str, seconds: float, records: int, tree: float = 100.0, **details: Any) -> Measurement:
    return Measurement("4", label, records, seconds, [seconds], tree, tree, tree, tree, details=details)


def lake_round(
    runs: int,
    rebuild_s: float,
    refresh_s: float,
    incremental_s: float,
    *,
    killed: bool = False,
    chunked_s: float | None = None,
) -> scenarios.LakeRound:
    steps = {"all_days_s": 0.1, "rebuild_days_s": rebuild_s - 0.1}
    rebuild = lake_measurement("rebuild", rebuild_s, runs, tree=50.0 * runs, **steps)
    if killed:
        rebuild = Measurement.killed("4", "rebuild", runs, MemoryGuardTripped("rebuild_all", rebuild_s, 900.0))
    chunked = None if chunked_s is None else lake_measurement("chunked", chunked_s, runs, **steps)
    refresh = lake_measurement("refresh", refresh_s, runs, by_table_s={"workflow_metrics": refresh_s / 2})
    incremental = lake_measurement(
        "incremental",
        incremental_s,
        runs // 365,
        affected_days_s=0.01,
        rebuild_days_s=incremental_s / 2,
        refresh_metrics_s=incremental_s / 2,
        by_table_s={"workflow_metrics": incremental_s / 4},
    )
    sizes = {"ingest": 10 * runs * MIB, "runs": 2 * runs * MIB, "metrics": runs * MIB}
    return scenarios.LakeRound(runs, 1.0, rebuild, chunked, refresh, incremental, sizes)


def lake_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rounds: list[scenarios.LakeRound]) -> FakeBench:
    made = iter(rounds)
    monkeypatch.setattr(scenarios, "lake_round", lambda bench, runs: next(made))
    bench = fake_bench(tmp_path)
    scenarios.lake_refresh(bench)
    return bench


def test_lake_targets_judge_the_largest_lake_and_the_new_day_against_full_rebuild_plus_refresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small lake: everything slow (it must not be judged); large lake: rebuild 10 s (exactly the bound), refresh
    # 6 s, one new day 0.8 s = 5% of 10 + 6
    rounds = [lake_round(1_000, 30.0, 30.0, 30.0), lake_round(10_000, 10.0, 6.0, 0.8)]
    bench = lake_report(tmp_path, monkeypatch, rounds)
    rebuild, refresh, incremental = bench.report.targets
    assert "10,000 runs" in rebuild.description and "10,000 runs" in refresh.description
    assert (rebuild.measured, rebuild.required, rebuild.at_most, rebuild.passed) == (10.0, 10.0, True, True)
    assert (refresh.measured, refresh.required, refresh.at_most, refresh.passed) == (6.0, 10.0, True, True)
    assert incremental.measured == pytest.approx(100 * 0.8 / (10.0 + 6.0))
    assert (incremental.required, incremental.unit, incremental.at_most, incremental.passed) == (10.0, "%", True, True)


def test_a_killed_full_rebuild_fails_its_target_and_the_new_day_is_compared_with_the_chunked_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # killed after 4 s (a lower bound: it passes "<= 10 s" by its number alone); the chunked rebuild took 15 s,
    # the refresh 5 s, the new day 1 s: 5% of 15 + 5
    rounds = [lake_round(1_000, 1.0, 1.0, 0.1), lake_round(10_000, 4.0, 5.0, 1.0, killed=True, chunked_s=15.0)]
    bench = lake_report(tmp_path, monkeypatch, rounds)
    rebuild, _, incremental = bench.report.targets
    assert rebuild.passed is False and not rebuild.completed
    assert incremental.measured == pytest.approx(100 * 1.0 / (15.0 + 5.0))
    scaling = bench.report.breakdowns[1]
    [rebuild_row] = [row for row in scaling.rows if row[0] == "runs rebuild (one call), s"]
    assert rebuild_row[2] == ">= 4.00 (killed)" and rebuild_row[-1] == "n/a"


def test_the_scaling_table_reads_the_line_through_the_two_sizes_at_100m_runs_never_below_the_last_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rebuild 2 s at 1,000 runs, 3 s at 10,000: +1 s per 9,000 runs; refresh falls from 5 to 4 s: kept at 4 s
    rounds = [lake_round(1_000, 2.0, 5.0, 0.1), lake_round(10_000, 3.0, 4.0, 0.1)]
    bench = lake_report(tmp_path, monkeypatch, rounds)
    scaling = {row[0]: row[1:] for row in bench.report.breakdowns[1].rows}
    assert scaling["runs rebuild (one call), s"] == [2.0, 3.0, pytest.approx(3.0 + (100_000_000 - 10_000) / 9_000)]
    assert scaling["metric refresh, s"] == [5.0, 4.0, 4.0]
    assert bench.report.breakdowns[1].header[-1] == "100,000,000 runs (linear)"


# --- Scenario 5: `runlens run` against baseline B ---------------------------------------------------------------


def pipeline_run(exit_code: int = 0) -> ChildRun:
    """``runlens run`` of 1,000 records: 10 s from process start to exit, of which the command took 7."""
    result = {
        "exit_code": exit_code,
        "import_s": 2.0,
        "records": 1_000,
        "kinds": {"ingest_file": DATA, "sha256 of export files": NESTED, "find new export files": DATA},
        "phases": [
            {
                "phase": "Dagster run 1: ingest",
                "wall_s": 4.0,
                "work_s": {"ingest_file": 2.0, "sha256 of export files": 0.5},
                "steps_s": {"ingested_exports": 3.0},
            },
            {"phase": OUTSIDE, "wall_s": 3.0, "work_s": {"find new export files": 1.0}},
        ],
    }
    return child_run(7.0, wall=10.0, **result)


def end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: ChildRun) -> FakeBench:
    monkeypatch.setattr(scenarios.datasets, "export_file", lambda *args: export_at(tmp_path, "jsonl", 1_000, MIB))
    bench = fake_bench(tmp_path, pipeline=[run])
    baseline_b = Measurement("1", "baseline B", 1_000, 2.5, [2.5], 1.0, 1.0, 1.0, 1.0)  # 400 records/s
    scenarios.end_to_end(bench, baseline_b)
    return bench


def test_end_to_end_rate_is_over_the_whole_process_and_compared_with_half_of_baseline_b(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = end_to_end(tmp_path, monkeypatch, pipeline_run())
    [measured] = bench.report.measurements
    assert (measured.seconds, measured.rate) == (10.0, 100.0)
    [target] = bench.report.targets
    assert (target.key, target.measured, target.required, target.at_most) == ("5", 100 / 400, 0.5, False)
    assert target.passed is False and measured.ratio == "0.25x baseline B's rate"


def test_the_end_to_end_breakdown_counts_nested_timings_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = end_to_end(tmp_path, monkeypatch, pipeline_run())
    [breakdown] = bench.report.breakdowns
    rows = {(phase, item.strip()): (seconds, share) for phase, item, seconds, share in breakdown.rows}
    run = "Dagster run 1: ingest"
    assert rows["process", "interpreter start, runlens/duckdb/pyarrow imports"] == (10.0 - 2.0 - 7.0, "10.0%")
    assert rows[run, "Dagster: in steps, outside the timed functions"] == (3.0 - 2.0, "10.0%")
    assert rows[run, "Dagster: outside steps (run setup, event log, teardown)"] == (4.0 - 3.0, "10.0%")
    assert rows[OUTSIDE, "untimed (lock, partitions, discovery, report)"] == (3.0 - 1.0, "20.0%")


def test_a_failed_runlens_run_is_an_error_not_a_measurement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match="runlens run exited with 1"):
        end_to_end(tmp_path, monkeypatch, pipeline_run(exit_code=1))


# --- The tasks and the measuring of a child ---------------------------------------------------------------------


def test_an_incremental_refresh_rebuilds_and_refreshes_only_the_affected_days(monkeypatch: pytest.MonkeyPatch) -> None:
    days = {date(2026, 11, 2), date(2026, 11, 1)}
    calls: list[tuple[str, Any]] = []

    def record(name: str, value: Any) -> Callable[..., Any]:
        def fake(lake_dir: Path, *args: Any, **kwargs: Any) -> Any:
            calls.append((name, (args, kwargs)))
            return value

        return fake

    monkeypatch.setattr(child.runs, "affected_days", record("affected_days", days))
    monkeypatch.setattr(child.runs, "rebuild_days", record("rebuild_days", {d: 5 for d in days}))
    monkeypatch.setattr(child.metrics, "refresh_metrics", record("refresh_metrics", {}))
    result = child.incremental("/nowhere/lake", "export-1")
    ordered = sorted(days)
    assert calls[0] == ("affected_days", ((["export-1"],), {}))
    assert calls[1] == ("rebuild_days", ((ordered,), {}))
    refreshes = [args for name, args in calls if name == "refresh_metrics"]
    assert refreshes and all(args[0] == (ordered,) for args in refreshes)
    assert result["records"] == 10 and result["days"] == ["2026-11-01", "2026-11-02"]


def test_the_decoded_size_of_a_gzipped_export_is_its_uncompressed_size(tmp_path: Path) -> None:
    text = b'{"runId": "run_1", "workflowName": "w", "status": "queued"}\n' * 1_000
    path = tmp_path / "runs.jsonl.gz"
    path.write_bytes(gzip.compress(text))
    assert path.stat().st_size < len(text)
    assert datasets.decoded_size(path) == len(text)


def test_baseline_a_counts_invalid_records_not_their_violations(tmp_path: Path) -> None:
    records = [
        {"runId": "run_ok", "workflowName": "w", "status": "completed"},
        {"runId": "bad id", "workflowName": "w", "status": "unknown"},  # two violations, one invalid record
        {"runId": "run_x", "status": "failed"},  # one violation
    ]
    assert [len(list(VALIDATOR.iter_errors(r))) for r in records] == [0, 2, 1]
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + "{not json\n")
    result = baselines.baseline_a(path, "lines", SCHEMA, sample=10)
    assert (result["records"], result["invalid"]) == (4, 3)


def test_a_child_task_leaves_runlens_and_dagster_settings_of_the_caller_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLENS_LAKE_DIR", "/elsewhere")
    monkeypatch.setenv("DAGSTER_HOME", "/elsewhere/dagster")
    monkeypatch.setenv("BENCHMARK_TEST_KEPT", "1")
    env = measure.child_env()
    assert not [name for name in env if name.startswith(("RUNLENS_", "DAGSTER_"))]
    assert env["BENCHMARK_TEST_KEPT"] == "1"
    assert str(measure.PROJECT_DIR) in env["PYTHONPATH"].split(":")


def test_a_task_that_outgrows_the_memory_guard_is_killed_and_reported_as_tripped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    monkeypatch.setattr(measure, "child_command", lambda task, args_path, out_path: sleeper)
    monkeypatch.setattr(measure, "GUARD_SHARE", 1e-9)  # a few bytes: any process is above it
    with pytest.raises(MemoryGuardTripped) as tripped:
        measure.run_child("ingest")
    assert tripped.value.wall_s < 10


def test_the_ingest_profile_counts_samples_by_innermost_runlens_frame_and_by_leaf(tmp_path: Path) -> None:
    """py-spy's collapsed stacks (frames outermost first, then the sample count): each stack counts once for the
    innermost runlens function on it (module-level code, an import, is not a function), or for the line of stacks
    with none; and once for its leaf frame. Frames are named by function and file, not by the whole path."""
    stacks = tmp_path / "stacks.txt"
    stacks.write_text(
        "main (/p/benchmarks/child.py:30);ingest_file (/p/runlens/ingest.py:100);"
        "process (/p/runlens/ingest.py:400);loads (/v/msgspec/json.py:5) 7\n"
        "main (/p/benchmarks/child.py:30);ingest_file (/p/runlens/ingest.py:100) 2\n"
        "<module> (/p/benchmarks/child.py:18);<module> (/p/runlens/metrics.py:27);import_module (/v/x.py:1) 3\n"
        "Thread.run (/usr/threading.py:982);_worker (/usr/thread.py:81) 5\n"
        "write (/p/runlens/ingest.py:657);ZSTD_compress (libarrow.so) 4\n"
    )
    by_runlens, by_leaf, total = profile_ingest.summarise(stacks)
    assert total == 21
    assert by_runlens == {
        "process (ingest.py:400)": 7,
        "ingest_file (ingest.py:100)": 2,
        profile_ingest.OUTSIDE: 3 + 5,
        "write (ingest.py:657)": 4,
    }
    assert by_leaf == {
        "loads (json.py:5)": 7,
        "ingest_file (ingest.py:100)": 2,
        "import_module (x.py:1)": 3,
        "_worker (thread.py:81)": 5,
        "ZSTD_compress (libarrow.so)": 4,
    }
