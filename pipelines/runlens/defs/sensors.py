"""Sensors: new export files -> ingest; committed ingests not yet in runs -> refresh runs, metrics, warehouse."""

import json
import uuid
from pathlib import Path

import dagster as dg
from dagster._core.execution.stats import StepEventStatus
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

from runlens import dead_runs, exports, ingest
from runlens.defs import checks
from runlens.defs.checks import ingest_reconciles
from runlens.defs.partitions import export_files
from runlens.defs.resources import RunlensResource
from runlens.refresh import FINAL_ASSETS, PLAN_TAG, ingest_range, plan_refresh

# Tags the runs each sensor requests (its name as the value), so it can find its own: the export sensor whether its
# newest ingest failed, the refresh sensor whether a plan of its is still queued or running.
SENSOR_TAG = "runlens/sensor"
MAX_RETRIES = 3
INGEST_STEP = "ingested_exports"  # the step key of the ingest asset in a run


@dg.sensor(asset_selection=["ingested_exports"], minimum_interval_seconds=60)
def export_files_sensor(context: dg.SensorEvaluationContext, runlens: RunlensResource) -> dg.SensorResult:
    """Adds a partition per new export file and requests one ingest run for the files whose content is new.

    The cursor remembers each file's size, modification and change times, so unchanged files are not hashed again.
    When the newest ingest run it requested failed or was cancelled before its ingest step succeeded (at most
    ``MAX_RETRIES`` times in a row), every file whose content is still not ingested is requested again, once per such
    run (the cursor remembers the run): a remembered file would otherwise wait until it changes. After that many in a
    row, the tick's skip reason says the files wait for a change (or `runlens run`).
    """
    _release_dead_runs(context)
    settings = runlens.settings()
    seen, retried = _read_cursor(context.cursor)
    discovery = exports.discover(settings)
    current = {f.key: _signature(f.path) for f in discovery.files}
    failed, gave_up = _ingest_to_retry(context.instance)
    retry = failed is not None and failed != retried
    if retry:
        retried = failed
    changed = [f for f in discovery.files if retry or seen.get(f.key) != current[f.key]]
    pending = exports.new_exports(settings, exports.Discovery(changed, [], discovery.unreadable))
    if pending.unreadable:
        context.log.warning(
            f"export files and folders that could not be read (tried again next time): {pending.unreadable}"
        )
        current = {f.key: current[f.key] for f in discovery.files if f.name not in pending.unreadable}
    # Of several files with the same bytes only the first is requested; whether another reading of them is wanted
    # (the same bytes read as another format) shows once that one is ingested (exports.new_exports), so such a file
    # must be looked at again next tick. Same bytes have the same size: a skipped file of a requested file's size,
    # read another way, stays out of the cursor (one skipped as already ingested is only hashed once more; if the
    # next tick comes before the ingest run, it is requested, and the run decides: ingest_file skips a reading that
    # is not wanted).
    requested = {(current[e.key][0], _reading(e.path)) for e in pending.files if current[e.key] is not None}
    sizes = {size for size, _ in requested}
    for export in changed:
        signature = current.get(export.key)
        if export in pending.files or signature is None or signature[0] not in sizes:
            continue
        reading = _reading(export.path)
        if reading is None or (signature[0], reading) not in requested:
            del current[export.key]
    fresh = [export.key for export in pending.files]
    cursor = json.dumps({"files": current, "retried": retried})
    if not fresh:
        return dg.SensorResult(cursor=cursor, skip_reason=gave_up)
    added, tags = ingest_range(context.instance.get_dynamic_partitions(export_files.name), fresh)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(asset_selection=[dg.AssetKey("ingested_exports")], tags={**tags, SENSOR_TAG: "export_files"})
        ],
        dynamic_partitions_requests=[export_files.build_add_request(added)] if added else [],
        cursor=cursor,
    )


# A run in one of these ended, or is ending, without its files known to be ingested: a cancelled run may have been
# stopped before it started, or halfway.
NOT_COMPLETED = {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.CANCELING}


def _read_cursor(text: str | None) -> tuple[dict[str, list[int]], str | None]:
    """The export sensor's cursor: each file's signature by partition key, and the failed ingest run whose files it
    has requested again already (a cursor written before it remembered that run holds only the signatures)."""
    loaded = json.loads(text or "{}")
    if set(loaded) == {"files", "retried"}:
        return loaded["files"], loaded["retried"]
    return loaded, None


def _ingest_to_retry(instance: dg.DagsterInstance) -> tuple[str | None, str | None]:
    """The newest ingest run this sensor requested when it may have left files not ingested (``_lost``) and fewer than
    ``MAX_RETRIES`` in a row did; else None. And, when that many did, what to say instead (else None).

    A run whose ingest step succeeded does not count, though it failed afterwards (a blocking check) or was cancelled
    after it: its files are in the lake. Counted, two such runs and one cancelled while queued made the sensor give up
    on a new file it had never read, without a word (found by a review)."""
    records = instance.get_run_records(filters=dg.RunsFilter(tags={SENSOR_TAG: "export_files"}), limit=MAX_RETRIES)
    lost = 0  # in a row, newest first
    for record in records:
        if not _lost(instance, record.dagster_run):
            break
        lost += 1
    if not lost:
        return None, None
    newest = records[0].dagster_run.run_id
    if lost < MAX_RETRIES:
        return newest, None
    ingested = instance.get_latest_materialization_event(dg.AssetKey(INGEST_STEP))
    if ingested is not None and ingested.timestamp > records[0].create_timestamp.timestamp():
        return None, None  # ingested since (`runlens run`, the UI): the advice below was taken
    return None, (
        f"the last {MAX_RETRIES} ingest runs this sensor requested ended before ingesting their files (newest: "
        f"{newest}): files already requested are not requested again until they change; once the cause is fixed, "
        "materialize ingested_exports or run `runlens run`"
    )


