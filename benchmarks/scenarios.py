"""The five scenarios of issue 5. They run here, in the parent; every timed task runs in a fresh child process."""

from __future__ import annotations

import math
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import datasets
from benchmarks.measure import MIB, ChildRun, MemoryGuardTripped, run_child
from benchmarks.pipeline_probe import NESTED, OUTSIDE
from benchmarks.report import Breakdown, Measurement, Report, Target
from benchmarks.scales import Scale

INGEST_FORMATS = (("1", "jsonl"), ("2 json", "json"), ("2 jsonl.gz", "jsonl.gz"))
FALLBACK_CHUNK_DAYS = 30  # when a one-call full rebuild outgrows the memory guard, the runs table is built this way
EXTRAPOLATE_TO = 100_000_000


@dataclass
class Bench:
    """One benchmark run: its scale, where data lives, its scratch folder and the report being filled."""

    scale: Scale
    data_dir: Path
    work: Path
    report: Report
    seed: int

    def child(self, task: str, **args: Any) -> ChildRun:
        print(f"benchmark: {task} {args}", file=sys.stderr, flush=True)
        return run_child(task, **args)

    def ingest(self, export: datasets.Export, workers: int = 0) -> ChildRun:
        """One runlens ingest of ``export`` into a fresh lake, removed afterwards (``workers``: the pool's size, when
        set)."""
        lake_dir = self.work / f"lake-{uuid.uuid4().hex[:8]}"
        try:
            return self.child("ingest", file=str(export.path), lake=str(lake_dir), workers=workers)
        finally:
            shutil.rmtree(lake_dir, ignore_errors=True)


@dataclass(frozen=True)
class NdjsonResults:
    """The NDJSON measurements that scenarios 3 and 5 compare with."""

    runlens: Measurement
    baseline_b: Measurement


def ingest_comparisons(bench: Bench) -> NdjsonResults:
    """Scenarios 1 (NDJSON) and 2 (JSON array, gzipped NDJSON): runlens vs baselines A and B on the same file."""
    found: dict[str, tuple[Measurement, Measurement]] = {}
    for scenario, fmt in INGEST_FORMATS:
        export = datasets.export_file(bench.data_dir, bench.scale.ingest_runs, fmt, bench.seed)
        found[fmt] = compare_ingest(bench, scenario, export, one_process=fmt == "jsonl")
    return NdjsonResults(*found["jsonl"])


def compare_ingest(
    bench: Bench, scenario: str, export: datasets.Export, one_process: bool = False
) -> tuple[Measurement, Measurement]:
    """runlens, baseline A and baseline B on ``export``; with ``one_process``, runlens in one process too
    (``RUNLENS_INGEST_WORKERS=1``): what the worker pool buys on this machine (not a target; the smoke scale's file
    is below the pool's threshold, so both are one process there)."""
    runlens_runs, a_runs, b_runs, alone_runs = [], [], [], []
    b_out = bench.work / "baseline-b.parquet"
    sample = bench.scale.baseline_a_sample
    for _ in range(bench.scale.repeats):  # alternated, so that a noisy minute hits them all
        runlens_runs.append(bench.ingest(export))
        b_runs.append(bench.child("baseline_b", file=str(export.path), layout=export.layout, out=str(b_out)))
        a_runs.append(bench.child("baseline_a", file=str(export.path), layout=export.layout, sample=sample))
        if one_process:
            alone_runs.append(bench.ingest(export, workers=1))
    b_out.unlink(missing_ok=True)
    size = f"{export.path.stat().st_size / MIB:,.0f} MiB"
    runlens = Measurement.of(scenario, f"runlens ingest_file: {export.fmt}, {size}", runlens_runs)
    a = Measurement.of(scenario, f"baseline A: json.loads + jsonschema, first {sample:,} records", a_runs)
    b = Measurement.of(scenario, "baseline B: DuckDB read_json(l) -> Parquet", b_runs, records=export.records)
    ratio_a, ratio_b = runlens.rate / a.rate, runlens.rate / b.rate
    streamed = runlens.peak_main_rss_mib * MIB / export.decoded_bytes
    runlens.ratio = f"reading process peak RSS = {streamed:.2f}x decoded file"
    a.ratio, b.ratio = f"runlens = {ratio_a:.1f}x this", f"runlens = {ratio_b:.2f}x this"
    runlens.details.update(file_bytes=export.path.stat().st_size, decoded_bytes=export.decoded_bytes)
    bench.report.measurements += [runlens, a, b]
    if alone_runs:
        alone = Measurement.of(scenario, f"runlens ingest_file in one process: {export.fmt}", alone_runs)
        workers = runlens.details["workers"]
        alone.ratio = f"runlens ingest ({workers} worker process(es)) = {runlens.rate / alone.rate:.2f}x this"
        bench.report.measurements.append(alone)
    bench.report.targets += [
        Target(scenario, f"runlens ingest >= 20x baseline A ({export.fmt})", ratio_a, 20.0, "x"),
        Target(scenario, f"runlens ingest >= 0.8x baseline B ({export.fmt})", ratio_b, 0.8, "x"),
        Target(
            scenario,
            f"streamed: reading process peak RSS < decoded file size ({export.fmt})",
            streamed,
            1.0,
            "x",
            at_most=True,
        ),
    ]
    return runlens, b


