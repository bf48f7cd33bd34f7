"""Crash safety: ``runlens run`` SIGKILLed during ingest, the runs rebuild, the metric refresh and the warehouse swap.

Each attempt runs the real CLI in a subprocess on the same data directory and is killed as soon as the phase it
targets shows on disk (its temporary files, or its outputs newer than the attempt), plus one attempt killed after a
random delay. After every kill the lake must be readable as it is; after a final uninterrupted run the data must
equal that of one uninterrupted run from scratch, with no duplicate and no temporary left where readers look.
Ctrl-C (SIGINT to the process group, as a terminal sends it) ends a run with one line and exit code 130.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from processes import start_runlens_run
from runlens import lake, metrics, warehouse
from runlens.config import PROJECT_DIR
from runlens.generate import generate_exports
from runlens.metrics import refresh_metrics
from test_metrics import AS_OF, random_runs, write_runs

METRIC_GLOBS = {
    "workflow_daily_metrics": "metrics/workflow_daily_metrics/*/*.parquet",
    "workflow_hourly_throughput": "metrics/workflow_hourly_throughput/*/*.parquet",
    "error_signatures": "metrics/error_signatures/*.parquet",
    "stuck_runs": "metrics/stuck_runs/*.parquet",
    "workflow_regressions": "metrics/workflow_regressions/*.parquet",
}
# table -> (glob under lake/, columns to compare: all but the ingestion time)
TABLES = {
    "runs": ("runs/*/*.parquet", "* exclude (ingested_at)"),
    "staged": ("ingest/*/staged.parquet", "* exclude (ingested_at)"),
    "quarantine": ("ingest/*/quarantine.parquet", "* exclude (ingested_at)"),
    "ingest_log": ("ingest/*/ingest_log.parquet", "* exclude (ingested_at)"),
    **{name: (glob, "*") for name, glob in METRIC_GLOBS.items()},
}
LATE_FILE = "zz-late.jsonl"  # sorts after every generated file: ingested last in both runs


def late_export() -> bytes:
    return (
        b'{"runId": "run_late_1", "workflowName": "late", "status": "completed", '
        b'"createdAt": "2026-11-01T12:00:00Z", "completedAt": "2026-11-01T12:05:00Z"}\n'
    )


def start_run(data: Path, home: Path) -> subprocess.Popen[bytes]:
    # its own process group: the kill reaches any worker it started
    return start_runlens_run(data, home, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def newer_than(paths: list[Path], since: float) -> bool:
    return any(p.stat().st_mtime > since for p in paths if p.exists())


def phases(data: Path, since: float) -> set[str]:
    """The phases of the current attempt that have begun: their temporaries exist or their outputs are newer."""
    lake_dir = data / "lake"
    seen = set()
    if any((lake_dir / lake.TMP).glob("*")) or newer_than(list((lake_dir / lake.INGEST).glob("*")), since):
        seen.add("ingest")
    if any((lake_dir / "runs").glob("*/.*.tmp")) or newer_than(list((lake_dir / "runs").glob("*/*.parquet")), since):
        seen.add("runs")
    metric_files = list((lake_dir / "metrics").rglob("*"))
    if any(p.name.startswith(".") for p in metric_files) or newer_than(metric_files, since):
        seen.add("metrics")
    if any(data.glob(".warehouse.duckdb.*")) or newer_than([data / "warehouse.duckdb"], since):
        seen.add("warehouse")
    return seen


def run_until(
    data: Path, home: Path, should_kill: Callable[[set[str], float], bool], timeout_s: float = 300
) -> tuple[int, bool]:
    """Start ``runlens run``; SIGKILL its process group once ``should_kill(phases begun, seconds elapsed)``.
    Returns the exit code and whether a writer's temporaries existed at the kill."""
    since = time.time()
    process = start_run(data, home)
    deadline = time.monotonic() + timeout_s
    mid_write = False
    while process.poll() is None and time.monotonic() < deadline:
        if should_kill(phases(data, since), time.time() - since):
            os.killpg(process.pid, signal.SIGKILL)
            mid_write = bool(temporaries(data))
            break
        time.sleep(0.002)
    _, err = process.communicate(timeout=timeout_s)
    assert process.returncode in (0, -signal.SIGKILL), err.decode()
    return process.returncode, mid_write


