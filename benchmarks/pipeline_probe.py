"""``runlens run`` in this process, with timers around its data work, and Dagster's own record of its runs.

The timers wrap module attributes at run time (nothing in runlens is changed): the data functions the assets call,
the Dagster runs ``runlens run`` launches (``runlens.pipeline._materialize``) and the work it does outside them.
Each timing is booked to the phase it happened in: one of the Dagster runs, or outside them.
"""

from __future__ import annotations

import functools
import importlib
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUTSIDE = "outside Dagster runs"
DATA, DAGSTER, NESTED = "data", "dagster", "nested"  # nested: part of another timed call, not added up again
TIMED = (  # (module, attribute, label, kind)
    ("runlens.pipeline", "_definitions", "load Dagster definitions", DAGSTER),
    ("runlens.pipeline", "open_instance", "open the Dagster instance", DAGSTER),
    ("runlens.exports", "new_exports", "find new export files", DATA),
    ("runlens.ingest", "file_sha256", "sha256 of export files", NESTED),
    ("runlens.defs.assets.ingest", "ingest_file", "ingest_file", DATA),
    ("runlens.pipeline", "plan_refresh", "plan_refresh (affected days)", DATA),
    ("runlens.runs", "rebuild_days", "runs.rebuild_days", DATA),
    ("runlens.metrics", "refresh_metrics", "metrics.refresh_metrics", DATA),
    ("runlens.defs.assets.metrics", "worst_workflows_markdown", "metrics preview query", DATA),
    ("runlens.warehouse", "refresh_warehouse", "warehouse.refresh_warehouse", DATA),
    ("runlens.defs.checks", "violations", "asset check queries", DATA),
    ("runlens.summary", "render_summary", "summary printed by the CLI", DATA),
)
KINDS = {label: kind for _, _, label, kind in TIMED}


class Timers:
    """Seconds per phase and label, and the Dagster runs in the order they were launched."""

    def __init__(self) -> None:
        self.phase = OUTSIDE
        self.seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.runs: list[tuple[str, str, float]] = []  # (phase, run id, wall seconds)

    def wrap(self, module_name: str, attribute: str, label: str) -> None:
        """Replace ``module.attribute`` (``Class.method`` allowed) with a timed call of the original."""
        import dagster as dg  # imported by run() before the timers, so counted in its import time

        with warnings.catch_warnings():  # the asset modules, imported here outside Dagster's loader, which hides these
            warnings.simplefilter("ignore", dg.BetaWarning)
            owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name)  # for a classmethod: bound to the class, so the wrapper needs no cls

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[self.phase][label] += time.perf_counter() - start

        setattr(owner, name, timed)

    def wrap_runs(self) -> None:
        """Book everything inside ``runlens.pipeline._materialize`` to a phase named after the run's assets."""
        pipeline = importlib.import_module("runlens.pipeline")
        original: Callable[..., Any] = pipeline._materialize

        @functools.wraps(original)
        def materialize(definitions: Any, settings: Any, instance: Any, selection: list[str], **kwargs: Any) -> Any:
            self.phase = f"Dagster run {len(self.runs) + 1}: {run_name(selection)}"
            start = time.perf_counter()
            try:
                result = original(definitions, settings, instance, selection, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                phase, self.phase = self.phase, OUTSIDE
            self.runs.append((phase, result.run_id, elapsed))
            return result

        pipeline._materialize = materialize


def run_name(selection: list[str]) -> str:
    if "ingested_exports" in selection:
        return "ingest"
    return "refresh runs, metrics, warehouse" if "runs" in selection else " + ".join(selection)


def dagster_timings(run_id: str) -> dict[str, Any]:
    """Run and step durations as Dagster recorded them in the instance's event log."""
    import dagster as dg

    starts: dict[str, float] = {}
    steps: dict[str, float] = {}
    run_start = run_end = None
    with dg.DagsterInstance.get() as instance:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            kind = event.event_type
            if kind == dg.DagsterEventType.RUN_START:
                run_start = entry.timestamp
            elif kind in (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE):
                run_end = entry.timestamp
            elif kind == dg.DagsterEventType.STEP_START and event.step_key:
                starts[event.step_key] = entry.timestamp
            elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE) and event.step_key:
                steps[event.step_key] = entry.timestamp - starts.get(event.step_key, entry.timestamp)
    run_s = run_end - run_start if run_start is not None and run_end is not None else None
    return {"run_start_to_end_s": run_s, "steps_s": steps}


def records_ingested(lake_dir: Path) -> int:
    from runlens import db, lake

    with db.connect() as con:
        glob = lake.ingest_glob(lake_dir, "ingest_log")
        [(records,)] = con.execute("select sum(records_read) from read_parquet($g)", {"g": glob}).fetchall()
    return int(records or 0)


def run(data_dir: str) -> dict[str, Any]:
    start = time.perf_counter()
    from runlens import cli

    importlib.import_module("runlens.pipeline")  # imports Dagster: counted here, apart from the run
    imported = time.perf_counter()
    timers = Timers()
    for module_name, attribute, label, _ in TIMED:
        timers.wrap(module_name, attribute, label)
    timers.wrap_runs()
    before_run = time.perf_counter()
    code = cli.main(["run", "--data-dir", data_dir])
    seconds = time.perf_counter() - before_run
    outside = {"phase": OUTSIDE, "wall_s": seconds - sum(wall for _, _, wall in timers.runs)}
    outside["work_s"] = dict(timers.seconds[OUTSIDE])  # before dagster_timings opens the instance again
    phases = [
        {"phase": phase, "wall_s": wall, "work_s": dict(timers.seconds[phase]), **dagster_timings(run_id)}
        for phase, run_id, wall in timers.runs
    ]
    phases.append(outside)
    return {
        "exit_code": code,
        "import_s": imported - start,
        "seconds": seconds,
        "records": records_ingested(Path(data_dir) / "lake"),
        "phases": phases,
        "kinds": KINDS,
    }
