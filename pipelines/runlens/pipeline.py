"""``runlens run``: the whole pipeline through the Dagster definitions, in process, on the persistent instance.

Step 1 ingests the export files whose content is new (one run over their partitions); step 2 rebuilds the runs
partitions those ingests change, the metrics for those days, and the warehouse (one run over the day range, with
the exact days as config, so untouched days are not rewritten). Runs are recorded in the instance, so the UI shows
them.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES
from dagster._utils.interrupts import capture_interrupts

from runlens import dead_runs, exports, ingest, metrics, warehouse
from runlens.config import PROJECT_DIR, Settings
from runlens.defs.partitions import export_files
from runlens.defs.resources import LAKE_POOL, RunlensResource
from runlens.errors import RunlensError
from runlens.interrupts import raise_for
from runlens.locks import file_lock
from runlens.refresh import ParamsRefresh, ingest_range, plan_refresh
from runlens.validation import RecordValidator

# The CLI prints its own summary and one line per failure; Dagster's event log stays in the instance (and the UI).
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# Every run `runlens run` executes carries the data directory it writes, so a later `runlens run` can tell its own
# runs from those of the UI or of another data directory sharing DAGSTER_HOME.
DATA_DIR_TAG = "runlens/data_dir"
POOL_POLL_SECONDS = 0.5  # how often runlens run looks whether another run still uses the lake pool
LIVENESS_RECHECK_SECONDS = 5  # how often it asks again whether such a run's processes are alive (its event log)
# The runs execute in this process, so what a step prints goes straight to the terminal. Dagster's default compute-log
# manager would send it to a file and copy it back through helper processes (`tail` and a Python watcher per stream);
# they sit in the terminal's process group, so Ctrl-C reached them too and each watcher printed a KeyboardInterrupt
# traceback. Dagster's own in-process default (an ephemeral instance) captures nothing either; the UI still shows every
# run's events, and the instance's own setting still applies to the runs the UI and the daemon launch.
NO_COMPUTE_LOG_CAPTURE = {
    "compute_logs": {"module": "dagster._core.storage.noop_compute_log_manager", "class": "NoOpComputeLogManager"}
}


@dataclass
class PipelineReport:
    """What one ``runlens run`` did; the summary is printed from this and the warehouse."""

    new_files: list[str] = field(default_factory=list)
    # the ingest sequence number of this run's first ingest (the ingest_log rows from it on are this run's), or None
    # when it ingested nothing
    first_ingest_seq: int | None = None
    already_ingested: int = 0
    ignored: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "name (reason)": not ingested, tried again next run
    dagster_runs: list[str] = field(default_factory=list)
    # asset check name -> "passed", "failed" or "warning" (a WARN-severity check that did not pass), for the checks
    # this run evaluated (none when it changed nothing)
    checks: dict[str, str] = field(default_factory=dict)
    # asset check name -> what it found, for the checks of ``checks`` that did not pass
    check_problems: dict[str, str] = field(default_factory=dict)


def ensure_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME if set; otherwise <data dir>/.dagster with the project's dagster.yaml (telemetry off)."""
    if os.environ.get("DAGSTER_HOME"):
        home = Path(os.environ["DAGSTER_HOME"])
        if not home.is_absolute() or not home.is_dir():
            raise RunlensError(f"DAGSTER_HOME={str(home)!r}: Dagster needs an existing folder given by its full path")
        return home
    home = settings.data_dir / ".dagster"
    home.mkdir(parents=True, exist_ok=True)
    template = PROJECT_DIR / "dagster.yaml"
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != template.read_bytes():
        shutil.copyfile(template, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def open_instance(home: Path) -> dg.DagsterInstance:
    """The instance in ``home`` as its dagster.yaml configures it, without compute-log capture (see above)."""
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides=NO_COMPUTE_LOG_CAPTURE))


def _definitions() -> dg.Definitions:
    from runlens.definitions import defs

    return defs()