def memory_growth(bench: Bench, base: Measurement) -> None:
    """Scenario 3: peak RSS of the NDJSON ingest (fresh process) at the base size and at 5x the runs."""
    export = datasets.export_file(bench.data_dir, bench.scale.growth_runs, "jsonl", bench.seed)
    label = f"runlens ingest_file: jsonl, {export.path.stat().st_size / MIB:,.0f} MiB"
    try:
        big = Measurement.of("3", label, [bench.ingest(export)])
    except MemoryGuardTripped as tripped:
        big = Measurement.killed("3", label, export.records, tripped)
    growth = big.peak_tree_rss_mib / base.peak_tree_rss_mib
    if big.completed:
        big.ratio = f"peak RSS = {growth:.2f}x the {base.records:,}-record ingest"
    bench.report.measurements.append(big)
    bench.report.targets += [
        Target(
            "3",
            f"peak RSS (process tree) <= 1 GiB, {base.records:,} records",
            base.peak_tree_rss_mib,
            1024.0,
            " MiB",
            at_most=True,
        ),
        Target(
            "3",
            f"peak RSS not growing: {big.records:,} vs {base.records:,} records (<= 1.2x)",
            growth,
            1.2,
            "x",
            at_most=True,
            completed=big.completed,
        ),
    ]


@dataclass
class LakeRound:
    """Scenario 4 at one lake size; ``chunked`` is the fallback rebuild when the one-call rebuild was killed."""

    runs: int
    build_s: float
    rebuild: Measurement
    chunked: Measurement | None
    refresh: Measurement
    incremental: Measurement
    bytes: dict[str, int]

    @property
    def incremental_share(self) -> float:
        """Of the full rebuild (the chunked one when the one-call rebuild was killed) + the full refresh."""
        return self.incremental.seconds / ((self.chunked or self.rebuild).seconds + self.refresh.seconds)

    @property
    def rebuild_steps(self) -> dict[str, Any]:
        """The timed steps of the rebuild that finished."""
        return (self.chunked or self.rebuild).details


def lake_refresh(bench: Bench) -> None:
    """Scenario 4: full rebuild and metric refresh over a year of daily partitions, then one new day's export."""
    rounds = [lake_round(bench, runs) for runs in bench.scale.lake_runs]
    last = rounds[-1]
    size = f"{last.refresh.records:,} runs"
    done = last.rebuild.completed
    bench.report.targets += [
        Target("4", f"full runs rebuild <= 10 s ({size})", last.rebuild.seconds, 10.0, " s", True, done),
        Target("4", f"full metric refresh <= 10 s ({size})", last.refresh.seconds, 10.0, " s", at_most=True),
        Target(
            "4",
            "incremental refresh (one new day) <= 10% of full rebuild + refresh",
            100 * last.incremental_share,
            10.0,
            "%",
            at_most=True,
        ),
    ]
    bench.report.breakdowns += [refresh_breakdown(rounds), scaling_breakdown(rounds)]


