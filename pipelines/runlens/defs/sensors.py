"""Sensors: new export files -> ingest; committed ingests not yet in runs -> refresh runs, metrics, warehouse."""

import json
import uuid
from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

from runlens import exports
from runlens.defs.partitions import export_files
from runlens.defs.resources import RunlensResource
from runlens.refresh import FINAL_ASSETS, PLAN_TAG, ingest_range, plan_refresh

# Tags the runs each sensor requests (its name as the value), so it can find its own: the export sensor whether its
# newest ingest failed, the refresh sensor whether a plan of its is still queued or running.
SENSOR_TAG = "runlens/sensor"
MAX_RETRIES = 3


@dg.sensor(asset_selection=["ingested_exports"], minimum_interval_seconds=60)
def export_files_sensor(context: dg.SensorEvaluationContext, runlens: RunlensResource) -> dg.SensorResult:
    """Adds a partition per new export file and requests one ingest run for the files whose content is new.

    The cursor remembers each file's size and modification time, so unchanged files are not hashed again. When the
    newest ingest run it requested failed (at most ``MAX_RETRIES`` times in a row), every file whose content is
    still not ingested is requested again: a remembered file would otherwise wait until it changes.
    """
    settings = runlens.settings()
    seen: dict[str, list[int]] = json.loads(context.cursor or "{}")
    discovery = exports.discover(settings)
    current = {f.key: _signature(f.path) for f in discovery.files}
    retry = _last_ingests_failed(context.instance)
    changed = [f for f in discovery.files if retry or seen.get(f.key) != current[f.key]]
    pending = exports.new_exports(settings, exports.Discovery(changed, []))
    if pending.unreadable:
        context.log.warning(f"export files that could not be read (tried again next time): {pending.unreadable}")
        current = {f.key: current[f.key] for f in discovery.files if f.name not in pending.unreadable}
    fresh = [export.key for export in pending.files]
    if not fresh:
        return dg.SensorResult(cursor=json.dumps(current))
    added, tags = ingest_range(context.instance.get_dynamic_partitions(export_files.name), fresh)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(asset_selection=[dg.AssetKey("ingested_exports")], tags={**tags, SENSOR_TAG: "export_files"})
        ],
        dynamic_partitions_requests=[export_files.build_add_request(added)] if added else [],
        cursor=json.dumps(current),
    )


def _last_ingests_failed(instance: dg.DagsterInstance) -> bool:
    """Whether the newest ingest run this sensor requested failed, and fewer than ``MAX_RETRIES`` in a row did."""
    records = instance.get_run_records(filters=dg.RunsFilter(tags={SENSOR_TAG: "export_files"}), limit=MAX_RETRIES)
    failed = [r.dagster_run.status == dg.DagsterRunStatus.FAILURE for r in records]
    return bool(failed) and failed[0] and not (len(failed) == MAX_RETRIES and all(failed))


def _signature(path: Path) -> list[int] | None:
    """A file's size and modification time, or None when it cannot be stat-ed (removed since discovery)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


@dg.sensor(asset_selection=FINAL_ASSETS, minimum_interval_seconds=60)
def runs_refresh_sensor(
    context: dg.SensorEvaluationContext, runlens: RunlensResource
) -> dg.SensorResult | dg.SkipReason:
    """When committed ingests are not yet reflected in runs, requests the runs that rebuild exactly the days they
    change, then the metrics and the warehouse (the same plan `runlens run` uses).

    The runs of one plan share a ``PLAN_TAG``; the final one marks the ingests applied only if none of the others
    failed (``earlier_step_failed``), so a failed day cluster is planned again on a later tick. No new plan is
    requested while a run of the last one is queued or running.
    """
    ours = dg.RunsFilter(tags={SENSOR_TAG: "runs_refresh"}, statuses=NOT_FINISHED_STATUSES)
    if context.instance.get_runs(filters=ours, limit=1):
        return dg.SkipReason("a refresh requested earlier is still queued or running")
    plan = plan_refresh(runlens.settings())
    if not plan:
        return dg.SkipReason("runs is up to date with every committed ingest")
    plan_id = uuid.uuid4().hex
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                asset_selection=[dg.AssetKey(k) for k in step.selection],
                tags={**step.tags, SENSOR_TAG: "runs_refresh", PLAN_TAG: plan_id},
                run_config=step.run_config,
            )
            for step in plan
        ]
    )