@contextmanager
def _interrupts_held() -> Iterator[Callable[[], None]]:
    """Hold Ctrl-C (SIGINT, and SIGTERM, which Dagster takes alike) back while the Dagster instance is in use; yields
    ``checkpoint``, which raises KeyboardInterrupt (``Terminated`` for SIGTERM) once one has arrived. Leaving raises
    it too, in place of whatever the interrupt made fail.

    Dagster's storage is not safe to interrupt anywhere: a KeyboardInterrupt at a random point of it left a new
    instance without its tables, runs STARTED and SQLAlchemy tracebacks on stderr. Dagster's ``capture_interrupts``
    only notes the signal, and a run then raises it inside a step, in our crash-safe code, and fails. How it comes
    out of a run varies (DagsterExecutionInterruptedError; DuckDB's ``RuntimeError: Query interrupted``; nothing when
    it came after the last step: a run forgets the note when it ends), so whether one arrived is read from the
    wakeup fd, which hears every signal that reaches a Python handler, whichever handler that is.
    """
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)  # written from the signal handler, which must never wait
    received = bytearray()

    def checkpoint() -> None:
        with suppress(BlockingIOError):
            received.extend(os.read(read, 4096))  # one byte per signal: its number
        for signum in (signal.SIGTERM, signal.SIGINT):
            if signum in received:
                raise_for(signum)

    previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    # Dagster gives SIGTERM the SIGINT handler when it lets go (turning SIGTERM into a KeyboardInterrupt): put back ours
    on_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        with capture_interrupts():
            try:
                yield checkpoint
            finally:
                checkpoint()
    finally:
        signal.signal(signal.SIGTERM, on_sigterm)
        signal.set_wakeup_fd(previous)
        os.close(read)
        os.close(write)


def _materialize(
    definitions: dg.Definitions,
    settings: Settings,
    instance: dg.DagsterInstance,
    selection: list[str] | dg.AssetSelection,
    tags: dict[str, str] | None = None,
    run_config: dict[str, Any] | None = None,
    deferred_checks: list[dg.AssetCheckKey] | None = None,
) -> dg.ExecuteInProcessResult:
    """One run of ``selection``, without the checks of ``deferred_checks`` (a plan's final run evaluates them)."""
    if deferred_checks:
        selection = dg.AssetSelection.assets(*selection) - dg.AssetSelection.checks(*deferred_checks)
    result = dg.materialize(
        [*definitions.assets, *definitions.asset_checks],
        selection=selection,
        instance=instance,
        resources={"runlens": RunlensResource(data_dir=str(settings.data_dir))},
        tags={**(tags or {}), DATA_DIR_TAG: str(settings.data_dir.resolve())},
        run_config={**(run_config or {}), **QUIET},
        raise_on_error=False,
    )
    if not result.success:
        raise RunlensError(f"Dagster run {result.run_id} failed: {_first_failure(result)}")
    return result


def fail_orphaned_runs(instance: dg.DagsterInstance, settings: Settings) -> list[str]:
    """Mark failed the runs an earlier ``runlens run`` on this data directory left unfinished, and free the
    concurrency slots they hold; returns their ids.

    The caller holds the data directory's run lock, which every ``runlens run`` holds while it lives, so such a run
    belongs to a process that died (SIGKILL, out of memory, power loss) without ending it. Left as it is, it would
    keep the one slot of the ``runlens_lake`` pool (``dagster.yaml``) for ever, and every later run would wait for it
    without end.
    """
    filters = dg.RunsFilter(tags={DATA_DIR_TAG: str(settings.data_dir.resolve())}, statuses=NOT_FINISHED_STATUSES)
    orphans = instance.get_runs(filters=filters)
    for run in orphans:
        instance.report_run_failed(run, message="the runlens run process that executed this run ended without it")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return [run.run_id for run in orphans]


