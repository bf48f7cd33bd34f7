"""Concurrency: two ``runlens run`` on one data directory serialise (the second says it waits) and end consistent;
a reader of the warehouse and the lake during a run never sees a half-written partition; the locks behave."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import CliRunner
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.storage.dagster_run import DagsterRun
from processes import start_runlens_run
from runlens import dead_runs, lake, locks, pipeline
from runlens.config import Settings
from runlens.defs.partitions import export_files
from runlens.defs.resources import LAKE_POOL, RunlensResource
from runlens.defs.sensors import SENSOR_TAG, export_files_sensor, runs_refresh_sensor
from runlens.errors import LockedError
from runlens.generate import generate_exports
from runlens.ingest import ingest_file
from runlens.locks import file_lock, lake_write_lock
from runlens.pipeline import DATA_DIR_TAG, open_instance
from runlens.validation import RecordValidator

WAITING = "another runlens process is writing to"
RECORD = {"runId": "run_a", "workflowName": "wf", "status": "queued", "createdAt": "2026-03-01T00:00:00Z"}


@pytest.fixture
def dagster_home(tmp_path: Path) -> Iterator[Path]:
    """One Dagster instance folder shared by the runs of a test, in RAM when the machine has /dev/shm."""
    shm = Path("/dev/shm")
    home = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path / "dagster"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    yield home
    shutil.rmtree(home, ignore_errors=True)


def start_run(data: Path, home: Path) -> subprocess.Popen[str]:
    return start_runlens_run(data, home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> str:
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return err


def table_rows(data: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


# `runlens run DATA` whose run lock, once taken, is held until the file GO exists (HELD says it is taken); it gives up
# waiting after ten minutes, so a test that died does not leave it behind for good
GATED_RUN = textwrap.dedent(
    """
    import contextlib, sys, time
    from pathlib import Path
    from runlens import cli, pipeline

    held, go, data = sys.argv[1:]
    take = pipeline.file_lock

    @contextlib.contextmanager
    def gated(path, **kwargs):
        with take(path, **kwargs):
            Path(held).touch()
            deadline = time.monotonic() + 600
            while not Path(go).exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            yield

    pipeline.file_lock = gated
    sys.exit(cli.main(["run", "--data-dir", data]))
    """
)


def test_two_runs_at_once_serialise_and_end_consistent(tmp_path: Path, dagster_home: Path) -> None:
    """The first run holds the data directory's run lock until the second has said that it waits: let go at once, the
    first could end before the second, slower to start on a loaded machine, reached the lock, and neither waited."""
    data = tmp_path / "data"
    summary = generate_exports(data / "exports", runs=5_000, days=2, seed=5)
    held, go = tmp_path / "held", tmp_path / "go"
    first = subprocess.Popen(
        [sys.executable, "-c", GATED_RUN, str(held), str(go), str(data)],
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    said: list[str] = []  # the second run's first lines on stderr, up to the one saying it waits
    try:
        deadline = time.monotonic() + 300
        while not held.exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.01)
        second = start_run(data, dagster_home)
        assert second.stderr is not None
        while not any(WAITING in line for line in said) and (line := second.stderr.readline()):
            said.append(line)  # at its end (an empty line) it ran without waiting: the assertion below says so
    finally:
        go.touch()
    errors = [finish(first), "".join(said) + finish(second)]

    assert sum(WAITING in err for err in errors) == 1, errors
    assert table_rows(data, "select count(*), count(distinct run_id) from runs") == [(summary.runs, summary.runs)]
    assert table_rows(data, "select count(*), count(distinct sha256), sum(records_read) from ingest_log") == [
        (summary.files, summary.files, summary.records)
    ]


RUNS_SQL = "select created_date, count(*) from runs group by all"
DAILY_SQL = "select day, sum(runs) from workflow_daily_metrics group by all"
LAKE_SQL = "select created_date, count(*) from read_parquet($glob, hive_partitioning = true) group by all"
READER = textwrap.dedent(
    f"""
    import os, sys, duckdb
    warehouse, glob, stop = sys.argv[1:]
    while not os.path.exists(stop):
        for label, sql in (("runs", {RUNS_SQL!r}), ("daily", {DAILY_SQL!r})):
            with duckdb.connect(warehouse, read_only=True) as con:
                print(label, *(f"{{d}}={{n}}" for d, n in con.execute(sql).fetchall()), flush=True)
        with duckdb.connect() as con:
            rows = con.execute({LAKE_SQL!r}, {{"glob": glob}}).fetchall()
        print("lake", *(f"{{d}}={{n}}" for d, n in rows), flush=True)
    """
)


def counts(data: Path, sql: str) -> dict[str, int]:
    return {str(day): int(n) for day, n in table_rows(data, sql)}


def test_a_reader_never_sees_a_half_written_partition(tmp_path: Path, dagster_home: Path) -> None:
    """A reader polls the warehouse (read-only) and the runs glob while a run rewrites partitions: every read
    succeeds and every partition it sees holds either its rows from before the run or its rows from after it."""
    data = tmp_path / "data"
    generate_exports(tmp_path / "all", runs=30_000, days=2, seed=9)
    files = sorted((tmp_path / "all").iterdir())
    (data / "exports").mkdir(parents=True)
    for path in files[: len(files) // 2]:
        shutil.copy(path, data / "exports")
    finish(start_run(data, dagster_home))
    before = {"runs": counts(data, RUNS_SQL), "daily": counts(data, DAILY_SQL)}
    for path in files[len(files) // 2 :]:
        shutil.copy(path, data / "exports")

    stop = tmp_path / "stop"
    glob = str(data / "lake" / "runs" / "*" / "*.parquet")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(data / "warehouse.duckdb"), glob, str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    finish(start_run(data, dagster_home))
    stop.touch()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err

    after = {"runs": counts(data, RUNS_SQL), "daily": counts(data, DAILY_SQL)}
    before["lake"], after["lake"] = before["runs"], after["runs"]
    assert after != before, "the run changed partitions while the reader read"
    seen = [(line.split()[0], dict(item.split("=") for item in line.split()[1:])) for line in out.splitlines()]
    assert len(seen) >= 6, "the reader kept reading during the run"
    for kind, partitions in seen:
        for day, n in partitions.items():
            assert int(n) in (before[kind].get(day), after[kind][day]), (kind, day, n)


class LockClock:
    """Stands in for the time module in runlens.locks: time passes only while the lock sleeps between tries, so a
    test process stalled on a loaded machine cannot use up a short wait before the first try and skip the notice."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_lock_waits_says_so_once_and_times_out_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks, "time", LockClock())
    path = tmp_path / ".runlens-run.lock"
    said: list[str] = []
    with file_lock(path), pytest.raises(LockedError, match=str(path)), file_lock(path, wait_s=0.5, on_wait=said.append):
        pass
    assert len(said) == 1 and str(tmp_path) in said[0] and "waiting" in said[0]
    with file_lock(path, wait_s=0):
        pass