def lake_round(bench: Bench, runs: int) -> LakeRound:
    days = bench.scale.lake_days
    print(f"benchmark: building a synthetic lake of {runs:,} runs over {days} days", file=sys.stderr, flush=True)
    template = datasets.make_template(bench.work / f"template-{runs}", math.ceil(runs / days), bench.seed)
    lake_dir = bench.work / f"lake-{runs}"
    synthetic = datasets.SyntheticLake(lake_dir, template, days)
    start = time.perf_counter()
    synthetic.write_year()
    build_s = time.perf_counter() - start
    rebuild, chunked = full_rebuild(bench, lake_dir, days)
    rows = (chunked or rebuild).records
    refresh = Measurement.of("4", "metrics.refresh_metrics, full", [bench.child("refresh_all", lake=str(lake_dir))])
    refresh.records = rows
    new_export = synthetic.write_export(days)
    synthetic.close()
    incremental_run = bench.child("incremental", lake=str(lake_dir), export_id=new_export)
    incremental = Measurement.of("4", "incremental: one new day -> affected days + their metrics", [incremental_run])
    sizes = {part: datasets.tree_bytes(lake_dir / part) for part in ("ingest", "runs", "metrics")}
    shutil.rmtree(lake_dir)
    round_ = LakeRound(runs, build_s, rebuild, chunked, refresh, incremental, sizes)
    incremental.ratio = f"{round_.incremental_share:.1%} of full rebuild + refresh"
    refresh.ratio = f"lake of {rows:,} runs"
    if rebuild.completed:
        rebuild.ratio = refresh.ratio
    bench.report.measurements += [m for m in (rebuild, chunked, refresh, incremental) if m is not None]
    return round_


def full_rebuild(bench: Bench, lake_dir: Path, days: int) -> tuple[Measurement, Measurement | None]:
    """The one-call full rebuild. If the memory guard kills it, the runs table is built in calls of
    ``FALLBACK_CHUNK_DAYS`` days (measured too) so that the refresh can still be measured."""
    label = f"runs.rebuild_days, all {days} days in one call"
    try:
        return Measurement.of("4", label, [bench.child("rebuild_all", lake=str(lake_dir))]), None
    except MemoryGuardTripped as tripped:
        run = bench.child("rebuild_all", lake=str(lake_dir), chunk_days=FALLBACK_CHUNK_DAYS)
        chunked = Measurement.of("4", f"fallback: runs.rebuild_days in {FALLBACK_CHUNK_DAYS}-day calls", [run])
        chunked.ratio = f"lake of {chunked.records:,} runs (not a target)"
        return Measurement.killed("4", label, chunked.records, tripped), chunked


def refresh_breakdown(rounds: list[LakeRound]) -> Breakdown:
    rows: list[list[Any]] = []
    for r in rounds:
        full, inc = r.rebuild_steps, r.incremental.details
        size = f"{r.refresh.records:,} runs"
        how = f" ({FALLBACK_CHUNK_DAYS}-day calls)" if r.chunked else ""
        rows += [
            [size, "find the days (all_days / affected_days)", full["all_days_s"], inc["affected_days_s"]],
            [size, f"runs.rebuild_days{how}", full["rebuild_days_s"], inc["rebuild_days_s"]],
            [size, "metrics.refresh_metrics (one call)", r.refresh.seconds, inc["refresh_metrics_s"]],
        ]
        rows += [
            [size, f"  {table} alone (second pass)", seconds, inc["by_table_s"][table]]
            for table, seconds in r.refresh.details["by_table_s"].items()
        ]
    return Breakdown("Scenario 4: where a refresh's time goes (seconds)", ["lake", "step", "full", "one new day"], rows)


def scaling_breakdown(rounds: list[LakeRound]) -> Breakdown:
    """Each quantity at each measured size, and a straight line through the two largest, read at 100M runs.

    A value from a run the memory guard killed is only a bound: it is shown as such and not extrapolated."""
    quantities: list[tuple[str, list[tuple[float, bool]]]] = [
        ("runs rebuild (one call), s", [(r.rebuild.seconds, r.rebuild.completed) for r in rounds]),
        ("rebuild peak RSS (tree), MiB", [(r.rebuild.peak_tree_rss_mib, r.rebuild.completed) for r in rounds]),
        ("metric refresh, s", [(r.refresh.seconds, True) for r in rounds]),
        ("refresh peak RSS (tree), MiB", [(r.refresh.peak_tree_rss_mib, True) for r in rounds]),
        ("incremental (one new day), s", [(r.incremental.seconds, True) for r in rounds]),
        ("staged + quarantine + ingest_log, MiB", [(r.bytes["ingest"] / MIB, True) for r in rounds]),
        ("runs table, MiB", [(r.bytes["runs"] / MIB, True) for r in rounds]),
        ("metric tables, MiB", [(r.bytes["metrics"] / MIB, True) for r in rounds]),
        ("synthetic lake build (not a target), s", [(r.build_s, True) for r in rounds]),
    ]
    sizes = [float(r.refresh.records) for r in rounds]
    header = ["quantity", *[f"{int(n):,} runs" for n in sizes], f"{EXTRAPOLATE_TO:,} runs (linear)"]
    rows: list[list[Any]] = []
    for name, measured in quantities:
        cells = [value if done else f">= {value:,.2f} (killed)" for value, done in measured]
        line = extrapolate(sizes, [v for v, _ in measured], EXTRAPOLATE_TO) if all(d for _, d in measured) else "n/a"
        rows.append([name, *cells, line])
    return Breakdown("Scenario 4: scaling with the number of runs", header, rows)


