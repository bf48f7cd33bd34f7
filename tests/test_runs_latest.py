"""The runs table: latest state per run id across exports, one UTC created_date partition per run, duration_s and
anomalies; expected rows from tests/reference.py."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import tzset
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import reference as ref
from runlens import generate, invariants, metrics, runs
from runlens.config import Settings
from runlens.contracts import RUNS_SCHEMA
from runlens.defs.checks import daily_metrics_reconcile, run_ids_unique, runs_created_date_matches
from runlens.defs.resources import RunlensResource
from runlens.errors import RunlensError
from runlens.ingest import ingest_file
from runlens.refresh import PLAN_CHECKS, DaysRefresh, plan_refresh
from runlens.validation import RecordValidator

Export = tuple[str, list[dict[str, Any]]]


def rec(run_id: str, status: str, created: str | None = "2026-03-01T10:00:00Z", **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"runId": run_id, "workflowName": more.pop("workflowName", "wf"), "status": status}
    if created is not None:
        out["createdAt"] = created
    out.update(more)
    return out


class Lake:
    """Ingests exports one after the other into a temporary lake and keeps the reference in step."""

    def __init__(self, data_dir: Path) -> None:
        self.settings = Settings.from_env(data_dir)
        self.validator = RecordValidator.from_file(self.settings.schema_path)
        self.files: list[ref.FileResult] = []
        self.seqs: list[int] = []

    def ingest(self, name: str, records: list[dict[str, Any]]) -> str:
        path = self.settings.exports_dir / name
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
        result = ingest_file(path, self.settings, self.validator, name)
        assert result.outcome == "ingested"
        (log,) = pq.read_table(self.settings.lake_dir / "ingest" / result.export_id / "ingest_log.parquet").to_pylist()
        expected = ref.ingest_file(path, name, len(self.files) + 1, log["ingested_at"])
        assert log["ingest_seq"] > max(self.seqs, default=0), "a later ingest must get a higher sequence number"
        self.seqs.append(log["ingest_seq"])
        self.files.append(expected)
        return result.export_id

    def rebuild_all(self) -> None:
        runs.rebuild_days(self.settings.lake_dir, runs.all_days(self.settings.lake_dir))

    def partition_files(self) -> dict[date, Path]:
        root = self.settings.lake_dir / "runs"
        return {
            date.fromisoformat(p.parent.name.removeprefix("created_date=")): p
            for p in root.glob("created_date=*/*.parquet")
        }

    def rows(self) -> dict[str, ref.Run]:
        """Every runs row; fails when a run id appears twice (across partitions too)."""
        out: dict[str, ref.Run] = {}
        for day, path in self.partition_files().items():
            for row in pq.read_table(path).to_pylist():
                row["created_date"] = day
                assert row["run_id"] not in out, f"{row['run_id']} appears twice"
                out[row["run_id"]] = ref.run_from_row(row)
        return out

    def expected(self) -> dict[str, ref.Run]:
        return ref.latest(ref.all_valid(self.files))


def build(data_dir: Path, exports: list[Export]) -> Lake:
    lake = Lake(data_dir)
    for name, records in exports:
        lake.ingest(name, records)
    lake.rebuild_all()
    return lake


def assert_runs_match(lake: Lake) -> dict[str, ref.Run]:
    got, expected = lake.rows(), lake.expected()
    assert got == expected
    assert set(lake.partition_files()) == {r.created_date for r in expected.values()}
    return got


def test_status_rank_wins_over_ingest_order(data_dir: Path) -> None:
    got = assert_runs_match(
        build(
            data_dir,
            [
                ("1.jsonl", [rec("run_a", "completed"), rec("run_b", "queued"), rec("run_c", "running")]),
                ("2.jsonl", [rec("run_a", "running"), rec("run_b", "running"), rec("run_c", "queued")]),
                ("3.jsonl", [rec("run_a", "queued"), rec("run_b", "queued")]),
            ],
        )
    )
    assert {k: v.status for k, v in got.items()} == {"run_a": "completed", "run_b": "running", "run_c": "running"}
    assert {v.source_file for v in got.values()} == {"1.jsonl", "2.jsonl"}


def test_completed_and_failed_conflict_keeps_the_later_and_is_flagged(data_dir: Path) -> None:
    got = assert_runs_match(
        build(
            data_dir,
            [
                (
                    "1.jsonl",
                    [
                        rec("run_x", "failed", error="first"),
                        rec("run_y", "completed"),
                        rec("run_z", "failed", error="z1"),
                    ],
                ),
                (
                    "2.jsonl",
                    [
                        rec("run_x", "completed", output={"ok": True}),
                        rec("run_y", "failed", error="second"),
                        rec("run_z", "failed", error="z2"),
                    ],
                ),
            ],
        )
    )
    assert (got["run_x"].status, got["run_y"].status, got["run_z"].error) == ("completed", "failed", "z2")
    assert "status_conflict" in got["run_x"].anomalies and "status_conflict" in got["run_y"].anomalies
    assert "status_conflict" not in got["run_z"].anomalies


def test_later_record_within_a_file_and_later_ingest_win_on_equal_rank(data_dir: Path) -> None:
    got = assert_runs_match(
        build(
            data_dir,
            [
                (
                    "1.jsonl",
                    [
                        rec("run_d", "running", input={"v": 1}),
                        rec("run_d", "running", input={"v": 2}),
                        rec("run_e", "completed", output={"v": 1}),
                        rec("run_e", "completed", output={"v": 1}),
                        rec("run_f", "completed", output={"v": 1}),
                        rec("run_f", "queued"),
                        rec("run_g", "failed", error="late", completedAt="2026-03-01T10:01:00Z"),
                        rec("run_g", "failed", error="later", completedAt="2026-03-01T10:02:00Z"),
                    ],
                ),
                ("2.jsonl", [rec("run_e", "completed", output={"v": 2})]),
            ],
        )
    )
    assert got["run_d"].input == {"v": 2}
    assert got["run_e"].output == {"v": 2} and got["run_e"].source_file == "2.jsonl"
    assert got["run_f"].status == "completed"
    assert (got["run_g"].error, got["run_g"].duration_s) == ("later", 120.0)


def test_a_run_whose_created_date_changes_ends_in_exactly_one_partition(data_dir: Path) -> None:
    lake = build(
        data_dir,
        [
            (
                "1.jsonl",
                [
                    rec("run_m", "queued", created=None),
                    rec("run_n", "queued", created="2026-03-01T23:59:59Z"),
                    rec("run_p", "completed", created="2026-03-01T08:00:00Z", completedAt="2026-03-01T09:00:00Z"),
                    rec("run_q", "running", created="2026-03-02T10:00:00Z"),
                ],
            ),
            (
                "2.jsonl",
                [
                    rec("run_m", "running", created="2026-03-04T00:00:00+05:30"),
                    rec("run_n", "running", created="2026-03-02T00:00:01Z"),
                    rec("run_p", "queued", created="2026-03-05T08:00:00Z"),
                    rec("run_q", "completed", created=None, completedAt="2026-03-03T10:00:00Z"),
                ],
            ),
        ],
    )
    got = assert_runs_match(lake)
    assert {k: v.created_date for k, v in got.items()} == {
        "run_m": date(2026, 3, 3),
        "run_n": date(2026, 3, 2),
        "run_p": date(2026, 3, 1),
        "run_q": date(2026, 3, 3),
    }
    assert got["run_q"].created_date_source == "completedAt"


def test_a_partition_that_loses_its_last_run_leaves_no_folder(data_dir: Path) -> None:
    """A run that moves to another day empties the partition it leaves: its `created_date=` folder goes too, so the
    lake holds no empty partition folder for a day without runs."""
    lake = build(data_dir, [("1.jsonl", [rec("run_l", "failed", None, completedAt="2026-03-16T10:00:00Z")])])
    runs_dir = lake.settings.lake_dir / "runs"
    assert [p.name for p in runs_dir.iterdir()] == ["created_date=2026-03-16"]
    lake.ingest("2.jsonl", [rec("run_l", "failed", "2026-03-30T10:00:00Z", completedAt="2026-03-16T10:00:00Z")])
    lake.rebuild_all()
    assert_runs_match(lake)
    assert [p.name for p in runs_dir.iterdir()] == ["created_date=2026-03-30"]


def test_duration_rules(data_dir: Path) -> None:
    got = assert_runs_match(
        build(
            data_dir,
            [
                (
                    "1.jsonl",
                    [
                        rec("run_ok", "completed", "2026-03-01T10:00:00.000001Z", completedAt="2026-03-01T10:00:01Z"),
                        rec("run_fail", "failed", "2026-03-01T10:00:00Z", completedAt="2026-03-01T11:30:00.5+01:00"),
                        rec("run_neg", "completed", "2026-03-01T10:00:00Z", completedAt="2026-03-01T09:00:00Z"),
                        rec("run_zero", "completed", "2026-03-01T10:00:00Z", completedAt="2026-03-01t10:00:00z"),
                        rec("run_nocreated", "completed", None, completedAt="2026-03-01T10:00:00Z"),
                        rec("run_nocompleted", "completed", "2026-03-01T10:00:00Z"),
                        rec("run_running", "running", "2026-03-01T10:00:00Z", completedAt="2026-03-01T10:00:09Z"),
                        rec("run_leap", "completed", "2016-12-31T23:59:59Z", completedAt="2016-12-31T23:59:60Z"),
                        # finished 0.9 s after it started, across the leap second
                        rec(
                            "run_leap_start",
                            "completed",
                            "2016-12-31T23:59:60.2Z",
                            completedAt="2017-01-01T00:00:00.1Z",
                        ),
                        rec("run_in_leap", "completed", "2016-12-31T23:59:60.2Z", completedAt="2016-12-31T23:59:60.8Z"),
                        rec("run_noerror", "failed", "2026-03-01T10:00:00Z", completedAt="2026-03-01T10:00:02Z"),
                    ],
                )
            ],
        )
    )
    durations = {k: v.duration_s for k, v in got.items()}
    assert durations == {
        "run_ok": 0.999999,
        "run_fail": 1800.5,
        "run_neg": None,
        "run_zero": 0.0,
        "run_nocreated": None,
        "run_nocompleted": None,
        "run_running": None,
        "run_leap": 0.999999,  # the leap second reads as 23:59:59.999999
        "run_leap_start": 0.100001,  # from 23:59:59.999999 to 00:00:00.1, never negative
        "run_in_leap": 0.0,
        "run_noerror": 2.0,
    }
    anomalies = {k: set(v.anomalies) for k, v in got.items()}
    assert anomalies["run_neg"] == {"completed_before_created"}
    assert anomalies["run_nocreated"] == {"missing_created_at"}
    assert anomalies["run_running"] == {"completed_at_on_unfinished"}
    assert anomalies["run_leap"] == anomalies["run_leap_start"] == anomalies["run_in_leap"] == {"leap_second"}
    assert anomalies["run_noerror"] == {"failed_without_error"}
    assert anomalies["run_ok"] == anomalies["run_zero"] == set()


def test_run_without_any_timestamp_takes_the_ingestion_date(data_dir: Path) -> None:
    got = assert_runs_match(build(data_dir, [("1.jsonl", [rec("run_t", "queued", None)])]))
    assert got["run_t"].created_date_source == "ingested_at"
    assert abs(got["run_t"].created_date - datetime.now(UTC).date()).days <= 1


def snapshot(lake: Lake) -> dict[date, tuple[int, int, int]]:
    return {day: (p.stat().st_ino, p.stat().st_mtime_ns, p.stat().st_size) for day, p in lake.partition_files().items()}


@pytest.mark.parametrize("legacy", [False, True])
def test_incremental_rebuild_touches_only_affected_days(data_dir: Path, legacy: bool) -> None:
    """By run_key (every staged file has it) or from the current runs partitions (some file predates run_key)."""
    lake = build(
        data_dir,
        [
            (
                "1.jsonl",
                [
                    rec("run_1", "queued", "2026-03-01T10:00:00Z"),
                    rec("run_2", "running", "2026-03-02T10:00:00Z"),
                    rec("run_3", "completed", "2026-03-03T10:00:00Z", completedAt="2026-03-03T10:00:05Z"),
                    rec("run_4", "queued", None),
                    rec("run_5", "completed", "2026-03-05T10:00:00Z", completedAt="2026-03-05T10:00:05Z"),
                ],
            )
        ],
    )
    assert_runs_match(lake)
    before = snapshot(lake)
    old_rows = lake.rows()
    new_records = [
        rec("run_1", "completed", "2026-03-01T10:00:00Z", completedAt="2026-03-01T10:00:03Z"),
        rec("run_4", "running", "2026-03-04T12:00:00Z"),
        rec("run_6", "queued", "2026-03-06T00:00:00-01:00"),
    ]
    export_id = lake.ingest("2.jsonl", new_records)
    new_file = lake.files[-1]
    if legacy:
        strip_run_keys(lake.settings.lake_dir, 2)
    days = runs.affected_days(lake.settings.lake_dir, [export_id])
    # What the new export can change: its records' days and the current days of the runs it mentions.
    mentioned = {r.run_id for r in new_file.valid}
    must = {r.created_date for r in new_file.valid} | {old_rows[i].created_date for i in mentioned if i in old_rows}
    assert must <= days
    runs.rebuild_days(lake.settings.lake_dir, days)
    assert_runs_match(lake)
    after = snapshot(lake)
    untouched = set(before) - must
    assert untouched == {date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 5)}
    assert {d: after[d] for d in untouched} == {d: before[d] for d in untouched}


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("moved_to", ["2026-03-02T10:00:00Z", "2026-03-30T10:00:00Z", "2026-01-05T10:00:00Z"])
def test_the_days_a_run_moves_between_are_refreshed_in_one_run(data_dir: Path, legacy: bool, moved_to: str) -> None:
    """A run filed under its completedAt's day (no createdAt), then exported with a createdAt two weeks away: the
    refresh plan rebuilds both days in one Dagster run (found by run_key, or from the current partitions when a
    staged file predates run_key); unrelated days more than a week away keep their own run. Ten weeks away, the
    days keep runs of their own, and only the final run evaluates the blocking run_ids_unique check."""
    lake = build(data_dir, [("1.jsonl", [rec("run_l", "failed", None, completedAt="2026-03-16T10:00:00Z")])])
    runs.mark_applied(lake.settings.lake_dir, lake.seqs[-1])
    lake.ingest("2.jsonl", [rec("run_l", "failed", moved_to, completedAt="2026-03-16T10:00:00Z")])
    lake.ingest("3.jsonl", [rec("run_far", "queued", "2026-05-20T10:00:00Z")])
    if legacy:
        assert strip_run_keys(lake.settings.lake_dir, 2) == 2
    plan = plan_refresh(lake.settings)
    moved = date.fromisoformat(moved_to[:10])
    together = [(sorted([moved, date(2026, 3, 16)]), False)]
    apart = [([moved], False), ([date(2026, 3, 16)], False)]
    assert [(step.days, step.final) for step in plan if isinstance(step, DaysRefresh)] == [
        *(apart if moved.month == 1 else together),
        ([date(2026, 5, 20)], True),
    ]
    assert [step.deferred_checks for step in plan] == [PLAN_CHECKS] * (len(plan) - 1) + [[]]


def test_the_final_refresh_run_recomputes_the_fleet_tables_over_every_changed_day(data_dir: Path) -> None:
    """Days more than a week apart get runs of their own, but the whole-lake metric tables are refreshed once, by
    the final run, over every changed day: over its own days only, the earlier runs' days would stay stale."""
    lake = build(
        data_dir,
        [("1.jsonl", [rec("run_a", "queued", "2026-03-02T10:00:00Z"), rec("run_b", "queued", "2026-05-20T10:00:00Z")])],
    )
    plan = plan_refresh(lake.settings)
    assert [(step.days, step.final) for step in plan if isinstance(step, DaysRefresh)] == [
        ([date(2026, 3, 2)], False),
        ([date(2026, 5, 20)], True),
    ]
    assert "reliability_tables" not in plan[0].run_config["ops"]
    assert plan[-1].run_config["ops"]["reliability_tables"]["config"]["only_days"] == ["2026-03-02", "2026-05-20"]


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_stale_export_ingested_late_never_moves_a_run_backwards(data_dir: Path, order: str) -> None:
    states = [
        rec("run_s", "queued"),
        rec("run_s", "running"),
        rec("run_s", "completed", completedAt="2026-03-01T10:05:00Z", output={"n": 1}),
    ]
    if order == "reverse":
        states.reverse()
    lake = Lake(data_dir)
    for i, state in enumerate(states):
        lake.ingest(f"{i}.jsonl", [state])
        lake.rebuild_all()
        assert_runs_match(lake)
    assert lake.rows()["run_s"].status == "completed"
    assert lake.rows()["run_s"].duration_s == 300.0


