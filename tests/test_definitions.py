"""The Dagster definitions: they load, hold the contract's assets and checks, and the sensors ask for the right runs."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import dagster as dg
import pytest
import reference as ref
from conftest import CliRunner
from runlens import ingest as runlens_ingest
from runlens.config import Settings
from runlens.definitions import defs
from runlens.defs.resources import RunlensResource
from runlens.defs.sensors import export_files_sensor, runs_refresh_sensor
from runlens.ingest import ingest_file
from runlens.validation import RecordValidator

ASSETS = {
    "ingested_exports",
    "runs",
    "workflow_daily_metrics",
    "workflow_hourly_throughput",
    "error_signatures",
    "stuck_runs",
    "workflow_regressions",
    "warehouse",
}
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    loaded = defs()
    dg.Definitions.validate_loadable(loaded)
    return loaded


def test_definitions_load_with_the_contract_assets_and_checks(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    assert {key.to_user_string() for key in graph.get_all_asset_keys()} >= ASSETS
    checked = {key.asset_key.to_user_string() for key in graph.asset_check_keys}
    # Nothing lost at ingest and one row per run id are invariants with their own checks.
    assert {"ingested_exports", "runs"} <= checked
    blocking = {k.asset_key.to_user_string() for k in graph.asset_check_keys if graph.get_check_spec(k).blocking}
    assert {"ingested_exports", "runs"} <= blocking
    assert {s.name for s in definitions.sensors} >= {"export_files_sensor", "runs_refresh_sensor"}


def context(instance: dg.DagsterInstance, data_dir: Path, cursor: str | None = None) -> dg.SensorEvaluationContext:
    return dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"runlens": RunlensResource(data_dir=str(data_dir))}
    )


def run(sensor: dg.SensorDefinition, ctx: dg.SensorEvaluationContext) -> dg.SensorResult:
    result = sensor(ctx)
    assert isinstance(result, dg.SensorResult), result
    return result


def added_keys(result: dg.SensorResult) -> list[str]:
    return [key for request in result.dynamic_partitions_requests or [] for key in request.partition_keys]


def apply(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    """What the daemon does with a tick's partition requests."""
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))


def record(run_id: str, status: str, created: str) -> dict[str, str]:
    return {"runId": run_id, "workflowName": "wf", "status": status, "createdAt": created}


def test_export_sensor_requests_one_run_for_new_files_and_nothing_again(data_dir: Path) -> None:
    exports = data_dir / "exports"
    instance = dg.DagsterInstance.ephemeral()

    empty = run(export_files_sensor, context(instance, data_dir))
    assert empty.run_requests == [] and added_keys(empty) == []

    (exports / "b.jsonl.gz").write_bytes(
        gzip.compress(json.dumps(record("run_b", "queued", "2026-03-01T00:00:00Z")).encode())
    )
    (exports / "a.json").write_text(json.dumps([record("run_a", "queued", "2026-03-01T00:00:00Z")]))
    shutil.copyfile(exports / "a.json", exports / "c-copy-of-a.json")
    (exports / "notes.txt").write_text("not an export")
    new_names = ["a.json", "b.jsonl.gz"]  # path order; the copy holds content already requested
    assert [n for n in ref.export_names(exports) if n != "c-copy-of-a.json"] == new_names

    first = run(export_files_sensor, context(instance, data_dir))
    assert added_keys(first) == new_names
    (request,) = first.run_requests
    assert [k.to_user_string() for k in request.asset_selection or []] == ["ingested_exports"]
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("a.json", "b.jsonl.gz")
    apply(instance, first)

    second = run(export_files_sensor, context(instance, data_dir, first.cursor))
    assert second.run_requests == [] and added_keys(second) == []

    (exports / "d.ndjson").write_text(json.dumps(record("run_d", "running", "2026-03-02T00:00:00Z")) + "\n")
    third = run(export_files_sensor, context(instance, data_dir, second.cursor))
    assert added_keys(third) == ["d.ndjson"]
    (request,) = third.run_requests
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("d.ndjson", "d.ndjson")
    apply(instance, third)

    (exports / "a.json").write_text(json.dumps([record("run_a", "running", "2026-03-01T00:00:00Z")]))
    changed = run(export_files_sensor, context(instance, data_dir, third.cursor))
    assert added_keys(changed) == [], "the partition of a changed file already exists"
    (request,) = changed.run_requests
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("a.json", "a.json")


def refresh_days(result: dg.SensorResult | dg.SkipReason) -> list[str]:
    assert isinstance(result, dg.SensorResult), result
    (request,) = result.run_requests
    assert {"runs", "warehouse"} <= {k.to_user_string() for k in request.asset_selection or []}
    ops = request.run_config["ops"]
    days = ops["runs"]["config"]["only_days"]
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == (min(days), max(days))
    return sorted(days)