def wait_for_lake_pool(
    instance: dg.DagsterInstance, echo: Callable[[str], None], checkpoint: Callable[[], None]
) -> None:
    """Return once no other run holds or waits for the ``runlens_lake`` pool, so that the next run does not wait
    inside Dagster, where neither Ctrl-C nor SIGTERM stops it and nothing is printed.

    A run that has ended but still holds a slot or a place in the pool's queue (it finished, or every process that
    logged its events is gone: a CLI or UI materialization killed with SIGKILL, which no ``runlens run`` tag marks)
    is marked failed and removed from the pool (``dead_runs.release_if_dead``): left there, it would block every
    later run for ever. A live one is named once and looked at again every ``LIVENESS_RECHECK_SECONDS`` (it may die
    while it is waited for); the wait polls ``checkpoint`` (Ctrl-C)."""
    named: set[str] = set()
    checked_at = time.monotonic()
    while users := dead_runs.lake_pool_users(instance):
        recheck = time.monotonic() - checked_at >= LIVENESS_RECHECK_SECONDS
        if recheck:
            checked_at = time.monotonic()
        for run_id in sorted(users if recheck else users - named):
            released = dead_runs.release_if_dead(instance, run_id)
            if released is not None:
                echo(released)
            elif run_id not in named:
                named.add(run_id)
                echo(f"waiting for Dagster run {run_id}, which uses the {LAKE_POOL} pool (Ctrl-C stops waiting)")
        checkpoint()
        time.sleep(POOL_POLL_SECONDS)


def _record(report: PipelineReport, result: dg.ExecuteInProcessResult) -> None:
    report.dagster_runs.append(result.run_id)
    for event in result.get_asset_materialization_events():  # one per partition of an ingest run, alike
        not_read = event.materialization.metadata.get(ingest.NOT_READ)
        for name, reason in not_read.value if not_read is not None else []:
            if name in report.new_files:  # not ingested: said once, with why
                report.new_files.remove(name)
                report.unreadable.append(f"{name} ({reason})")
    for evaluation in result.get_asset_check_evaluations():
        report.checks[evaluation.check_name] = (
            "passed"
            if evaluation.passed
            else "warning"
            if evaluation.severity == dg.AssetCheckSeverity.WARN
            else "failed"
        )
        report.check_problems.pop(evaluation.check_name, None)  # a later evaluation replaces an earlier one
        if not evaluation.passed and evaluation.description:
            report.check_problems[evaluation.check_name] = evaluation.description


def _first_failure(result: dg.ExecuteInProcessResult) -> str:
    """The first failed step and the error raised by our code (not Dagster's wrapper), in one line (a RunlensError's
    own: ``defs.failures`` makes it the step's ``dg.Failure``, whose description it is); for a failed
    blocking asset check, what the check found (its description), since Dagster's error names only the check."""
    for event in result.all_events:
        failure = event.step_failure_data if event.is_step_failure else None
        if failure and failure.user_failure_data and failure.user_failure_data.description:
            return f"{event.step_key}: {_headline(failure.user_failure_data.description)}"
        if failure and failure.error:
            error = failure.error
            while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
                error = error.cause
            message = _headline(error.message)
            if error.cls_name == "DagsterAssetCheckFailedError":
                message = "; ".join(
                    f"check {check.check_name} failed: {check.description}"
                    for check in result.get_asset_check_evaluations()
                    if check.blocking and not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
                )
            return f"{event.step_key}: {message}"
    return "see the run's logs in the Dagster UI"


def _headline(message: str) -> str:
    """The line of an error message that says what went wrong: its first line with text. A DuckDB error goes on with
    the query (``LINE 1: select ...``) and a line of carets under the place it failed, which said nothing alone."""
    return next((text for text in message.splitlines() if text.strip()), message).strip()