def extrapolate(sizes: list[float], values: list[float], target: float) -> float:
    """The line through the two largest sizes, read at ``target``; never below the largest measured value (a
    falling line only shows that noise or fixed costs dominate at these sizes)."""
    if len(sizes) < 2 or sizes[-1] == sizes[-2]:
        return values[-1] * target / sizes[-1]
    slope = (values[-1] - values[-2]) / (sizes[-1] - sizes[-2])
    return max(values[-1] + slope * (target - sizes[-1]), values[-1])


def end_to_end(bench: Bench, baseline_b: Measurement) -> None:
    """Scenario 5: ``runlens run`` through Dagster on the NDJSON export, and where its time goes."""
    export = datasets.export_file(bench.data_dir, bench.scale.ingest_runs, "jsonl", bench.seed)
    data_dir = bench.work / "pipeline"
    datasets.hardlink_or_copy(export.path, data_dir / "exports" / export.path.name)
    run = bench.child("pipeline", data_dir=str(data_dir))
    shutil.rmtree(data_dir)
    if run.result["exit_code"] != 0:
        raise RuntimeError(f"runlens run exited with {run.result['exit_code']}")
    measured = Measurement.of("5", "runlens run (Dagster, end to end, whole process)", [run])
    measured = replace(measured, seconds=run.wall_s, repeats_s=[run.wall_s])
    ratio = measured.rate / baseline_b.rate
    measured.ratio = f"{ratio:.2f}x baseline B's rate"
    bench.report.measurements.append(measured)
    bench.report.targets.append(Target("5", "runlens run end to end >= 0.5x baseline B (jsonl)", ratio, 0.5, "x"))
    bench.report.breakdowns.append(pipeline_breakdown(run))


def pipeline_breakdown(run: ChildRun) -> Breakdown:
    """Process start, then each Dagster run and the time outside runs: the timed functions in each, and the rest.

    Timed functions of kind ``data`` are runlens's own work; ``dagster`` ones are orchestration; ``nested`` ones
    are part of another timed call. In a run, Dagster's step durations split the rest into time in steps and
    time around them."""
    result, wall = run.result, run.wall_s
    kinds: dict[str, str] = result["kinds"]
    rows: list[list[Any]] = [
        ["process", "interpreter start, runlens/duckdb/pyarrow imports", wall - result["import_s"] - result["seconds"]],
        ["process", "import Dagster and runlens.pipeline", result["import_s"]],
    ]
    for phase in result["phases"]:
        name, work = phase["phase"], phase["work_s"]
        rows.append([name, "wall time", phase["wall_s"]])
        rows += [[name, f"  {label} ({kinds[label]})", seconds] for label, seconds in work.items()]
        timed = sum(seconds for label, seconds in work.items() if kinds[label] != NESTED)
        if name == OUTSIDE:
            rows.append([name, "  untimed (lock, partitions, discovery, report)", phase["wall_s"] - timed])
            continue
        steps = sum(phase["steps_s"].values())
        rows += [
            [name, "  Dagster: in steps, outside the timed functions", steps - timed],
            [name, "  Dagster: outside steps (run setup, event log, teardown)", phase["wall_s"] - steps],
        ]
    rows = [[*row, f"{row[2] / wall:.1%}"] for row in rows]
    return Breakdown("Scenario 5: where `runlens run` spends its time", ["phase", "item", "seconds", "share"], rows)