def assert_readable(data: Path) -> None:
    """What readers open works right now: every lake glob and, if it exists, the warehouse with all its views."""
    lake_dir = data / "lake"
    with duckdb.connect() as con:
        for glob, _ in TABLES.values():
            if next(lake_dir.glob(glob), None) is not None:
                con.execute("select count(*) from read_parquet($glob)", {"glob": str(lake_dir / glob)}).fetchall()
    if (data / "warehouse.duckdb").exists():
        with warehouse.connect_readonly(data / "warehouse.duckdb") as con:
            views = [
                row[0] for row in con.execute("select view_name from duckdb_views() where not internal").fetchall()
            ]
            for view in views:
                con.execute(f'select count(*) from "{view}"').fetchall()  # names from the catalog, not from data


def snapshot(data: Path) -> dict[str, list[tuple[Any, ...]]]:
    lake_dir = data / "lake"
    out: dict[str, list[tuple[Any, ...]]] = {}
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        for name, (glob, columns) in TABLES.items():
            sql = f"select {columns} from read_parquet($glob, hive_partitioning = true) order by all"
            out[name] = con.execute(sql, {"glob": str(lake_dir / glob)}).fetchall()
    return out


def temporaries(data: Path) -> list[Path]:
    """A writer's work in progress in the lake: folders under .tmp/ and hidden files being written."""
    lake_dir = data / "lake"
    return [*(lake_dir / lake.TMP).glob("*"), *lake_dir.rglob(".*.tmp")]