def test_refresh_sensor_requests_the_days_new_ingests_change_and_skips_when_up_to_date(
    data_dir: Path, run_cli: CliRunner
) -> None:
    ctx = context(dg.DagsterInstance.ephemeral(), data_dir)
    assert isinstance(runs_refresh_sensor(ctx), dg.SkipReason), "nothing ingested yet"

    exports = data_dir / "exports"
    first = [record("run_1", "queued", "2026-03-01T10:00:00Z"), record("run_2", "running", "2026-03-02T23:30:00-05:00")]
    (exports / "1.jsonl").write_text("\n".join(json.dumps(r) for r in first))
    settings = Settings.from_env(data_dir)
    validator = RecordValidator.from_file(settings.schema_path)
    ingest_file(exports / "1.jsonl", settings, validator, "1.jsonl")
    expected = ref.ingest_file(exports / "1.jsonl", "1.jsonl", 1)
    assert refresh_days(runs_refresh_sensor(ctx)) == sorted({r.created_date.isoformat() for r in expected.valid})

    result = run_cli("run", "--data-dir", data_dir)
    assert result.code == 0, result.err
    assert isinstance(runs_refresh_sensor(ctx), dg.SkipReason), "runs is up to date after `runlens run`"

    later = [record("run_1", "completed", "2026-03-01T10:00:00Z"), record("run_3", "queued", "2026-03-05T00:00:00Z")]
    (exports / "2.jsonl").write_text("\n".join(json.dumps(r) for r in later))
    ingest_file(exports / "2.jsonl", settings, validator, "2.jsonl")
    assert refresh_days(runs_refresh_sensor(ctx)) == ["2026-03-01", "2026-03-05"]


def test_export_sensor_retries_a_file_it_could_not_read(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that vanishes between discovery and hashing is not requested and not remembered in the cursor, so the
    next tick requests it once it is back."""
    exports_dir = data_dir / "exports"
    (exports_dir / "a.json").write_text(json.dumps([record("run_a", "queued", "2026-03-01T00:00:00Z")]))
    (exports_dir / "b.json").write_text(json.dumps([record("run_b", "queued", "2026-03-01T00:00:00Z")]))
    instance = dg.DagsterInstance.ephemeral()
    digest = runlens_ingest.file_sha256

    def unreadable_b(path: Path) -> str:
        if path.name == "b.json":
            raise PermissionError(13, "Permission denied", str(path))
        return digest(path)

    monkeypatch.setattr(runlens_ingest, "file_sha256", unreadable_b)
    first = run(export_files_sensor, context(instance, data_dir))
    assert added_keys(first) == ["a.json"]
    assert "b.json" not in json.loads(first.cursor or "{}")
    apply(instance, first)

    monkeypatch.setattr(runlens_ingest, "file_sha256", digest)
    second = run(export_files_sensor, context(instance, data_dir, first.cursor))
    assert added_keys(second) == ["b.json"]


def test_export_sensor_requests_again_after_its_ingest_run_failed(data_dir: Path) -> None:
    """A file the sensor requested stays in its cursor; when that ingest run fails, the next tick requests the file
    again (it waited until the file changed), and after three failures in a row it stops asking."""
    (data_dir / "exports" / "a.json").write_text(json.dumps([record("run_a", "queued", "2026-03-01T00:00:00Z")]))
    instance = dg.DagsterInstance.ephemeral()
    first = run(export_files_sensor, context(instance, data_dir))
    (request,) = first.run_requests
    apply(instance, first)
    cursor = first.cursor

    def finish(status: dg.DagsterRunStatus) -> None:
        instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", status=status, tags=dict(request.tags)))

    finish(dg.DagsterRunStatus.SUCCESS)  # as if it ran: nothing failed, nothing to ask again
    assert run(export_files_sensor, context(instance, data_dir, cursor)).run_requests == []
    for attempt in range(3):
        finish(dg.DagsterRunStatus.FAILURE)
        again = run(export_files_sensor, context(instance, data_dir, cursor))
        if attempt < 2:
            (retry,) = again.run_requests
            assert (retry.tags[RANGE_START], retry.tags[RANGE_END]) == ("a.json", "a.json")
        else:
            assert again.run_requests == [], "three failures in a row: it stops asking until the file changes"


def test_refresh_sensor_plans_again_after_a_failed_run_and_waits_while_one_is_queued(data_dir: Path) -> None:
    """The runs of one plan share a plan tag; while one of them is queued or running, no new plan is requested; when one
    failed, the plan's final run must not mark the ingests applied (earlier_step_failed), and the next tick plans
    the same days again (the fixed run_key of before made Dagster skip them for ever)."""
    from runlens.refresh import PLAN_TAG, earlier_step_failed

    exports = data_dir / "exports"
    (exports / "1.jsonl").write_text(json.dumps(record("run_1", "queued", "2026-03-01T10:00:00Z")))
    settings = Settings.from_env(data_dir)
    ingest_file(exports / "1.jsonl", settings, RecordValidator.from_file(settings.schema_path), "1.jsonl")
    instance = dg.DagsterInstance.ephemeral()
    ctx = context(instance, data_dir)
    first = runs_refresh_sensor(ctx)
    assert isinstance(first, dg.SensorResult) and refresh_days(first) == ["2026-03-01"]
    tags = dict(first.run_requests[0].tags)
    assert not earlier_step_failed(instance, tags[PLAN_TAG])

    instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.STARTED, tags=tags))
    assert isinstance(runs_refresh_sensor(ctx), dg.SkipReason), "one of its runs is still running"
    instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.FAILURE, tags=tags))
    assert earlier_step_failed(instance, tags[PLAN_TAG]) and not earlier_step_failed(instance, None)
    for running in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        instance.report_run_failed(running)
    again = runs_refresh_sensor(ctx)
    assert isinstance(again, dg.SensorResult) and refresh_days(again) == ["2026-03-01"]
    assert again.run_requests[0].tags[PLAN_TAG] != tags[PLAN_TAG]