def test_a_run_that_waited_the_hour_for_the_lock_ends_with_one_error_line_and_exit_2(
    data_dir: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`runlens run` waits up to an hour for another run of the same data directory; then it stops as every
    RunlensError does: after the notice that it waits, one `runlens: error:` line naming the lock, exit 2, nothing
    ingested. A LockedError that was not a RunlensError ended as an internal error, exit 1 (untested: found by a
    mutation audit)."""
    monkeypatch.setattr(locks, "time", LockClock())  # the hour passes in the lock's sleeps, at once
    (data_dir / "exports" / "a.jsonl").write_text('{"runId": "run_1", "workflowName": "wf", "status": "queued"}\n')
    path = data_dir / ".runlens-run.lock"
    with file_lock(path):
        result = run_cli("run", "--data-dir", data_dir)
    assert result.code == 2
    waited, error = result.err.splitlines()  # the notice that it waits, then the error
    assert waited.startswith(f"runlens: {WAITING} {data_dir}")
    assert error.startswith(f"runlens: error: {path}: another runlens process still holds the lock after ")
    assert not (data_dir / "lake").exists()


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / ".write.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
            import time
            from pathlib import Path
            from runlens.locks import file_lock
            with file_lock(Path({str(path)!r})):
                print("held", flush=True)
                time.sleep(600)
            """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(LockedError), file_lock(path, wait_s=0.2):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with file_lock(path, wait_s=5):
        pass


def test_taking_the_write_lock_sweeps_what_killed_writers_left(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    partition = lake_dir / "runs" / "created_date=2026-03-01"
    partition.mkdir(parents=True)
    (partition / "data.parquet").write_bytes(b"kept")
    leftovers = [
        lake.temporary_path(partition / "data.parquet"),
        lake.temporary_path(lake_dir / "metrics" / "stuck_runs" / "data.parquet"),
        lake_dir / lake.TMP / "abc.123" / "staged.parquet",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    with lake_write_lock(lake_dir):
        assert not any(path.exists() for path in leftovers)
        assert (partition / "data.parquet").read_bytes() == b"kept"


HOLDER = textwrap.dedent(
    """
    import json, os, sys, uuid
    from pathlib import Path
    from dagster._core.events import DagsterEvent, DagsterEventType
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
    from runlens.pipeline import open_instance

    instance = open_instance(Path(sys.argv[1]))
    tags = json.loads(sys.argv[3])
    run = DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()), status=DagsterRunStatus.STARTED, tags=tags)
    instance.add_run(run)
    pid = int(sys.argv[2]) or os.getpid()
    started = DagsterEvent(DagsterEventType.RUN_START.value, "__ASSET_JOB", pid=pid)  # as a run worker logs it
    instance.report_dagster_event(started, run.run_id)
    instance.event_log_storage.claim_concurrency_slot("runlens_lake", run.run_id, "runs")
    print(run.run_id)
    """
)


def hold_lake_pool(home: Path, pid: int | None = None, tags: Mapping[str, str] | None = None) -> str:
    """A run left STARTED holding the runlens_lake pool slot, as a CLI or UI materialization killed with SIGKILL
    leaves it (without runlens's data-directory tag), with ``tags``; its step events come from ``pid`` (default:
    the holder process, which has exited when this returns). Returns its run id."""
    args = [sys.executable, "-c", HOLDER, str(home), str(pid or 0), json.dumps(dict(tags or {}))]
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    return subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout.strip()


@pytest.fixture
def pooled_home(dagster_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An instance with the project's dagster.yaml (the runlens_lake pool has one slot), in DAGSTER_HOME, where that
    file puts the instance's storage."""
    shutil.copyfile(Path(__file__).resolve().parents[1] / "dagster.yaml", dagster_home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    return dagster_home


def waiting_line(run_id: str) -> str:
    return f"runlens: waiting for Dagster run {run_id}, which uses the runlens_lake pool (Ctrl-C stops waiting)\n"


def test_a_pool_slot_held_by_a_dead_run_is_freed_and_a_live_holder_is_named(tmp_path: Path, pooled_home: Path) -> None:
    """A run whose processes are gone keeps its pool slot; before, `runlens run` waited for it inside Dagster for
    ever, printing nothing, and neither Ctrl-C nor SIGTERM ended the wait. Now the dead holder's slot is freed; a
    live holder is named, its slot freed once its process dies during the wait, and Ctrl-C ends the wait."""
    data = tmp_path / "data"
    generate_exports(data / "exports", runs=50, days=1, seed=3, snapshots_per_day=1)
    dead = hold_lake_pool(pooled_home)
    err = finish(start_run(data, pooled_home))  # without the fix it waited for ever
    assert f"Dagster run {dead} was left STARTED by a process that ended: marked failed" in err

    holder = subprocess.Popen(["sleep", "3600"])  # outlives the look of a run however slow (killed below)
    try:
        dies = hold_lake_pool(pooled_home, pid=holder.pid)
        generate_exports(data / "exports" / "more", runs=50, days=1, seed=4, snapshots_per_day=1)
        waited = start_run(data, pooled_home)
        assert waited.stderr is not None
        line = waited.stderr.readline()
        assert (
            line
            == f"runlens: waiting for Dagster run {dies}, which uses the runlens_lake pool (Ctrl-C stops waiting)\n"
        )
    finally:
        holder.kill()
        holder.wait()
    err = finish(waited)  # it used to wait for the dead holder until Ctrl-C
    assert f"Dagster run {dies} was left STARTED by a process that ended: marked failed" in err

    live = hold_lake_pool(pooled_home, pid=os.getpid())
    generate_exports(data / "exports" / "last", runs=50, days=1, seed=5, snapshots_per_day=1)
    waiting = start_run(data, pooled_home)
    assert waiting.stderr is not None
    line = waiting.stderr.readline()
    assert line == waiting_line(live)
    waiting.send_signal(signal.SIGINT)
    _, rest = waiting.communicate(timeout=30)
    assert (waiting.returncode, rest) == (130, "runlens: interrupted\n")


def test_runlens_run_with_nothing_new_releases_a_run_left_started_by_a_dead_process(
    tmp_path: Path, pooled_home: Path
) -> None:
    """A run of the UI or the daemon left STARTED by a process that died holds Dagster's run queue (one run at a
    time) and the lake pool. `runlens run` used to release it only before a run of its own, so with nothing new to
    do it left the instance blocked."""
    data = tmp_path / "data"
    generate_exports(data / "exports", runs=50, days=1, seed=3, snapshots_per_day=1)
    finish(start_run(data, pooled_home))
    dead = hold_lake_pool(pooled_home)
    err = finish(start_run(data, pooled_home))
    assert f"Dagster run {dead} was left STARTED by a process that ended: marked failed" in err
    with open_instance(pooled_home) as instance:
        run = instance.get_run_by_id(dead)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
        assert lake_pool(instance) == set()


def test_a_run_that_ends_while_it_is_looked_at_is_not_marked_failed(
    pooled_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its worker logs the run's success and exits while its log is read: the run was marked failed after it had
    succeeded, because its status had been read before its processes were looked at (found by a review). The status
    is now read last."""
    run_id = hold_lake_pool(pooled_home)  # the process that logged its start has exited
    with open_instance(pooled_home) as instance:
        read_logs = instance.all_logs

        def read_while_it_ends(run: str, of_type: object = None) -> object:
            found = read_logs(run, of_type=of_type)  # type: ignore[arg-type]
            ended = DagsterEvent(DagsterEventType.RUN_SUCCESS.value, "__ASSET_JOB")
            instance.report_dagster_event(ended, run)
            return found

        monkeypatch.setattr(instance, "all_logs", read_while_it_ends)
        dead_runs.release_if_dead(instance, run_id)
        monkeypatch.undo()
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        ends = {e.dagster_event_type for e in instance.all_logs(run_id) if e.dagster_event_type}
        assert DagsterEventType.RUN_FAILURE not in ends
        assert lake_pool(instance) == set(), "a finished run's slot is freed"


def lake_pool(instance: dg.DagsterInstance) -> set[str]:
    """The runs holding or waiting for a slot of the runlens_lake pool."""
    info = instance.event_log_storage.get_concurrency_info(LAKE_POOL)
    return info.active_run_ids | {step.run_id for step in info.pending_steps}


@pytest.mark.parametrize("sensor", [export_files_sensor, runs_refresh_sensor])
def test_a_sensor_tick_releases_a_run_left_started_by_a_dead_process_and_leaves_a_live_one(
    data_dir: Path, pooled_home: Path, sensor: dg.SensorDefinition
) -> None:
    """A run requested by a sensor and left STARTED by a process that died (kill -9 of `dagster dev`, a reboot)
    held the run queue's one place and the lake pool for good: the daemon launched nothing more, and the sensor
    waited for it (the refresh sensor while its run was "still running", the export sensor without requesting its
    files again). A tick of either sensor now marks it failed and frees its slot, and requests the work again; a
    live run (its process is this test) keeps its place."""
    exports_dir = data_dir / "exports"
    (exports_dir / "a.jsonl").write_text(json.dumps(RECORD) + "\n")
    settings = Settings.from_env(data_dir)
    with open_instance(pooled_home) as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"runlens": RunlensResource(data_dir=str(data_dir))})
        if sensor is export_files_sensor:
            first = sensor(ctx)
            assert isinstance(first, dg.SensorResult)
            (request,) = first.run_requests
            instance.add_dynamic_partitions(export_files.name, ["a.jsonl"])
            tags = dict(request.tags)
            ctx = dg.build_sensor_context(
                instance=instance, cursor=first.cursor, resources={"runlens": RunlensResource(data_dir=str(data_dir))}
            )
        else:
            ingest_file(exports_dir / "a.jsonl", settings, RecordValidator.from_file(settings.schema_path), "a.jsonl")
            tags = {SENSOR_TAG: "runs_refresh"}
        dead = hold_lake_pool(pooled_home, tags=tags)
        live = hold_lake_pool(pooled_home, pid=os.getpid())
        assert lake_pool(instance) == {dead, live}

        tick = sensor(ctx)
        assert isinstance(tick, dg.SensorResult), tick
        (again,) = tick.run_requests
        assert again.tags[SENSOR_TAG] == tags[SENSOR_TAG]
        statuses = {run_id: run.status for run_id in (dead, live) if (run := instance.get_run_by_id(run_id))}
        assert statuses == {dead: dg.DagsterRunStatus.FAILURE, live: dg.DagsterRunStatus.STARTED}
        assert lake_pool(instance) == {live}


def test_the_project_instance_monitors_runs_and_frees_the_slots_of_ended_runs(pooled_home: Path) -> None:
    """dagster.yaml turns on the daemon's run monitoring (start and cancel timeouts, slots of finished runs freed),
    without resuming runs, which the default run launcher cannot do (the instance would refuse to load)."""
    with open_instance(pooled_home) as instance:
        assert instance.run_monitoring_enabled
        assert "MONITORING" in instance.get_required_daemon_types()
        settings = instance.run_monitoring_settings
        assert settings["free_slots_after_run_end_seconds"] > 0
        assert settings["start_timeout_seconds"] > 0 and settings["cancel_timeout_seconds"] > 0
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert not instance.run_launcher.supports_check_run_worker_health


# Found by a mutation audit of locks.py and dead_runs.py: a wait twice too long or of one poll, another user's live
# process, a run that logged no process yet or whose step process lives on, and a finished run still holding the
# lake pool all went unseen.


def test_the_lock_gives_up_after_its_whole_wait_and_no_later(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = LockClock()
    monkeypatch.setattr(locks, "time", clock)
    path = tmp_path / ".runlens-run.lock"
    with file_lock(path), pytest.raises(LockedError), file_lock(path, wait_s=1.0):
        pass
    assert 1.0 <= clock.now <= 1.0 + 0.2 + 1e-6  # at most one poll (0.2 s) past the deadline


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_process_is_alive_unless_it_is_gone_even_another_users(monkeypatch: pytest.MonkeyPatch) -> None:
    """kill(pid, 0) on another user's live process raises PermissionError: it is alive (the tests run as root, so
    only a stand-in for os.kill shows it)."""
    assert dead_runs._alive(os.getpid()) is True
    assert dead_runs._alive(dead_pid()) is False

    def kill(pid: int, signum: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", kill)
    assert dead_runs._alive(12345) is True


def started_run(instance: dg.DagsterInstance, pids: Mapping[DagsterEventType, int]) -> str:
    """A STARTED run whose events logged ``pids`` (by event type)."""
    run = DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED)
    instance.add_run(run)
    for kind, pid in pids.items():
        instance.report_dagster_event(DagsterEvent(kind.value, "__ASSET_JOB", pid=pid), run.run_id)
    return run.run_id


def test_a_run_with_no_process_logged_or_a_live_step_process_is_left_alone(pooled_home: Path) -> None:
    with open_instance(pooled_home) as instance:
        silent = started_run(instance, {})
        stepping = started_run(
            instance, {DagsterEventType.RUN_START: dead_pid(), DagsterEventType.STEP_START: os.getpid()}
        )
        for run_id in (silent, stepping):
            assert dead_runs.release_if_dead(instance, run_id) is None
            run = instance.get_run_by_id(run_id)
            assert run is not None and run.status == dg.DagsterRunStatus.STARTED


def test_a_finished_run_still_holding_the_lake_pool_is_freed(pooled_home: Path) -> None:
    with open_instance(pooled_home) as instance:
        run = DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.SUCCESS)
        instance.add_run(run)
        instance.event_log_storage.claim_concurrency_slot(LAKE_POOL, run.run_id, "runs")
        assert lake_pool(instance) == {run.run_id}
        assert dead_runs.release_dead_runs(instance) == [
            f"Dagster run {run.run_id} held concurrency slots after it ended: freed"
        ]
        assert lake_pool(instance) == set()


# Found by a mutation audit of pipeline.py: the runs of `runlens run` without its data-directory tag (so a killed run's
# leftovers were never found), and a live run named again at every look, went unseen.


def test_runlens_run_fails_the_runs_a_killed_runlens_run_left_and_only_those(
    tmp_path: Path, pooled_home: Path, run_cli: CliRunner
) -> None:
    """Every run `runlens run` executes carries the data directory it writes; a run of that directory left unfinished
    (its process was killed before the run logged it: no process to look at) is marked failed by the next `runlens
    run` on it, which says so; a finished one, and another directory's unfinished one, are left as they are."""
    data = tmp_path / "data"
    (data / "exports").mkdir(parents=True)
    (data / "exports" / "a.jsonl").write_text(json.dumps(RECORD) + "\n")
    assert run_cli("run", "--data-dir", data).code == 0
    with open_instance(pooled_home) as instance:
        executed = instance.get_runs()
        assert executed and {run.tags.get(DATA_DIR_TAG) for run in executed} == {str(data.resolve())}
        tags = dict(executed[0].tags)
        left = instance.add_run(DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTING, tags=tags))
        other = {**tags, DATA_DIR_TAG: str(tmp_path / "other")}
        others = instance.add_run(DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTING, tags=other))

    again = run_cli("run", "--data-dir", data)
    assert again.code == 0, again.err
    killed = f"Dagster run {left.run_id} of an earlier runlens run that was killed: marked failed, its slot freed"
    assert [line for line in again.err.splitlines() if "earlier runlens run" in line] == [f"runlens: {killed}"]
    with open_instance(pooled_home) as instance:
        statuses = {run.run_id: run.status for run in instance.get_runs()}
    assert statuses.pop(left.run_id) == dg.DagsterRunStatus.FAILURE
    assert statuses.pop(others.run_id) == dg.DagsterRunStatus.STARTING
    assert set(statuses.values()) == {dg.DagsterRunStatus.SUCCESS}


def test_waiting_for_the_lake_pool_names_a_live_run_once_and_says_when_it_is_released(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run holding the pool is looked at again at every recheck (here every poll): alive, it is named once; once
    it is found dead, its release is said and the wait ends. Ctrl-C is looked for at every poll."""
    looks: list[str] = []
    polls: list[int] = []
    released = "Dagster run r1 was left STARTED by a process that ended: marked failed, its concurrency slots freed"

    def users(instance: object) -> set[str]:
        polls.append(1)
        return {"r1"} if len(looks) < 3 and len(polls) < 20 else set()

    def release_if_dead(instance: object, run_id: str) -> str | None:
        looks.append(run_id)
        return released if len(looks) == 3 else None  # alive twice, then dead

    monkeypatch.setattr(dead_runs, "lake_pool_users", users)
    monkeypatch.setattr(dead_runs, "release_if_dead", release_if_dead)
    monkeypatch.setattr(pipeline, "LIVENESS_RECHECK_SECONDS", 0)
    monkeypatch.setattr(pipeline, "POOL_POLL_SECONDS", 0)
    said: list[str] = []
    checkpoints: list[int] = []
    pipeline.wait_for_lake_pool(None, said.append, lambda: checkpoints.append(1))  # type: ignore[arg-type]
    assert said == [waiting_line("r1").removeprefix("runlens: ").removesuffix("\n"), released]
    assert (looks, len(polls), len(checkpoints)) == (["r1"] * 3, 4, 3)
