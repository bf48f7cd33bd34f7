"""The Dagster definitions: they load, hold the contract's assets and checks, and the sensors ask for the right runs."""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest
import reference as ref
from conftest import CliRunner
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationPlanned
from dagster._core.events import DagsterEvent, DagsterEventType
from processes import RUNLENS
from runlens import ingest as runlens_ingest
from runlens import pipeline as pipeline_module
from runlens import runs as runs_table
from runlens.config import Settings
from runlens.definitions import defs
from runlens.defs.assets.metrics import DAILY
from runlens.defs.resources import RunlensResource
from runlens.defs.sensors import BLOCKING_INGEST_CHECKS, export_files_sensor, runs_refresh_sensor
from runlens.errors import RunlensError
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


PROJECT = Path(__file__).resolve().parents[1]


def test_the_readmes_dagster_commands_run_on_the_instance_runlens_dagster_home_prepares(tmp_path: Path) -> None:
    """README, "The Dagster UI": `export RUNLENS_DATA_DIR=... DAGSTER_HOME="$(runlens dagster-home)"`, then any
    `dagster` command from the project folder. Before, the folder existed only after a first `runlens run`, and
    `dagster` failed on a new data directory; every command also warned that the code location's name did not match
    the project's."""
    data = tmp_path / "data"
    env = {name: value for name, value in os.environ.items() if name != "DAGSTER_HOME"}
    made = subprocess.run([RUNLENS, "dagster-home", "--data-dir", data], env=env, capture_output=True, text=True)
    assert (made.returncode, made.stderr) == (0, "")
    home = Path(made.stdout.strip())
    assert home == data.resolve() / ".dagster"
    assert (data / "exports").is_dir(), "the folder the export sensor watches, to drop exports into"
    assert (home / "dagster.yaml").read_bytes() == (PROJECT / "dagster.yaml").read_bytes()
    env |= {"DAGSTER_HOME": str(home), "RUNLENS_DATA_DIR": str(data)}
    again = subprocess.run([RUNLENS, "dagster-home"], env=env, capture_output=True, text=True)
    assert (again.returncode, again.stdout.strip()) == (0, str(home)), "DAGSTER_HOME set: that instance"
    dagster = PROJECT / ".venv" / "bin" / "dagster"
    checked = subprocess.run(
        [dagster, "definitions", "validate", "-m", "runlens.definitions"],
        cwd=PROJECT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    logged = checked.stdout + checked.stderr
    assert "Validation successful for code location runlens.definitions" in logged
    assert "WARNING" not in logged, logged


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
    (exports / "b.jsonl.gz").chmod(0o600)  # a change time only, as when its ingest found it changed while read
    looked_again = run(export_files_sensor, context(instance, data_dir, second.cursor))
    [request] = looked_again.run_requests  # its content is not ingested yet (the runs requested were not run)
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("b.jsonl.gz", "b.jsonl.gz")
    second = run(export_files_sensor, context(instance, data_dir, looked_again.cursor))
    assert second.run_requests == []

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
    with pytest.MonkeyPatch.context() as env:  # a new stuck-run threshold: only that table is recomputed
        env.setenv("RUNLENS_STUCK_RUNS_THRESHOLD_S", "60")
        [request] = run(runs_refresh_sensor, ctx).run_requests or []
        assert request.asset_selection == [dg.AssetKey("stuck_runs")]

    later = [record("run_1", "completed", "2026-03-01T10:00:00Z"), record("run_3", "queued", "2026-03-05T00:00:00Z")]
    (exports / "2.jsonl").write_text("\n".join(json.dumps(r) for r in later))
    ingest_file(exports / "2.jsonl", settings, validator, "2.jsonl")
    assert refresh_days(runs_refresh_sensor(ctx)) == ["2026-03-01", "2026-03-05"]


def test_refresh_sensor_leaves_the_uniqueness_check_to_the_plans_final_run(data_dir: Path) -> None:
    """Days more than a week apart get runs of their own; only the final one evaluates run_ids_unique (a run moving
    farther than a month is in two partitions between them), the others every other check of their assets."""
    exports = data_dir / "exports"
    records = [record("run_1", "queued", "2026-03-01T10:00:00Z"), record("run_2", "queued", "2026-05-20T10:00:00Z")]
    (exports / "1.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    settings = Settings.from_env(data_dir)
    ingest_file(exports / "1.jsonl", settings, RecordValidator.from_file(settings.schema_path), "1.jsonl")
    result = runs_refresh_sensor(context(dg.DagsterInstance.ephemeral(), data_dir))
    assert isinstance(result, dg.SensorResult)
    first, final = result.run_requests
    assert {key.name for key in first.asset_check_keys or []} == {
        "runs_created_date_matches",
        "daily_metrics_valid",
        "daily_metrics_reconcile",
    }
    assert final.asset_check_keys is None  # every check of its assets, run_ids_unique included


def cannot_hash(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make hashing an export file called ``name`` fail as an unreadable file does."""
    digest = runlens_ingest.file_sha256

    def unreadable(path: Path) -> str:
        if path.name == name:
            raise PermissionError(13, "Permission denied", str(path))
        return digest(path)

    monkeypatch.setattr(runlens_ingest, "file_sha256", unreadable)


def test_export_sensor_retries_a_file_it_could_not_read(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that vanishes between discovery and hashing is not requested and not remembered in the cursor, so the
    next tick requests it once it is back."""
    exports_dir = data_dir / "exports"
    (exports_dir / "a.json").write_text(json.dumps([record("run_a", "queued", "2026-03-01T00:00:00Z")]))
    (exports_dir / "b.json").write_text(json.dumps([record("run_b", "queued", "2026-03-01T00:00:00Z")]))
    instance = dg.DagsterInstance.ephemeral()
    digest = runlens_ingest.file_sha256
    cannot_hash(monkeypatch, "b.json")
    first = run(export_files_sensor, context(instance, data_dir))
    assert added_keys(first) == ["a.json"]
    assert "b.json" not in json.loads(first.cursor or "{}")["files"]
    apply(instance, first)

    monkeypatch.setattr(runlens_ingest, "file_sha256", digest)  # b.json can be read again
    second = run(export_files_sensor, context(instance, data_dir, first.cursor))
    assert added_keys(second) == ["b.json"]


def test_export_sensor_names_a_folder_it_cannot_list_and_requests_its_files_once_it_can(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, unlistable: set[Path]
) -> None:
    """The sensor finds files as `runlens run` does, and a folder discovery could not list (`chmod 000`) was skipped
    without a word (found by a review): the tick names it in its warning with the reason and requests the other
    files; once the folder can be listed, the next tick requests its files."""
    exports_dir = data_dir / "exports"
    (exports_dir / "locked").mkdir()
    (exports_dir / "a.json").write_text(json.dumps([record("run_a", "queued", "2026-03-01T00:00:00Z")]))
    (exports_dir / "locked" / "b.json").write_text(json.dumps([record("run_b", "queued", "2026-03-01T00:00:00Z")]))
    unlistable.add(Settings.from_env(data_dir).exports_dir / "locked")
    instance = dg.DagsterInstance.ephemeral()
    ctx = context(instance, data_dir)
    warned: list[str] = []
    monkeypatch.setattr(ctx.log, "warning", warned.append)
    first = run(export_files_sensor, ctx)
    assert added_keys(first) == ["a.json"]
    assert warned == [
        "export files and folders that could not be read (tried again next time): {'locked/': 'Permission denied'}"
    ]
    apply(instance, first)

    unlistable.clear()
    second = run(export_files_sensor, context(instance, data_dir, first.cursor))
    assert added_keys(second) == ["locked/b.json"]


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
            assert again.skip_reason is not None
            assert "the last 3 ingest runs this sensor requested ended before ingesting" in (
                again.skip_reason.skip_message or ""
            )
    # the advice taken (`runlens run`, or the asset materialized from the UI): the tick no longer repeats it
    instance.report_runless_asset_event(dg.AssetMaterialization("ingested_exports"))
    assert run(export_files_sensor, context(instance, data_dir, cursor)).skip_reason is None


def test_the_fleet_tables_say_how_many_runs_are_dated_after_their_ingest(
    data_dir: Path, definitions: dg.Definitions
) -> None:
    """`runlens run` names the runs left out of the as-of time of stuck runs and regressions (after_ingest); a
    refresh through the sensors said nothing (found by a review). The fleet tables' materialization now logs the same
    line and records the count; their rows metadata is named for what it is, the rows written."""
    typo = {**record("run_typo", "completed", "2026-03-01T01:00:00Z"), "completedAt": "2062-03-01T01:00:00Z"}
    content = json.dumps(record("run_a", "queued", "2026-03-01T00:00:00Z")) + "\n" + json.dumps(typo) + "\n"
    instance, _ = first_ingest_through_the_sensor(definitions, data_dir, content)
    refresh = runs_refresh_sensor(context(instance, data_dir))
    assert isinstance(refresh, dg.SensorResult)
    results = [launch(definitions, instance, data_dir, request) for request in refresh.run_requests]
    assert all(result.success for result in results)
    metadata = {
        event.asset_key.to_user_string(): event.materialization.metadata
        for result in results
        for event in result.get_asset_materialization_events()
        if event.asset_key.to_user_string() in ("stuck_runs", "workflow_regressions", "error_signatures")
    }
    assert metadata["stuck_runs"]["runs_after_ingest"].value == 1
    assert metadata["workflow_regressions"]["runs_after_ingest"].value == 1
    assert "runs_after_ingest" not in metadata["error_signatures"] and "rows_written" in metadata["error_signatures"]
    logged = [entry.user_message or "" for result in results for entry in instance.all_logs(result.run_id)]
    assert sum("1 run(s) dated more than an hour after their ingest" in message for message in logged) == 1, logged


def test_export_sensor_counts_no_run_whose_ingest_succeeded_towards_giving_up(
    data_dir: Path, definitions: dg.Definitions
) -> None:
    """Two ingest runs that failed on a blocking check after their ingest step committed their files, then one
    cancelled while queued: the sensor counted three failures in a row and never requested the third run's file,
    which nothing had read, with no word (found by a review). Only runs whose ingest step did not succeed count."""
    exports_dir = data_dir / "exports"
    line = json.dumps(record("run_a", "queued", "2026-03-01T00:00:00Z"))
    instance, tick = first_ingest_through_the_sensor(definitions, data_dir, line + "\nnot json\n")
    (quarantine,) = [
        p for p in (data_dir / "lake" / "ingest").glob("*/quarantine.parquet") if pq.read_metadata(p).num_rows
    ]
    pq.write_table(pq.read_table(quarantine).slice(1), quarantine)  # ingest_reconciles now fails every ingest run
    for name in ("b", "c"):
        (exports_dir / f"{name}.jsonl").write_text(json.dumps(record(f"run_{name}", "queued", "2026-03-04T00:00:00Z")))
        tick = run(export_files_sensor, context(instance, data_dir, tick.cursor))
        apply(instance, tick)
        failed = launch(definitions, instance, data_dir, tick.run_requests[0])
        assert not failed.success and check_results(failed)["ingest_reconciles"] is False
    (exports_dir / "d.jsonl").write_text(json.dumps(record("run_d", "queued", "2026-03-05T00:00:00Z")))
    tick = run(export_files_sensor, context(instance, data_dir, tick.cursor))
    apply(instance, tick)
    cancel(instance, dict(tick.run_requests[0].tags), CANCELLATIONS["canceled before it started"])
    again = run(export_files_sensor, context(instance, data_dir, tick.cursor))
    (retry,) = again.run_requests
    assert (retry.tags[RANGE_START], retry.tags[RANGE_END]) == ("d.jsonl", "d.jsonl")


def test_export_sensor_retries_a_failed_run_once_and_then_hashes_nothing_it_has_seen(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a failed ingest run whose files were ingested meanwhile (by `runlens run`, or by the run itself before
    it failed), the next tick finds nothing to request; the ticks after it hashed every export again, for as long as
    no new export came, because nothing reset the retry (found by a review). A tick now retries a failed run once."""
    exports = data_dir / "exports"
    (exports / "a.json").write_text(json.dumps([record("run_a", "queued", "2026-03-01T00:00:00Z")]))
    instance = dg.DagsterInstance.ephemeral()
    first = run(export_files_sensor, context(instance, data_dir))
    (request,) = first.run_requests
    apply(instance, first)
    instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.FAILURE, tags=dict(request.tags)))
    settings = Settings.from_env(data_dir)
    ingest_file(exports / "a.json", settings, RecordValidator.from_file(settings.schema_path), "a.json")
    hashed: list[str] = []
    digest = runlens_ingest.file_sha256

    def counted(path: Path) -> str:
        hashed.append(path.name)
        return digest(path)

    monkeypatch.setattr(runlens_ingest, "file_sha256", counted)
    retried = run(export_files_sensor, context(instance, data_dir, first.cursor))
    assert retried.run_requests == [] and hashed == ["a.json"], "the retry looks at every file once"
    hashed.clear()
    later = run(export_files_sensor, context(instance, data_dir, retried.cursor))
    assert later.run_requests == [] and hashed == []
    (exports / "b.json").write_text(json.dumps([record("run_b", "queued", "2026-03-01T01:00:00Z")]))
    newer = run(export_files_sensor, context(instance, data_dir, later.cursor))
    assert added_keys(newer) == ["b.json"] and hashed == ["b.json"]


CANCELLATIONS = {
    "canceled before it started": [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.CANCELED],
    "canceled while it ran": [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED],
    "still canceling": [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING],
}


def cancel(instance: dg.DagsterInstance, tags: dict[str, str], statuses: list[dg.DagsterRunStatus]) -> str:
    """A run with ``tags`` taken through ``statuses`` as the UI's terminate does (the first is the status it is
    created with); returns its id."""
    run = instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", status=statuses[0], tags=tags))
    for status in statuses[1:]:
        if status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceling(run)
        else:
            instance.report_run_canceled(run)
        run = instance.get_run_by_id(run.run_id) or run
    assert run.status == statuses[-1]
    return run.run_id


@pytest.mark.parametrize("how", CANCELLATIONS)
def test_export_sensor_requests_again_after_its_ingest_run_was_canceled(data_dir: Path, how: str) -> None:
    """An ingest run cancelled from the UI (before it started, while it ran, or still canceling) ingested its files
    at most in part: the next tick requests them again, as after a failed run. They used to stay in the cursor, and
    no tick looked at them again until they changed."""
    (data_dir / "exports" / "a.json").write_text(json.dumps([record("run_a", "queued", "2026-03-01T00:00:00Z")]))
    instance = dg.DagsterInstance.ephemeral()
    first = run(export_files_sensor, context(instance, data_dir))
    (request,) = first.run_requests
    apply(instance, first)
    assert run(export_files_sensor, context(instance, data_dir, first.cursor)).run_requests == []

    cancel(instance, dict(request.tags), CANCELLATIONS[how])
    again = run(export_files_sensor, context(instance, data_dir, first.cursor))
    (retry,) = again.run_requests
    assert (retry.tags[RANGE_START], retry.tags[RANGE_END]) == ("a.json", "a.json")


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


def launch(
    definitions: dg.Definitions,
    instance: dg.DagsterInstance,
    data_dir: Path,
    request: dg.RunRequest | None = None,
    selection: list[str] | dg.AssetSelection | None = None,
) -> dg.ExecuteInProcessResult:
    """What the daemon does with a run request (its selection, tags and config), in process; or runs ``selection``."""
    if request is not None:
        selection = [key.to_user_string() for key in request.asset_selection or []]
    return dg.materialize(
        [*definitions.assets, *definitions.asset_checks],
        selection=selection,
        instance=instance,
        tags=dict(request.tags) if request else None,
        run_config=request.run_config if request else None,
        resources={"runlens": RunlensResource(data_dir=str(data_dir))},
        raise_on_error=False,
    )


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}


def first_ingest_through_the_sensor(
    definitions: dg.Definitions, data_dir: Path, content: str
) -> tuple[dg.DagsterInstance, dg.SensorResult]:
    """A new instance where the export sensor's first tick requested the ingest of ``exports/a.jsonl`` (holding
    ``content``), and that run succeeded; returns the instance and the tick."""
    (data_dir / "exports" / "a.jsonl").write_text(content)
    instance = dg.DagsterInstance.ephemeral()
    tick = run(export_files_sensor, context(instance, data_dir))
    apply(instance, tick)
    assert launch(definitions, instance, data_dir, tick.run_requests[0]).success
    return instance, tick


def test_refresh_sensor_holds_back_while_a_blocking_ingest_check_fails(
    data_dir: Path, definitions: dg.Definitions
) -> None:
    """An ingest run whose blocking ingest_reconciles check fails stops there, as `runlens run` does: the refresh
    sensor requests nothing (and says why) until the check passes again, and then plans the new export's day."""
    exports_dir = data_dir / "exports"
    line = json.dumps(record("run_a", "queued", "2026-03-01T00:00:00Z"))
    instance, tick = first_ingest_through_the_sensor(definitions, data_dir, line + "\nnot json\n")
    refresh = runs_refresh_sensor(context(instance, data_dir))
    assert isinstance(refresh, dg.SensorResult)
    assert all(launch(definitions, instance, data_dir, request).success for request in refresh.run_requests)
    applied = runs_applied(data_dir)
    assert applied > 0

    # one quarantined record goes missing from the lake: the ingest log no longer adds up
    (quarantine,) = [
        p for p in (data_dir / "lake" / "ingest").glob("*/quarantine.parquet") if pq.read_metadata(p).num_rows
    ]
    whole = pq.read_table(quarantine)
    pq.write_table(whole.slice(1), quarantine)
    (exports_dir / "b.jsonl").write_text(json.dumps(record("run_b", "queued", "2026-03-04T00:00:00Z")) + "\n")
    tick = run(export_files_sensor, context(instance, data_dir, tick.cursor))
    apply(instance, tick)
    ingest = launch(definitions, instance, data_dir, tick.run_requests[0])
    assert not ingest.success and check_results(ingest)["ingest_reconciles"] is False

    held = runs_refresh_sensor(context(instance, data_dir))
    assert isinstance(held, dg.SkipReason), "a refresh was requested after its ingest's blocking check failed"
    assert "ingest_reconciles" in (held.skip_message or "") and "a.jsonl" in (held.skip_message or "")
    assert runs_applied(data_dir) == applied

    pq.write_table(whole, quarantine)  # mended; the check is executed again (from the UI, or by the next ingest)
    checks = launch(definitions, instance, data_dir, selection=dg.AssetSelection.checks_for_assets("ingested_exports"))
    assert check_results(checks)["ingest_reconciles"] is True
    assert refresh_days(runs_refresh_sensor(context(instance, data_dir))) == ["2026-03-04"]


def second_ingest_committed_before_its_checks(
    definitions: dg.Definitions, data_dir: Path
) -> tuple[dg.DagsterInstance, str]:
    """a.jsonl (2026-03-01) ingested through the sensor and its checks; then b.jsonl (2026-03-04) requested by the
    sensor and committed by a run left started, whose blocking checks Dagster recorded as planned and which has yet
    to evaluate them. Returns the instance and that run's id."""
    exports_dir = data_dir / "exports"
    line = json.dumps(record("run_a", "queued", "2026-03-01T00:00:00Z"))
    instance, tick = first_ingest_through_the_sensor(definitions, data_dir, line + "\n")
    assert refresh_days(runs_refresh_sensor(context(instance, data_dir))) == ["2026-03-01"]

    (exports_dir / "b.jsonl").write_text(json.dumps(record("run_b", "queued", "2026-03-04T00:00:00Z")) + "\n")
    tick = run(export_files_sensor, context(instance, data_dir, tick.cursor))
    apply(instance, tick)
    run_id = cancel(instance, dict(tick.run_requests[0].tags), [dg.DagsterRunStatus.STARTED])
    for key in BLOCKING_INGEST_CHECKS:  # what Dagster records for a run's checks when it creates the run
        planned = AssetCheckEvaluationPlanned(asset_key=key.asset_key, check_name=key.name)
        event = DagsterEvent(
            DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value, "__ASSET_JOB", event_specific_data=planned
        )
        instance.report_dagster_event(event, run_id)
    settings = Settings.from_env(data_dir)
    ingest_file(exports_dir / "b.jsonl", settings, RecordValidator.from_file(settings.schema_path), "b.jsonl")
    return instance, run_id


def test_refresh_sensor_holds_back_after_an_ingest_run_canceled_before_its_checks(
    data_dir: Path, definitions: dg.Definitions
) -> None:
    """An ingest run cancelled from the UI after it committed a file but before its blocking checks were evaluated
    holds the refresh back as a failed one does: the ingest is not known to reconcile. It used to be taken as a run
    that finished without evaluating the check, and the refresh planned the new file's day."""
    instance, run_id = second_ingest_committed_before_its_checks(definitions, data_dir)
    run_record = instance.get_run_by_id(run_id)
    assert run_record is not None
    instance.report_run_canceled(run_record)

    held = runs_refresh_sensor(context(instance, data_dir))
    assert isinstance(held, dg.SkipReason), "a refresh was requested after its ingest run was canceled"
    assert "ingest_reconciles" in (held.skip_message or "") and run_id in (held.skip_message or "")

    checks = launch(definitions, instance, data_dir, selection=dg.AssetSelection.checks_for_assets("ingested_exports"))
    assert check_results(checks)["ingest_reconciles"] is True
    assert refresh_days(runs_refresh_sensor(context(instance, data_dir))) == ["2026-03-01", "2026-03-04"]


def runs_applied(data_dir: Path) -> int:
    state = data_dir / "lake" / "state" / "runs.json"
    return json.loads(state.read_text())["applied_ingest_seq"] if state.exists() else 0


def ingested(data_dir: Path) -> list[tuple[str, str, int, int]]:
    """Each file reading the lake holds: (source file, format, valid records, quarantined records)."""
    logs = [pq.read_table(p).to_pylist()[0] for p in (data_dir / "lake" / "ingest").glob("*/ingest_log.parquet")]
    return sorted((r["source_file"], r["format"], r["records_valid"], r["records_quarantined"]) for r in logs)


def test_export_sensor_reads_a_second_reading_of_the_same_bytes_as_runlens_run_does(
    tmp_path: Path, data_dir: Path, definitions: dg.Definitions, run_cli: CliRunner
) -> None:
    """Gzip bytes under a plain name and the same bytes named .jsonl.gz, found in one tick: only the first file (path
    order) is requested, and the other must not be remembered as seen, or no later tick would look at it again. The
    sensor ends where repeated `runlens run`s end: both readings ingested."""
    lines = "".join(json.dumps(record(f"run_{i}", "queued", "2026-03-01T00:00:00Z")) + "\n" for i in range(3))
    packed = gzip.compress(lines.encode())
    elsewhere = tmp_path / "by-runlens-run"
    for root in (data_dir, elsewhere):
        (root / "exports").mkdir(parents=True, exist_ok=True)
        (root / "exports" / "g.json").write_bytes(packed)
        (root / "exports" / "g.jsonl.gz").write_bytes(packed)

    instance = dg.DagsterInstance.ephemeral()
    cursor = None
    requested: list[list[str]] = []
    for _ in range(4):
        tick = run(export_files_sensor, context(instance, data_dir, cursor))
        apply(instance, tick)
        cursor = tick.cursor
        for request in tick.run_requests:
            requested.append([request.tags[RANGE_START], request.tags[RANGE_END]])
            assert launch(definitions, instance, data_dir, request).success
    assert requested == [["g.json", "g.json"], ["g.jsonl.gz", "g.jsonl.gz"]]

    for _ in range(3):
        assert run_cli("run", "--data-dir", elsewhere).code == 0
    assert ingested(elsewhere)[-1][:2] == ("g.jsonl.gz", "ndjson.gz") and ingested(elsewhere)[-1][2] == 3
    assert ingested(data_dir) == ingested(elsewhere)


def test_a_refresh_planned_before_a_newer_one_finished_does_not_move_the_applied_marker_back(
    data_dir: Path, definitions: dg.Definitions, run_cli: CliRunner
) -> None:
    """The sensor plans a refresh for export 1; before its runs are launched, `runlens run` ingests export 2 and
    refreshes both. The sensor's plan then finishes: it must not record only export 1 as applied, or every later
    tick would plan export 2's days again."""
    exports_dir = data_dir / "exports"
    (exports_dir / "1.jsonl").write_text(json.dumps(record("run_1", "queued", "2026-03-01T00:00:00Z")) + "\n")
    settings = Settings.from_env(data_dir)
    ingest_file(exports_dir / "1.jsonl", settings, RecordValidator.from_file(settings.schema_path), "1.jsonl")
    instance = dg.DagsterInstance.ephemeral()
    planned = runs_refresh_sensor(context(instance, data_dir))
    assert isinstance(planned, dg.SensorResult)

    (exports_dir / "2.jsonl").write_text(json.dumps(record("run_2", "queued", "2026-03-09T00:00:00Z")) + "\n")
    assert run_cli("run", "--data-dir", data_dir).code == 0
    both = runs_applied(data_dir)
    assert isinstance(runs_refresh_sensor(context(instance, data_dir)), dg.SkipReason)

    assert all(launch(definitions, instance, data_dir, request).success for request in planned.run_requests)
    assert runs_applied(data_dir) == both
    up_to_date = runs_refresh_sensor(context(instance, data_dir))
    assert isinstance(up_to_date, dg.SkipReason), "the days of export 2 were planned again"


@pytest.mark.parametrize("only_days", [False, True])
def test_each_fleet_metric_table_can_be_materialized_alone(
    data_dir: Path, definitions: dg.Definitions, run_cli: CliRunner, only_days: bool
) -> None:
    """`dagster asset materialize --select stuck_runs` refreshes that table alone, to what the full refresh wrote,
    and leaves the other metric tables' files as they were (with only_days too)."""
    assert run_cli("generate", "--out", data_dir / "exports", "--runs", "400", "--days", "10").code == 0
    assert run_cli("run", "--data-dir", data_dir).code == 0
    metrics_dir = data_dir / "lake" / "metrics"
    before = {p: p.read_bytes() for p in metrics_dir.rglob("*.parquet")}
    for name in ("stuck_runs", "error_signatures"):
        table = metrics_dir / name / "data.parquet"
        written = pq.read_table(table)
        assert written.num_rows > 0, f"the generated lake has {name}"
        table.unlink()
        config = {"ops": {"reliability_tables": {"config": {"only_days": ["2026-03-01"]}}}} if only_days else None
        result = dg.materialize(
            [*definitions.assets, *definitions.asset_checks],
            selection=[name],
            instance=dg.DagsterInstance.ephemeral(),
            run_config=config,
            resources={"runlens": RunlensResource(data_dir=str(data_dir))},
        )
        assert [m.asset_key.to_user_string() for m in result.get_asset_materialization_events()] == [name]
        assert pq.read_table(table).equals(written)
    after = {p: p.read_bytes() for p in metrics_dir.rglob("*.parquet")}
    assert after.keys() == before.keys()
    tables = [p for p in before if "_partial" not in p.parts]
    assert {p: after[p] for p in tables} == {p: before[p] for p in tables}


def test_no_schedule_recomputes_metrics_that_only_new_exports_change(definitions: dg.Definitions) -> None:
    """Stuck runs and regressions are as of the newest export's time, not the clock's (docs/metrics.md), so a
    schedule recomputing metric tables without new exports would only rewrite the same numbers under the lake lock;
    new exports reach them through the refresh sensor. The one schedule renders the weekly report."""
    repository = definitions.get_repository_def()
    targets = {
        schedule.name: {
            key.to_user_string() for key in repository.get_job(schedule.job_name).asset_layer.selected_asset_keys
        }
        for schedule in repository.schedule_defs
    }
    assert targets == {"weekly_reliability_report": {"reliability_report"}}


@pytest.mark.parametrize("cause", ["a stray folder in lake/runs", "a setting runlens cannot use"])
def test_a_runlens_error_fails_its_step_with_its_one_line_not_a_traceback(
    data_dir: Path, definitions: dg.Definitions, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch, cause: str
) -> None:
    """An error runlens explains in one line (what broke, where, the fix) failed a Dagster step as "Error occurred
    while executing op" over a traceback through runlens's code, the line itself at its end; `runlens run` named it
    `runlens.errors.RunlensError: ...`. The step now fails with a `dg.Failure` whose description is that line, and
    `runlens run` gives the line alone."""
    (data_dir / "exports" / "a.jsonl").write_text(json.dumps(record("run_1", "queued", "2026-03-01T10:00:00Z")))
    assert run_cli("run", "--data-dir", data_dir).code == 0
    if cause == "a stray folder in lake/runs":
        runs_dir = data_dir / "lake" / "runs"
        (runs_dir / "created_date=oops").mkdir()
        shutil.copyfile(
            runs_dir / "created_date=2026-03-01" / "data.parquet", runs_dir / "created_date=oops" / "x.parquet"
        )
        expected = (
            f"{runs_dir} holds 1 folder(s) that are not runs partitions (created_date=YYYY-MM-DD): created_date=oops;"
            " move them out of the lake (while they are there, no query can read the runs table)"
        )
    else:
        monkeypatch.setenv("RUNLENS_QUARANTINE_RATE_THRESHOLD", "lots")
        with pytest.raises(RunlensError) as raised:
            Settings.from_env(data_dir)
        expected = str(raised.value)
        assert "RUNLENS_QUARANTINE_RATE_THRESHOLD='lots'" in expected
    result = dg.materialize(
        [*definitions.assets, *definitions.asset_checks],
        selection=["stuck_runs"],
        instance=dg.DagsterInstance.ephemeral(),
        resources={"runlens": RunlensResource(data_dir=str(data_dir))},
        raise_on_error=False,
    )
    [failure] = [event for event in result.all_events if event.is_step_failure]
    data = failure.step_failure_data
    assert data is not None and data.user_failure_data is not None
    assert data.user_failure_data.description == expected
    assert data.error is not None and (data.error.cls_name, data.error.cause) == ("Failure", None)
    assert pipeline_module._first_failure(result) == f"reliability_tables: {expected}"


# Found by a mutation audit of the sensors: an older cursor read as no cursor, a failed run counted past a run that
# succeeded, and an ingest run whose blocking checks are still to come all went unseen.


def test_export_sensor_takes_an_earlier_versions_cursor_as_the_files_it_has_seen(data_dir: Path) -> None:
    """A cursor written before the sensor remembered the run it retried holds the files' signatures alone: a file it
    names, unchanged, is not requested again (its ingest run may still be queued); only a new file is."""
    exports = data_dir / "exports"
    (exports / "a.json").write_text(json.dumps([record("run_a", "queued", "2026-03-01T00:00:00Z")]))
    instance = dg.DagsterInstance.ephemeral()
    first = run(export_files_sensor, context(instance, data_dir))
    assert added_keys(first) == ["a.json"]
    apply(instance, first)
    earlier = json.dumps(json.loads(first.cursor or "{}")["files"])  # key -> [size, mtime, ctime], nothing else
    (exports / "b.json").write_text(json.dumps([record("run_b", "queued", "2026-03-01T01:00:00Z")]))
    upgraded = run(export_files_sensor, context(instance, data_dir, earlier))
    (request,) = upgraded.run_requests
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("b.json", "b.json")


def test_export_sensor_retries_nothing_once_a_newer_ingest_run_succeeded(data_dir: Path) -> None:
    """Its run for a.json failed, the retry succeeded; then b.json is requested and its run has not started yet. Only
    runs that did not ingest, newest first and in a row, count: the old failure behind the success must not make
    the next tick request b.json a second time."""
    exports = data_dir / "exports"
    settings = Settings.from_env(data_dir)
    validator = RecordValidator.from_file(settings.schema_path)
    (exports / "a.json").write_text(json.dumps([record("run_a", "queued", "2026-03-01T00:00:00Z")]))
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor: str | None) -> dg.SensorResult:
        result = run(export_files_sensor, context(instance, data_dir, cursor))
        apply(instance, result)
        return result

    def request_ends(result: dg.SensorResult) -> list[tuple[str, str]]:
        return [(request.tags[RANGE_START], request.tags[RANGE_END]) for request in result.run_requests]

    def runs_as(result: dg.SensorResult, status: dg.DagsterRunStatus) -> None:
        (request,) = result.run_requests
        instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", status=status, tags=dict(request.tags)))

    first = tick(None)
    runs_as(first, dg.DagsterRunStatus.FAILURE)
    retried = tick(first.cursor)
    assert request_ends(retried) == [("a.json", "a.json")]
    runs_as(retried, dg.DagsterRunStatus.SUCCESS)
    ingest_file(exports / "a.json", settings, validator, "a.json")  # what that run did
    (exports / "b.json").write_text(json.dumps([record("run_b", "queued", "2026-03-01T01:00:00Z")]))
    newer = tick(retried.cursor)
    assert request_ends(newer) == [("b.json", "b.json")]
    runs_as(newer, dg.DagsterRunStatus.NOT_STARTED)
    assert tick(newer.cursor).run_requests == [], "b.json was requested again before its run started"


def test_refresh_sensor_holds_back_while_the_ingest_run_that_evaluates_its_checks_still_runs(
    data_dir: Path, definitions: dg.Definitions
) -> None:
    """An ingest run that committed a file and has yet to evaluate its blocking checks: the refresh waits for them
    (and says which run it waits for) rather than planning the file's day; once the checks pass, it plans it."""
    instance, run_id = second_ingest_committed_before_its_checks(definitions, data_dir)

    held = runs_refresh_sensor(context(instance, data_dir))
    assert isinstance(held, dg.SkipReason), "a refresh was requested before its ingest's blocking checks ran"
    assert held.skip_message == (
        f"the blocking check ingest_reconciles on ingested_exports is still to be evaluated in run {run_id} (started)"
    )

    checks = launch(definitions, instance, data_dir, selection=dg.AssetSelection.checks_for_assets("ingested_exports"))
    assert check_results(checks)["ingest_reconciles"] is True
    assert refresh_days(runs_refresh_sensor(context(instance, data_dir))) == ["2026-03-01", "2026-03-04"]


def test_a_failing_checks_result_counts_every_row_and_tables_the_examples_it_keeps() -> None:
    """25 duplicated run ids, of which the query kept 20 as examples: the description quotes the first three and says
    how many more; the metadata counts all 25, says 20 are shown, and tables them (a header, a separator of one
    cell per column, a row each), as the Dagster UI renders it."""
    from runlens.defs import checks
    from runlens.invariants import Violations

    rows = [(f"run_{i:02}", 2) for i in range(20)]
    result = checks._result(Violations(25, ["run_id", "copies"], rows), "run id(s) in more than one row of runs")
    assert not result.passed
    assert result.description == (
        "25 run id(s) in more than one row of runs: (run_id=run_00, copies=2), (run_id=run_01, copies=2), "
        "(run_id=run_02, copies=2), 22 more"
    )
    assert (result.metadata["violations"].value, result.metadata["examples_shown"].value) == (25, 20)
    table = result.metadata["examples"].value.splitlines()
    assert table == ["| run_id | copies |", "|---|---|", *(f"| run_{i:02} | 2 |" for i in range(20))]


def test_materializing_one_day_of_runs_rebuilds_that_day_and_leaves_the_next_one_alone(
    data_dir: Path, definitions: dg.Definitions, run_cli: CliRunner
) -> None:
    """`dagster asset materialize --select runs --partition 2026-03-01` (no only_days): that day's partition is
    rebuilt, and its metadata counts that day's runs; the next day's file is not rewritten."""
    created = ["2026-03-01T10:00:00Z", "2026-03-01T23:59:59Z", "2026-03-02T00:00:00Z"]
    lines = [json.dumps(record(f"run_{i}", "queued", at)) for i, at in enumerate(created)]
    (data_dir / "exports" / "a.jsonl").write_text("\n".join(lines) + "\n")
    assert run_cli("run", "--data-dir", data_dir).code == 0
    next_day = data_dir / "lake" / "runs" / "created_date=2026-03-02" / "data.parquet"
    before = next_day.stat()
    result = dg.materialize(
        [*definitions.assets, *definitions.asset_checks],
        selection=["runs"],
        partition_key="2026-03-01",
        instance=dg.DagsterInstance.ephemeral(),
        resources={"runlens": RunlensResource(data_dir=str(data_dir))},
    )
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert (metadata["days_rebuilt"].value, metadata["rows_written"].value) == (1, 2)
    after = next_day.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_export_sensor_names_what_it_could_not_read_in_path_order(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, unlistable: set[Path]
) -> None:
    """A file it could not hash (a.json) and a folder it could not list (b/) are named together in path order, the
    file first, whichever step found them."""
    exports_dir = data_dir / "exports"
    (exports_dir / "b").mkdir()
    (exports_dir / "a.json").write_text(json.dumps([record("run_a", "queued", "2026-03-01T00:00:00Z")]))
    (exports_dir / "b" / "c.json").write_text(json.dumps([record("run_c", "queued", "2026-03-01T00:00:00Z")]))
    unlistable.add(Settings.from_env(data_dir).exports_dir / "b")
    cannot_hash(monkeypatch, "a.json")
    ctx = context(dg.DagsterInstance.ephemeral(), data_dir)
    warned: list[str] = []
    monkeypatch.setattr(ctx.log, "warning", warned.append)
    tick = run(export_files_sensor, ctx)
    assert tick.run_requests == []
    assert warned == [
        "export files and folders that could not be read (tried again next time): "
        "{'a.json': 'Permission denied', 'b/': 'Permission denied'}"
    ]


# Found by a mutation audit of the assets, the resource and the partitions: what the assets record in Dagster (the
# ingest's counts and preview, the daily metrics' worst workflows, the report's window and headline), the path order
# of an ingest run, the final refresh run after a failed one, and the resource's data directory went unpinned.


def ingest_through_dagster(
    definitions: dg.Definitions, data_dir: Path, keys: list[str]
) -> tuple[dg.DagsterInstance, dg.ExecuteInProcessResult]:
    """One ingest run over the export partitions ``keys``, added in that order (as the sensor and `runlens run` add
    them: path order) to a new instance, its range from the first key to the last; returns the instance and run."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("export_files", keys)
    request = dg.RunRequest(
        asset_selection=[dg.AssetKey("ingested_exports")], tags={RANGE_START: keys[0], RANGE_END: keys[-1]}
    )
    result = launch(definitions, instance, data_dir, request)
    assert result.success
    return instance, result


def test_an_ingest_run_numbers_its_files_in_path_order_not_in_the_order_of_their_partition_keys(
    data_dir: Path, definitions: dg.Definitions
) -> None:
    """`x<tab>y.jsonl` comes before `x y.jsonl` in path order (a tab sorts before a space), but its partition key is
    percent-encoded, `x%09y.jsonl`, which sorts after `x y.jsonl`: the ingest run takes the files in path order, so
    the tab's file is ingest 1 and the space's ingest 2."""
    exports = data_dir / "exports"
    names = ["x\ty.jsonl", "x y.jsonl"]  # path order
    for i, name in enumerate(names):
        (exports / name).write_text(json.dumps(record(f"run_{i}", "queued", "2026-03-01T00:00:00Z")) + "\n")
    assert ref.export_names(exports) == names
    ingest_through_dagster(definitions, data_dir, ["x%09y.jsonl", "x y.jsonl"])
    logs = [pq.read_table(p).to_pylist()[0] for p in (data_dir / "lake" / "ingest").glob("*/ingest_log.parquet")]
    assert sorted((row["ingest_seq"], row["source_file"]) for row in logs) == [(1, "x\ty.jsonl"), (2, "x y.jsonl")]


def test_an_ingest_runs_metadata_counts_its_files_and_records_and_names_what_it_did_not_read(
    data_dir: Path, definitions: dg.Definitions
) -> None:
    """`a|b.jsonl` holds 2 valid records and a line that is not JSON; `copy.jsonl` the same bytes (skipped);
    `pretty.jsonl` one pretty-printed document (not read); `gone.jsonl` is a partition whose file is no longer
    there; `z.jsonl` holds one valid record. The metadata counts the four files looked at, their 4 records read = 3
    valid + 1 quarantined and the one missing file, names the file not read with the reason, and tables each file,
    its name escaped (a `|` would split the row). Only the two files committed take an ingest number."""
    exports = data_dir / "exports"
    lines = [json.dumps(record(f"run_{i}", "queued", "2026-03-01T00:00:00Z")) for i in range(2)]
    (exports / "a|b.jsonl").write_text("\n".join([*lines, "not json"]) + "\n")
    shutil.copyfile(exports / "a|b.jsonl", exports / "copy.jsonl")
    (exports / "pretty.jsonl").write_text(json.dumps([record("run_p", "queued", "2026-03-01T00:00:00Z")], indent=2))
    (exports / "z.jsonl").write_text(json.dumps(record("run_z", "queued", "2026-03-01T00:00:00Z")) + "\n")
    keys = ["a|b.jsonl", "copy.jsonl", "gone.jsonl", "pretty.jsonl", "z.jsonl"]
    instance, result = ingest_through_dagster(definitions, data_dir, keys)
    events = result.get_asset_materialization_events()  # one per partition, alike
    assert sorted(event.partition for event in events) == keys
    metadata = {name: value.value for name, value in events[0].materialization.metadata.items()}
    assert all(event.materialization.metadata == events[0].materialization.metadata for event in events)
    not_read = metadata.pop("not_read")
    [(name, reason)] = not_read
    assert name == "pretty.jsonl" and reason.endswith(", not one record per line: rename it to .json"), reason
    assert metadata == {
        "files": 4,
        "records_read": 4,
        "records_valid": 3,
        "records_quarantined": 1,
        "missing_files": 1,
        "preview": "| file | outcome | read | valid | quarantined |\n|---|---|---|---|---|\n"
        "| a\\|b\\.jsonl | ingested | 3 | 2 | 1 |\n"
        "| copy\\.jsonl | skipped | 0 | 0 | 0 |\n"
        "| pretty\\.jsonl | unreadable | 0 | 0 | 0 |\n"
        "| z\\.jsonl | ingested | 1 | 1 | 0 |",
    }
    logs = [pq.read_table(p).to_pylist()[0] for p in (data_dir / "lake" / "ingest").glob("*/ingest_log.parquet")]
    assert sorted((row["ingest_seq"], row["source_file"]) for row in logs) == [(1, "a|b.jsonl"), (2, "z.jsonl")]
    logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert f"export files no longer present under {exports.resolve()}: gone.jsonl" in logged


def test_the_runs_and_daily_metrics_of_a_partition_recompute_the_days_asked_for_and_record_what_they_wrote(
    data_dir: Path, definitions: dg.Definitions
) -> None:
    """On 2026-03-01 `a|b` has 2 completed, 1 failed and 1 queued run (3 finished, 1 failed: 33.3%), `wf-ok` 2
    completed (0.0%), `wf-q` 1 queued; `wf-q` has one more queued run on 2019-12-31, before the partitions' start.
    Materialized as the partition 2026-03-01 with the days 2019-12-31, 2026-03-01 and 2026-03-02 (as a refresh
    passes a day the partitions cannot name), both assets recompute those 3 days, not the partition's one: runs
    writes 1 + 7 + 0 rows, the daily metrics 1 + 3 rows, and their metadata says so, with the table of the worst
    workflows over those days (worst rate first, one without a finished run last, names escaped)."""
    runs_of = {"a|b": ["completed", "completed", "failed", "queued"], "wf-ok": ["completed"] * 2, "wf-q": ["queued"]}
    records = [
        record(f"run_{w}{i}", status, "2026-03-01T10:00:00Z")
        | {"workflowName": name}
        | ({"completedAt": "2026-03-01T10:01:00Z"} if status in ("completed", "failed") else {})
        | ({"error": "boom"} if status == "failed" else {})
        for w, (name, statuses) in enumerate(runs_of.items())
        for i, status in enumerate(statuses)
    ]
    records.append(record("run_old", "queued", "2019-12-31T10:00:00Z") | {"workflowName": "wf-q"})
    (data_dir / "exports" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    settings = Settings.from_env(data_dir)
    ingest_file(data_dir / "exports" / "a.jsonl", settings, RecordValidator.from_file(settings.schema_path), "a.jsonl")
    days = ["2019-12-31", "2026-03-01", "2026-03-02"]
    result = dg.materialize(
        [*definitions.assets, *definitions.asset_checks],
        selection=["runs", DAILY],
        partition_key="2026-03-01",
        instance=dg.DagsterInstance.ephemeral(),
        resources={"runlens": RunlensResource(data_dir=str(data_dir))},
        run_config={"ops": {op: {"config": {"only_days": days}} for op in ("runs", DAILY)}},
    )
    recorded = {
        e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    assert {name: value.value for name, value in recorded["runs"].items()} == {
        "days_rebuilt": 3,  # 2026-03-02 too, which has no run: rebuilt as no partition
        "rows_written": 8,
        "preview": "| created_date | runs |\n|---|---|\n| 2019-12-31 | 1 |\n| 2026-03-01 | 7 |\n| 2026-03-02 | 0 |",
    }
    assert {name: value.value for name, value in recorded[DAILY].items()} == {
        "days": 3,
        "rows_written": 4,
        "worst_workflows": "| workflow | finished | failed | failure rate |\n|---|---|---|---|\n"
        "| a\\|b | 3 | 1 | 33.3% |\n"
        "| wf\\-ok | 2 | 0 | 0.0% |\n"
        "| wf\\-q | 0 | 0 | - |",
    }


def test_todays_runs_have_a_partition_and_the_partitions_start_on_2020_01_01() -> None:
    """The days partitions end with today (UTC), so that the runs created today can be materialized and a refresh's
    range reaching today names a partition; they start on 2020-01-01, where a refresh's earlier days ride along."""
    from runlens.defs.partitions import days

    before = datetime.now(UTC).date().isoformat()
    last = days.get_last_partition_key()
    assert last in (before, datetime.now(UTC).date().isoformat())
    assert days.get_first_partition_key() == "2020-01-01"


def test_a_fleet_table_materialized_without_only_days_is_computed_from_every_day_of_runs(
    data_dir: Path, definitions: dg.Definitions
) -> None:
    """`dagster asset materialize --select workflow_hourly_throughput`, no only_days: the table is computed from
    every runs partition, and written whole again once its files are gone. wf's runs finished at 10:01 (completed)
    and 10:30 (failed) on 2026-03-01 and at 11:00 on 2026-03-02: one row per hour of completion."""
    records = [
        record("run_1", "completed", "2026-03-01T09:00:00Z") | {"completedAt": "2026-03-01T10:01:00Z"},
        record("run_2", "failed", "2026-03-01T09:00:00Z") | {"completedAt": "2026-03-01T10:30:00Z", "error": "boom"},
        record("run_3", "completed", "2026-03-02T09:00:00Z") | {"completedAt": "2026-03-02T11:00:00Z"},
    ]
    (data_dir / "exports" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    settings = Settings.from_env(data_dir)
    ingest_file(data_dir / "exports" / "a.jsonl", settings, RecordValidator.from_file(settings.schema_path), "a.jsonl")
    runs_table.rebuild_days(settings.lake_dir, runs_table.all_days(settings.lake_dir))
    table = settings.lake_dir / "metrics" / "workflow_hourly_throughput"

    def materialized() -> list[tuple[Any, ...]]:
        dg.materialize(
            [*definitions.assets, *definitions.asset_checks],
            selection=["workflow_hourly_throughput"],
            instance=dg.DagsterInstance.ephemeral(),
            resources={"runlens": RunlensResource(data_dir=str(data_dir))},
        )
        with duckdb.connect() as con:
            con.execute("set TimeZone = 'UTC'")
            query = "select workflow_name, hour, finished, completed, failed, day::varchar from read_parquet($glob)"
            return con.execute(query + " order by hour", {"glob": str(table / "*" / "*.parquet")}).fetchall()

    expected = [
        ("wf", datetime(2026, 3, 1, 10, tzinfo=UTC), 2, 1, 1, "2026-03-01"),
        ("wf", datetime(2026, 3, 2, 11, tzinfo=UTC), 1, 1, 0, "2026-03-02"),
    ]
    assert materialized() == expected
    shutil.rmtree(table)
    assert materialized() == expected


def test_the_report_asset_reviews_seven_days_and_records_the_window_and_the_headline_numbers_it_has(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The asset renders the review of the last 7 days to `<data dir>/reports/reliability-review.html`, logs what
    the rendering says as warnings, and records the page's path, the window as "since .. until (UTC)" and each
    current-window headline number it has (an integer as one, a rate as a float; a number the window lacks is left
    out). The rendering is replaced by one returning a headline written here."""
    from runlens.defs.assets import report as report_asset
    from runlens.report import ReportResult

    settings = Settings.from_env(data_dir)
    settings.warehouse_path.touch()  # unreadable as a warehouse: left to the rendering, as refuse_foreign says
    window = {
        "since": "2026-02-22T10:00:00.000001+00:00",
        "until": "2026-03-01T10:00:00.000001+00:00",
        "previous_since": "2026-02-15T10:00:00.000001+00:00",
        "workflows": [],
        "min_runs": 20,
    }
    calls: list[tuple[Path, Path, int | None]] = []

    def render(warehouse: Path, out: Path, *, days: int | None, echo: Any) -> ReportResult:
        calls.append((warehouse, out, days))
        echo("a warning of the rendering")
        return ReportResult(out, {"window": window, "current": {"runs": 40, "failure_rate": 0.25, "p95_s": None}})

    monkeypatch.setattr(report_asset, "render_report", render)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [report_asset.reliability_report],
        resources={"runlens": RunlensResource(data_dir=str(data_dir))},
        instance=instance,
    )
    assert calls == [(settings.warehouse_path, settings.data_dir / "reports" / "reliability-review.html", 7)]
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert {name: value.value for name, value in metadata.items()} == {
        "path": str(settings.data_dir / "reports" / "reliability-review.html"),
        "window": "2026-02-22T10:00:00.000001+00:00 .. 2026-03-01T10:00:00.000001+00:00 (UTC)",
        "runs": 40,
        "failure_rate": 0.25,
    }
    assert isinstance(metadata["runs"], dg.IntMetadataValue)
    assert isinstance(metadata["failure_rate"], dg.FloatMetadataValue)
    logged = [(e.level, e.user_message) for e in instance.all_logs(result.run_id) if e.user_message]
    assert (logging.WARNING, "a warning of the rendering") in logged


def test_the_final_run_of_a_refresh_plan_one_of_whose_runs_failed_marks_nothing_applied(
    data_dir: Path, definitions: dg.Definitions
) -> None:
    """A run of the plan failed before its final run: that run still succeeds, but records no ingest as applied (it
    says so in its log), so the next tick plans the same day again; recorded, the failed run's days would never be
    rebuilt. Its warehouse metadata names the relations the warehouse holds (the views over the lake among them)."""
    exports = data_dir / "exports"
    (exports / "1.jsonl").write_text(json.dumps(record("run_1", "queued", "2026-03-01T10:00:00Z")))
    settings = Settings.from_env(data_dir)
    ingest_file(exports / "1.jsonl", settings, RecordValidator.from_file(settings.schema_path), "1.jsonl")
    instance = dg.DagsterInstance.ephemeral()
    planned = runs_refresh_sensor(context(instance, data_dir))
    assert isinstance(planned, dg.SensorResult)
    [request] = planned.run_requests
    failed = dg.DagsterRun(job_name="__ASSET_JOB", status=dg.DagsterRunStatus.FAILURE, tags=dict(request.tags))
    instance.add_run(failed)
    final = launch(definitions, instance, data_dir, request)
    assert final.success
    assert runs_applied(data_dir) == 0
    logged = [entry.user_message for entry in instance.all_logs(final.run_id)]
    assert "a run of this refresh failed: its days are planned again, nothing marked applied" in logged
    assert refresh_days(runs_refresh_sensor(context(instance, data_dir))) == ["2026-03-01"]
    [warehouse] = [e for e in final.get_asset_materialization_events() if e.asset_key == dg.AssetKey("warehouse")]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        query = (
            "select view_name from duckdb_views() where not internal union all select table_name from duckdb_tables()"
        )
        relations = sorted(name for (name,) in con.execute(query).fetchall())
    assert {"runs", "quarantine", "ingest_log", "workflow_daily_metrics", "stuck_runs"} <= set(relations)
    assert warehouse.materialization.metadata["relations"].value == ", ".join(relations)


def test_the_code_locations_resource_reads_runlens_data_dir_each_time_a_run_asks(
    tmp_path: Path, isolated_env: Path, definitions: dg.Definitions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The definitions' one resource sets no data directory: the settings a run or tick asks for are those of
    RUNLENS_DATA_DIR as it is then (the code location's environment), not ./data nor the value at load time."""
    resource = definitions.resources["runlens"]
    assert isinstance(resource, RunlensResource)
    for name in ("first", "second"):
        monkeypatch.setenv("RUNLENS_DATA_DIR", str(tmp_path / name))
        assert resource.settings().data_dir == (tmp_path / name).resolve()