def _lost(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether an ingest run ended, or is ending, without its ingest step having succeeded (``NOT_COMPLETED``: it
    failed or was cancelled before or during that step)."""
    if run.status not in NOT_COMPLETED:
        return False
    steps = instance.get_run_step_stats(run.run_id, step_keys=[INGEST_STEP])
    return not any(step.status == StepEventStatus.SUCCESS for step in steps)


def _release_dead_runs(context: dg.SensorEvaluationContext) -> None:
    """Mark failed the runs left STARTED by a process that died, and free the pool slots of dead runs
    (``dead_runs.release_dead_runs``): one of them holds the run queue's one place and the lake pool for good, and
    no run these sensors request would ever start. Each tick of either sensor looks, so the instance recovers
    within a minute of the daemon coming back."""
    for released in dead_runs.release_dead_runs(context.instance):
        context.log.warning(released)


def _reading(path: Path) -> str | None:
    """How a file is read (``ingest.reading_of``), or None when it cannot be opened (removed since discovery)."""
    try:
        return ingest.reading_of(path)
    except OSError:
        return None


def _signature(path: Path) -> list[int] | None:
    """A file's size, modification and change times, or None when it cannot be stat-ed (removed since discovery).
    The change time is the ingest's too (``ingest.CHANGED_WHILE_READ``): a file whose ingest found it changed while
    it was read (a hard link or a chmod changes only that time) has changed here too, so it is requested again."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


@dg.sensor(asset_selection=FINAL_ASSETS, minimum_interval_seconds=60)
def runs_refresh_sensor(
    context: dg.SensorEvaluationContext, runlens: RunlensResource
) -> dg.SensorResult | dg.SkipReason:
    """When committed ingests are not yet reflected in runs, requests the runs that rebuild exactly the days they
    change, then the metrics and the warehouse (the same plan `runlens run` uses).

    Like ``runlens run``, which stops when a blocking check of its ingest fails, it requests nothing while the latest
    execution of a blocking check on ``ingested_exports`` failed, did not run in a failed run, or is still to come
    (``_ingest_checks_hold_back``); it resumes once that check passes again.

    The runs of one plan share a ``PLAN_TAG``; the final one marks the ingests applied only if none of the others
    failed (``earlier_step_failed``), so a failed day cluster is planned again on a later tick. No new plan is
    requested while a run of the last one is queued or running.
    """
    _release_dead_runs(context)
    ours = dg.RunsFilter(tags={SENSOR_TAG: "runs_refresh"}, statuses=NOT_FINISHED_STATUSES)
    if context.instance.get_runs(filters=ours, limit=1):
        return dg.SkipReason("a refresh requested earlier is still queued or running")
    held = _ingest_checks_hold_back(context.instance)
    if held:
        return dg.SkipReason(held)
    plan = plan_refresh(runlens.settings())
    if not plan:
        return dg.SkipReason("runs is up to date with every committed ingest")
    plan_id = uuid.uuid4().hex
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                asset_selection=[dg.AssetKey(k) for k in step.selection],
                asset_check_keys=_check_keys(step.selection, step.deferred_checks),
                tags={**step.tags, SENSOR_TAG: "runs_refresh", PLAN_TAG: plan_id},
                run_config=step.run_config,
            )
            for step in plan
        ]
    )


CHECK_KEYS = [
    key for value in vars(checks).values() if isinstance(value, dg.AssetChecksDefinition) for key in value.check_keys
]


def _check_keys(assets: list[str], deferred: list[dg.AssetCheckKey]) -> list[dg.AssetCheckKey] | None:
    """The checks a refresh run evaluates: every check of its assets (None) but those it leaves to the final run."""
    if not deferred:
        return None
    return [key for key in CHECK_KEYS if key.asset_key.to_user_string() in assets and key not in deferred]


BLOCKING_INGEST_CHECKS = [spec.key for spec in ingest_reconciles.check_specs if spec.blocking]


def _ingest_checks_hold_back(instance: dg.DagsterInstance) -> str | None:
    """Why the refresh must wait for the blocking checks on ``ingested_exports`` (None when it need not): the latest
    execution of one failed, belongs to a run that failed or was cancelled before it was evaluated (the ingest itself
    failed, or was stopped halfway), or belongs to a run still queued, running or cancelling (an ingest whose checks
    are still to come). A check never executed, or whose run was deleted or succeeded without evaluating it, does not
    hold the refresh back."""
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(BLOCKING_INGEST_CHECKS)
    for key in BLOCKING_INGEST_CHECKS:
        record = latest.get(key)
        if record is None or record.status == AssetCheckExecutionRecordStatus.SUCCEEDED:
            continue
        what = f"the blocking check {key.name} on ingested_exports"
        again = "; the refresh resumes once it passes again (fix the lake, then execute the check)"
        if record.status == AssetCheckExecutionRecordStatus.FAILED:
            found = record.evaluation.description if record.evaluation else None
            return f"{what} failed in run {record.run_id}" + (f": {found}" if found else "") + again
        run = instance.get_run_by_id(record.run_id)
        if run is None:
            continue
        if not run.is_finished:
            return f"{what} is still to be evaluated in run {record.run_id} ({run.status.value.lower()})"
        if run.status in NOT_COMPLETED:
            ended = "failed" if run.status == dg.DagsterRunStatus.FAILURE else "was canceled"
            return f"{what} was not evaluated: run {record.run_id} {ended} before it" + again
    return None