@pytest.fixture
def dagster_homes(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Fresh Dagster instance folders with the project's dagster.yaml (its run queue and the `runlens_lake` pool of
    one slot, which a killed run must not keep), in RAM when the machine has /dev/shm (the event log syncs on every
    event)."""
    shm = Path("/dev/shm")
    parent = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path

    def make(name: str) -> Path:
        home = parent / f"dagster-{name}"
        home.mkdir()
        shutil.copyfile(PROJECT_DIR / "dagster.yaml", home / "dagster.yaml")
        return home

    yield make
    if parent != tmp_path:
        shutil.rmtree(parent, ignore_errors=True)


def crash_and_compare(tmp_path: Path, dagster_homes: Callable[[str], Path], runs: int, days: int) -> None:
    exports = tmp_path / "exports"
    generate_exports(exports, runs=runs, days=days, seed=23)
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    shutil.copytree(exports, reference / "exports")
    shutil.copytree(exports, crashed / "exports")
    (reference / "exports" / LATE_FILE).write_bytes(late_export())
    uninterrupted = start_run(reference, dagster_homes("reference"))
    home = dagster_homes("crashed")

    def committed() -> int:
        return len(list((crashed / "lake" / lake.INGEST).glob("*")))

    ingested_before = -1

    def mid_batch(seen: set[str], _: float) -> bool:
        return "ingest" in seen and committed() > ingested_before

    delay = random.Random(23).uniform(0.5, 3.0)
    attempts: list[tuple[str, Callable[[set[str], float], bool]]] = [
        ("first ingest", lambda seen, _: "ingest" in seen),
        ("later ingest", mid_batch),
        ("runs rebuild", lambda seen, _: "runs" in seen),
        ("metric refresh", lambda seen, _: "metrics" in seen),
        ("warehouse swap", lambda seen, _: "warehouse" in seen),
        (f"random delay {delay:.2f} s", lambda _, elapsed: elapsed > delay),
    ]
    killed, mid_write = [], []
    for label, should_kill in attempts:
        ingested_before = committed()
        code, during_write = run_until(crashed, home, should_kill)
        if code == -signal.SIGKILL:
            killed.append(label)
        if during_write:
            mid_write.append(label)
        assert_readable(crashed)
    assert killed[:5] == [label for label, _ in attempts[:5]], "each targeted phase was reached and killed"
    assert mid_write, "at least one kill landed while a writer had temporaries on disk"

    (crashed / "exports" / LATE_FILE).write_bytes(late_export())
    assert run_until(crashed, home, lambda _, __: False)[0] == 0
    assert uninterrupted.wait(timeout=300) == 0, uninterrupted.stderr.read().decode() if uninterrupted.stderr else ""
    assert_readable(crashed)

    got, want = snapshot(crashed), snapshot(reference)
    for name in TABLES:
        assert got[name] == want[name], f"{name} differs from an uninterrupted run"
    assert len(got["runs"]) == runs + 1 and len({row[0] for row in got["runs"]}) == runs + 1, "one row per run id"
    assert temporaries(crashed) == [], "the next write sweeps what the killed ones left"


def test_sigkill_at_every_phase_then_rerun_equals_one_uninterrupted_run(
    tmp_path: Path, dagster_homes: Callable[[str], Path]
) -> None:
    crash_and_compare(tmp_path, dagster_homes, runs=20_000, days=2)


@pytest.mark.slow
def test_sigkill_at_every_phase_300k_runs(tmp_path: Path, dagster_homes: Callable[[str], Path]) -> None:
    crash_and_compare(tmp_path, dagster_homes, runs=300_000, days=7)


def test_a_killed_warehouse_swap_leaves_no_orphan_after_the_next_one(tmp_path: Path) -> None:
    target = tmp_path / "warehouse.duckdb"
    orphan = lake.temporary_path(target)
    orphan.write_bytes(b"left by a SIGKILLed swap")
    orphan_wal = Path(str(orphan) + ".wal")
    orphan_wal.write_bytes(b"its write-ahead log")
    warehouse.refresh_warehouse(tmp_path / "lake", target)
    assert not orphan.exists() and not orphan_wal.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]


def test_a_warehouse_swap_keeps_the_old_one_readable_until_the_rename_then_syncs_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader may open warehouse.duckdb at any moment: up to the one rename that replaces it, the old warehouse is
    in place and readable (its mark names the lake); then the folder is fsynced, so the rename outlives a power cut.
    Neither was pinned: removing the old file first, or the fsync, went unseen (found by a mutation audit)."""
    lake_dir, target = tmp_path / "lake", tmp_path / "warehouse.duckdb"
    warehouse.refresh_warehouse(lake_dir, target)
    events: list[tuple[str, object]] = []
    replace, fsync_dir = os.replace, lake.fsync_dir

    def replacing(source: str | Path, destination: str | Path) -> None:
        events.append(("replace", warehouse.built_for(target) if Path(destination) == target else destination))
        replace(source, destination)

    def syncing(folder: Path) -> None:
        events.append(("fsync_dir", folder))
        fsync_dir(folder)

    monkeypatch.setattr(os, "replace", replacing)
    monkeypatch.setattr(lake, "fsync_dir", syncing)
    warehouse.refresh_warehouse(lake_dir, target)
    assert events[-2:] == [("replace", lake_dir), ("fsync_dir", tmp_path)]
    assert warehouse.built_for(target) == lake_dir


