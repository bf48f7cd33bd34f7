"""Sensors: new export files -> ingest; committed ingests not yet in runs -> refresh runs, metrics, warehouse."""

import json
from pathlib import Path

import dagster as dg

from runlens import exports
from runlens.defs.partitions import export_files
from runlens.defs.resources import RunlensResource
from runlens.refresh import FINAL_ASSETS, ingest_range, plan_refresh


@dg.sensor(asset_selection=["ingested_exports"], minimum_interval_seconds=60)
def export_files_sensor(context: dg.SensorEvaluationContext, runlens: RunlensResource) -> dg.SensorResult:
    """Adds a partition per new export file and requests one ingest run for the files whose content is new.

    The cursor remembers each file's size and modification time, so unchanged files are not hashed again.
    """
    settings = runlens.settings()
    seen: dict[str, list[int]] = json.loads(context.cursor or "{}")
    discovery = exports.discover(settings)
    current = {f.key: _signature(f.path) for f in discovery.files}
    changed = [f for f in discovery.files if seen.get(f.key) != current[f.key]]
    pending = exports.new_exports(settings, exports.Discovery(changed, []))
    if pending.unreadable:
        context.log.warning(f"export files that could not be read (tried again next time): {pending.unreadable}")
        current = {f.key: current[f.key] for f in discovery.files if f.name not in pending.unreadable}
    fresh = [export.key for export, _ in pending.files]
    if not fresh:
        return dg.SensorResult(cursor=json.dumps(current))
    added, tags = ingest_range(context.instance.get_dynamic_partitions(export_files.name), fresh)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(asset_selection=[dg.AssetKey("ingested_exports")], tags=tags)],
        dynamic_partitions_requests=[export_files.build_add_request(added)] if added else [],
        cursor=json.dumps(current),
    )


def _signature(path: Path) -> list[int] | None:
    """A file's size and modification time, or None when it cannot be stat-ed (removed since discovery)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


@dg.sensor(asset_selection=FINAL_ASSETS, minimum_interval_seconds=60)
def runs_refresh_sensor(runlens: RunlensResource) -> dg.SensorResult | dg.SkipReason:
    """When committed ingests are not yet reflected in runs, requests the runs that rebuild exactly the days they
    change, then the metrics and the warehouse (the same plan `runlens run` uses)."""
    plan = plan_refresh(runlens.settings())
    if not plan:
        return dg.SkipReason("runs is up to date with every committed ingest")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"apply-ingest-seq-{step.newest_seq}-{i}",
                asset_selection=[dg.AssetKey(k) for k in step.selection],
                tags=step.tags,
                run_config=step.run_config,
            )
            for i, step in enumerate(plan)
        ]
    )