def strip_run_keys(lake_dir: Path, every: int) -> int:
    """Rewrite every ``every``-th staged file without run_key, as a lake written before that column existed."""
    stripped = 0
    for path in runs.staged_files(lake_dir)[::every]:
        pq.write_table(pq.read_table(path).drop_columns(["run_key"]), path)
        stripped += 1
    return stripped


def collide_run_keys(lake_dir: Path, keys: int) -> None:
    """Rewrite every staged file with run_key cut to ``keys`` values, so that many runs share each key."""
    for path in runs.staged_files(lake_dir):
        table = pq.read_table(path)
        shared = pc.bit_wise_and(table.column("run_key"), pa.scalar(keys - 1, pa.uint64()))
        pq.write_table(table.set_column(table.schema.get_field_index("run_key"), "run_key", shared), path)


@pytest.mark.parametrize("staged_keys", ["current", "legacy", "colliding"])
def test_full_rebuild_matches_day_by_day_rebuilds_on_generated_exports(
    data_dir: Path, staged_keys: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild of every day takes the full-rebuild path (no look-up of the runs touching the days); rebuilding
    the same lake one day at a time takes the general one (reading only the staged files whose run_key matches, or
    every file when some predate run_key), and so does a rebuild of every day in passes of two days (what a lake of
    more days than open files allows gets). All must write the same partitions, row for row, and the reference's
    rows: also when some staged files predate run_key, and when run keys are shared by many runs (a key only
    narrows the search; runs are told apart by run_id)."""
    generate.generate_exports(data_dir / "generated", runs=300, days=3, seed=11, fmt="jsonl", snapshots_per_day=4)
    lake = Lake(data_dir)
    generated: list[dict[str, Any]] = []
    for path in sorted((data_dir / "generated").iterdir()):
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        lake.ingest(path.name, records)
        generated += [r for r in records if isinstance(r, dict) and isinstance(r.get("runId"), str)]
    # Later exports that move runs to another day, contradict their final status, and re-send stale states.
    runs_seen = list({r["runId"]: r for r in generated}.values())[:60]
    moved = [rec(r["runId"], "running", "2026-11-05T01:00:00Z") for r in runs_seen[:20]]
    flipped = [
        rec(r["runId"], "failed", r.get("createdAt"), completedAt="2026-11-04T00:00:00Z", error="late failure")
        for r in runs_seen[20:40]
    ]
    stale = [rec(r["runId"], "queued", None) for r in runs_seen[40:]]
    lake.ingest("zz-1.jsonl", moved + flipped)
    lake.ingest("zz-2.jsonl", stale + [rec(r["runId"], "completed", r.get("createdAt")) for r in runs_seen[20:30]])
    lake_dir = lake.settings.lake_dir
    if staged_keys == "legacy":
        assert strip_run_keys(lake_dir, 2) > 0
    elif staged_keys == "colliding":
        collide_run_keys(lake_dir, 4)
    days = sorted(runs.all_days(lake_dir))
    assert len(days) > 2, "the general path must rebuild a strict subset of the days"
    lake.rebuild_all()
    full = {day: pq.read_table(path) for day, path in lake.partition_files().items()}
    assert_runs_match(lake)
    for path in lake.partition_files().values():
        path.unlink()
    for day in days:
        runs.rebuild_days(lake_dir, [day])
    by_day = {day: pq.read_table(path) for day, path in lake.partition_files().items()}
    assert set(by_day) == set(full)
    for day, table in full.items():
        assert by_day[day].sort_by("run_id").equals(table.sort_by("run_id")), day
    assert_runs_match(lake)
    for path in lake.partition_files().values():
        path.unlink()
    monkeypatch.setattr(runs, "_days_per_pass", lambda: 2)
    lake.rebuild_all()
    in_passes = {day: pq.read_table(path) for day, path in lake.partition_files().items()}
    assert set(in_passes) == set(full)
    for day, table in full.items():
        assert in_passes[day].sort_by("run_id").equals(table.sort_by("run_id")), day


def test_day_files_keep_each_days_rows_in_order_across_many_interleaved_batches(tmp_path: Path) -> None:
    """Rows of one day arriving in many batches, interleaved with other days, land in that day's one file in the
    order they came (the writer threads never reorder a day's pieces), without the created_date column."""
    days = [date(2026, 3, 1 + i % 5) for i in range(400)]
    rows = [
        {name: None for name in RUNS_SCHEMA.names} | {"run_id": f"run_{i}", "anomalies": [], "created_date": day}
        for i, day in enumerate(days)
    ]
    schema = RUNS_SCHEMA.append(pa.field("created_date", pa.date32()))
    table = pa.Table.from_pylist(rows, schema=schema)
    with runs.DayFiles(tmp_path) as out:
        for batch in table.to_batches(max_chunksize=7):
            out.add(batch)
    assert out.rows == {day: days.count(day) for day in set(days)}
    for day in sorted(set(days)):
        written = pq.read_table(tmp_path / f"created_date={day.isoformat()}" / "data.parquet")
        assert written.schema.equals(RUNS_SCHEMA)
        assert written.column("run_id").to_pylist() == [r["run_id"] for r in rows if r["created_date"] == day]


def write_foreign_file(lake_dir: Path, day: str, created: list[datetime | None]) -> None:
    """A runs file another writer put in partition ``day``: one queued run per created_at."""
    rows = [
        {name: None for name in RUNS_SCHEMA.names}
        | {"run_id": f"run_foreign_{day}_{i}", "workflow_name": "wf", "status": "queued", "created_at": at}
        for i, at in enumerate(created)
    ]
    pq.write_table(
        pa.Table.from_pylist(rows, schema=RUNS_SCHEMA), lake_dir / "runs" / f"created_date={day}" / "foreign.parquet"
    )


def test_created_date_check_flags_runs_outside_their_utc_day(data_dir: Path) -> None:
    """runs_created_date_matches passes on what runlens writes (stamps at both ends of a UTC day, offsets, a run
    without createdAt) and fails on runs another writer filed under another day: created on 2026-03-02 UTC (still
    2026-03-01 in New York) or 2026-03-04 UTC, in the folders of 2026-03-01 and 2026-03-05."""
    lake = build(
        data_dir,
        [
            (
                "1.jsonl",
                [
                    rec("run_first", "queued", "2026-03-01T00:00:00Z"),
                    rec("run_last", "queued", "2026-03-01T23:59:59.999999Z"),
                    rec("run_ny", "queued", "2026-03-01T22:00:00-05:00"),
                    rec("run_leap", "queued", "2026-03-05T15:59:60.5-08:00"),
                    rec("run_no_created", "completed", None, completedAt="2026-03-05T10:00:00Z"),
                ],
            )
        ],
    )
    assert_runs_match(lake)
    resource = RunlensResource(data_dir=str(data_dir))
    assert invariants.violations(lake.settings, "runs_created_date_matches").count == 0
    assert runs_created_date_matches(runlens=resource).passed

    lake_dir = lake.settings.lake_dir
    write_foreign_file(
        lake_dir,
        "2026-03-01",
        [
            datetime(2026, 3, 1, 12, tzinfo=UTC),  # in its day
            datetime(2026, 3, 2, 3, tzinfo=UTC),  # 22:00 the day before in New York
            datetime(2026, 3, 2, 4, 30, tzinfo=UTC),
            datetime(2026, 3, 2, tzinfo=UTC),  # the first instant of the next day
            None,  # not checked
        ],
    )
    write_foreign_file(lake_dir, "2026-03-05", [datetime(2026, 3, 4, 23, 59, 59, 999999, tzinfo=UTC)])

    expected = [
        (date(2026, 3, 1), 3, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 2, 4, 30, tzinfo=UTC)),
        (
            date(2026, 3, 5),
            1,
            datetime(2026, 3, 4, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2026, 3, 4, 23, 59, 59, 999999, tzinfo=UTC),
        ),
    ]
    assert invariants.violations(lake.settings, "runs_created_date_matches").examples == expected
    result = runs_created_date_matches(runlens=resource)
    assert not result.passed
    assert result.metadata["violations"].value == 2


@pytest.fixture
def machine_zone() -> Iterator[Callable[[str], None]]:
    """Move this process to another time zone (TZ); moved back after the test."""
    before = os.environ.get("TZ")

    def move(zone: str) -> None:
        os.environ["TZ"] = zone
        tzset()

    yield move
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    tzset()


@pytest.mark.parametrize("how", ["one batch", "batches of 7 rows", "on a machine in New York"])
def test_created_date_check_counts_every_partition_and_lists_the_first_twenty(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, machine_zone: Callable[[str], None], how: str
) -> None:
    """25 partitions each holding a run created the next day: the check counts all 25 (the query used to stop at
    20), keeps the first 20 in date order as examples and says how many more there are; read in batches of 7 rows,
    it counts every batch and keeps no more than 20; on a machine whose zone is not UTC, it describes instants in
    UTC (neither was tested: found by a mutation audit)."""
    if how == "batches of 7 rows":
        monkeypatch.setattr(invariants, "BATCH_ROWS", 7)
    elif how == "on a machine in New York":
        machine_zone("America/New_York")
    lake = build(data_dir, [("1.jsonl", [rec("run_1", "queued", "2026-03-01T10:00:00Z")])])
    days = [date(2026, 4, 1) + timedelta(days=i) for i in range(25)]
    for day in days:
        (lake.settings.lake_dir / "runs" / f"created_date={day}").mkdir()
        write_foreign_file(
            lake.settings.lake_dir, day.isoformat(), [datetime.combine(day + timedelta(days=1), time(), UTC)]
        )

    found = invariants.violations(lake.settings, "runs_created_date_matches")
    assert found.count == 25
    assert found.examples == [
        (
            day,
            1,
            datetime.combine(day + timedelta(days=1), time(), UTC),
            datetime.combine(day + timedelta(days=1), time(), UTC),
        )
        for day in days[:20]
    ]
    result = runs_created_date_matches(runlens=RunlensResource(data_dir=str(data_dir)))
    assert not result.passed
    assert result.metadata["violations"].value == 25
    assert result.metadata["examples_shown"].value == 20
    assert result.description == (
        "25 partition(s) holding runs created outside their UTC day: "
        "(created_date=2026-04-01, runs=1, first_created_at=2026-04-02 00:00:00+00:00, "
        "last_created_at=2026-04-02 00:00:00+00:00), "
        "(created_date=2026-04-02, runs=1, first_created_at=2026-04-03 00:00:00+00:00, "
        "last_created_at=2026-04-03 00:00:00+00:00), "
        "(created_date=2026-04-03, runs=1, first_created_at=2026-04-04 00:00:00+00:00, "
        "last_created_at=2026-04-04 00:00:00+00:00), 22 more"
    )


def test_a_stray_folder_in_runs_is_reported_by_the_checks_and_refused_by_every_reader(data_dir: Path) -> None:
    """Folders under lake/runs that hold Parquet but are not partitions (a created_date that is no date, or none)
    make DuckDB's hive partitioning fail on every query of the runs glob. The asset checks must not raise: the
    created-date check fails naming them, the others check the partitions. rebuild, the metric refresh and the
    refresh plan stop with one RunlensError naming them."""
    lake = build(
        data_dir,
        [("1.jsonl", [rec("run_1", "failed", "2026-03-01T10:00:00Z", completedAt="2026-03-01T10:05:00Z", error="x")])],
    )
    lake_dir = lake.settings.lake_dir
    metrics.refresh_metrics(lake_dir)
    partition = lake_dir / "runs" / "created_date=2026-03-01" / "data.parquet"
    for stray in ("created_date=oops", "created_date=2026-02-30", "backup", ".old"):
        (lake_dir / "runs" / stray).mkdir()
        shutil.copyfile(partition, lake_dir / "runs" / stray / "data.parquet")
    (lake_dir / "runs" / "created_date=empty").mkdir()  # no Parquet file: no reader's glob sees it

    resource = RunlensResource(data_dir=str(data_dir))
    result = runs_created_date_matches(runlens=resource)
    assert not result.passed
    assert result.description == (
        "4 folder(s) in lake/runs that are not partitions (created_date=YYYY-MM-DD): "
        ".old, backup, created_date=2026-02-30, created_date=oops"
    )
    for check in (run_ids_unique, daily_metrics_reconcile):  # they read the partitions only
        assert check(runlens=resource).passed, check

    refused = re.escape(
        f"{lake_dir / 'runs'} holds 4 folder(s) that are not runs partitions (created_date=YYYY-MM-DD): "
        ".old, backup, created_date=2026-02-30, created_date=oops; move them out of the lake"
    )
    readers: list[Callable[[], object]] = [
        lambda: runs.rebuild_days(lake_dir, {date(2026, 3, 1)}),
        lambda: metrics.refresh_metrics(lake_dir),
        lambda: plan_refresh(lake.settings),
    ]
    for reader in readers:
        with pytest.raises(RunlensError, match=refused):
            reader()