def test_atomic_target_syncs_the_file_renames_it_then_syncs_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every lake file but the warehouse is written through lake.atomic_target: readers see the old file until one
    rename puts the new one, fsynced, in its place, and the folder is fsynced after it. Writing in place, or leaving
    out either fsync, went unseen, even by the SIGKILL tests (found by a mutation audit)."""
    final = tmp_path / "runs" / "data.parquet"
    final.parent.mkdir()
    final.write_bytes(b"old")
    events: list[tuple[str, ...]] = []
    fsync, replace = os.fsync, os.replace

    def syncing(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def replacing(source: str | Path, destination: str | Path) -> None:
        events.append(("replace", str(source), str(destination)))
        replace(source, destination)

    monkeypatch.setattr(os, "fsync", syncing)
    monkeypatch.setattr(os, "replace", replacing)
    with lake.atomic_target(final) as tmp:
        assert tmp.parent == final.parent and tmp.name.startswith(".") and tmp.name.endswith(".tmp")
        tmp.write_bytes(b"new")
        assert final.read_bytes() == b"old", "readers see the old file until the rename"
    monkeypatch.undo()
    assert events == [("fsync", str(tmp)), ("replace", str(tmp), str(final)), ("fsync", str(final.parent))]
    assert final.read_bytes() == b"new"
    assert [p.name for p in final.parent.iterdir()] == ["data.parquet"]


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    final = tmp_path / "data.parquet"
    final.write_bytes(b"old")
    with pytest.raises(RuntimeError), lake.atomic_target(final) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("the writer failed")
    assert final.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.parquet"]


def test_a_metric_partition_that_cannot_be_written_fails_the_refresh_and_keeps_its_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day-partitioned metric table's files are written by several threads at once (their fsyncs overlap on the
    disk). A write that fails in one of them must fail the refresh, as it did when the files were written one by
    one: an error lost in a thread would leave that day's old numbers in place without a word."""
    write_runs(tmp_path, random_runs(seed=5, count=400, days=6))
    refresh_metrics(tmp_path, as_of=AS_OF)
    daily = tmp_path / lake.METRICS / "workflow_daily_metrics"
    before = {path: path.read_bytes() for path in daily.glob("*/*.parquet")}
    assert len(before) >= 5
    victim = sorted(before)[len(before) // 2]
    write = metrics._write

    def failing(path: Path, table: pa.Table) -> None:
        if path == victim:
            raise OSError(28, "No space left on device")
        write(path, table)

    monkeypatch.setattr(metrics, "_write", failing)
    with pytest.raises(OSError, match="No space left on device"):
        refresh_metrics(tmp_path, as_of=AS_OF, tables=["workflow_daily_metrics"])
    assert victim.read_bytes() == before[victim]
    assert sorted(daily.glob("*/*.parquet")) == sorted(before)
    assert all(pq.read_metadata(path).num_rows > 0 for path in before)
    assert not [path for path in daily.rglob(".*")], "no temporary is left behind"


def group_is_gone(pgid: int, timeout_s: float = 10) -> bool:
    """Whether every process of the group has exited (within the timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(
    ("signum", "line", "code"),
    [
        pytest.param(signal.SIGINT, "runlens: interrupted\n", 130, id="ctrl-c"),
        pytest.param(signal.SIGTERM, "runlens: terminated\n", 143, id="sigterm"),
    ],
)
def test_ctrl_c_ends_the_run_with_one_line_and_exit_code_130_then_the_next_run_completes(
    tmp_path: Path, dagster_homes: Callable[[str], Path], signum: int, line: str, code: int
) -> None:
    """Ctrl-C in a terminal sends SIGINT to the whole process group. Dagster's compute-log helpers (`tail` and a
    watcher) were in it and printed KeyboardInterrupt tracebacks, and Dagster turned the interrupt into a failed run,
    so `runlens run` exited 2 with a traceback instead of saying `runlens: interrupted` and exiting 130. SIGTERM (to
    the group, as a service manager stops one) ends it the same way with its own line and 143; Dagster took it for
    Ctrl-C and the run said `runlens: interrupted`."""
    data = tmp_path / "data"
    summary = generate_exports(data / "exports", runs=5_000, days=2, seed=11)
    home = dagster_homes("interrupted")
    since = time.time()
    process = start_runlens_run(
        data, home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while "ingest" not in phases(data, since):  # a step of the Dagster run is writing the lake
        assert process.poll() is None and time.monotonic() < deadline, "the ingest never started"
        time.sleep(0.002)
    os.killpg(process.pid, signum)  # what the terminal does
    out, err = process.communicate(timeout=120)

    assert "Traceback" not in err, err
    assert (process.returncode, err, out) == (code, line, "")
    assert group_is_gone(process.pid), "a process it started outlived it"
    rerun = start_runlens_run(data, home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = rerun.communicate(timeout=300)
    assert (rerun.returncode, err) == (0, ""), err  # nothing left for it to mark failed: Dagster ended that run
    assert f"records: {summary.records} read" in out and f"runs: {summary.runs} (" in out, out
    assert temporaries(data) == []