def make_data_dir(settings: Settings) -> None:
    """Create the data root (and the folders on the way) unless a file stands where a folder must be, and its
    ``exports/`` folder, the one the summary of a run without exports tells users to drop them into. An exports
    folder set elsewhere (RUNLENS_EXPORTS_DIR) is not created: a mistyped path there must stay visible, as "no
    export yet" naming it."""
    path = settings.data_dir
    blocker = next((step for step in (path, *path.parents) if step.exists()), None)
    if blocker is not None and not blocker.is_dir():
        what = "is a file" if blocker == path else f"lies under {blocker}, which is a file"
        raise RunlensError(f"{path}: {what}, not a folder; the data root (--data-dir, RUNLENS_DATA_DIR) is a folder")
    path.mkdir(parents=True, exist_ok=True)
    if settings.exports_dir == path / "exports":  # a link there resolves elsewhere (Settings)
        with suppress(FileExistsError):  # a file there is left to discovery, which says what is wrong
            settings.exports_dir.mkdir(exist_ok=True)  # exist_ok: another run may make it first


def run_pipeline(settings: Settings, echo: Callable[[str], None] = print) -> PipelineReport:
    """Ingest new exports, refresh what they change, rebuild the warehouse; serialised per data directory."""
    validator = RecordValidator.from_file(settings.schema_path)  # a broken schema file is the user's to fix: say so
    metrics.env_params()  # so is a metric parameter that does not fit
    make_data_dir(settings)
    with file_lock(settings.data_dir / ".runlens-run.lock", on_wait=echo):
        home = ensure_dagster_home(settings)
        report = PipelineReport()
        definitions = _definitions()
        # before Dagster holds Ctrl-C back: hashing every export can take seconds
        discovery = exports.discover(settings)
        report.ignored = discovery.ignored
        pending = exports.new_exports(settings, discovery)
        fresh = pending.files
        report.unreadable = [f"{name} ({reason})" for name, reason in pending.unreadable.items()]
        # the folders discovery could not list are among the unreadable, but not among its files
        not_read = len(pending.unreadable) - len(discovery.unreadable)
        report.already_ingested = len(discovery.files) - len(fresh) - not_read
        notice = ingest.schema_change_notice(settings.lake_dir, validator)
        if notice:
            echo(notice)
        with _interrupts_held() as checkpoint, open_instance(home) as instance:

            def materialize(selection: list[str] | dg.AssetSelection, **options: Any) -> None:
                checkpoint()  # no run after Ctrl-C: the one before may have finished without noticing it
                wait_for_lake_pool(instance, echo, checkpoint)
                _record(report, _materialize(definitions, settings, instance, selection, **options))

            for run_id in fail_orphaned_runs(instance, settings):
                echo(f"Dagster run {run_id} of an earlier runlens run that was killed: marked failed, its slot freed")
            for released in dead_runs.release_dead_runs(instance):  # the daemon's queue and the pool, even with no work
                echo(released)
            if fresh:
                keys = [export.key for export in fresh]
                report.new_files = [export.name for export in fresh]
                report.first_ingest_seq = ingest.next_ingest_seq(settings.lake_dir)
                added, tags = ingest_range(instance.get_dynamic_partitions(export_files.name), keys)
                instance.add_dynamic_partitions(export_files.name, added)
                materialize(["ingested_exports"], tags=tags)
            plan = plan_refresh(settings)
            retuned = [step for step in plan if isinstance(step, ParamsRefresh)]
            for step in retuned:
                echo(f"metric parameters changed since {', '.join(step.tables)} were computed: recomputing them")
            if len(plan) > len(retuned) and not fresh:
                # ingests of an earlier run that was stopped before its refresh: their checks, which that run's
                # summary never showed (they may not even have run), go before the refresh as in that run
                materialize(dg.AssetSelection.checks_for_assets("ingested_exports"))
            for step in plan:
                materialize(
                    step.selection, tags=step.tags, run_config=step.run_config, deferred_checks=step.deferred_checks
                )
            rebuilt = any("warehouse" in step.selection for step in plan)
            if not rebuilt and warehouse.built_for(settings.warehouse_path) != settings.lake_dir:
                # missing, unreadable, or built over another lake (the data directory was moved or copied)
                materialize(["warehouse"])
        return report
