"""Ingest of one export file: every record either staged (typed) or quarantined with its reasons, counts that add
up, UTC timestamps; expected values from tests/reference.py."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import re
import signal
import subprocess
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import reference as ref
from processes import RUNLENS
from runlens import exports, readers
from runlens import ingest as ingest_module
from runlens.config import SQL_DIR, Settings
from runlens.contracts import ANOMALIES
from runlens.ingest import IngestResult, ingest_file
from runlens.validation import RecordValidator

VALID_BASE = {"runId": "run_ok", "workflowName": "checkout", "status": "queued", "createdAt": "2026-03-01T10:00:00Z"}


@dataclass
class Ingested:
    result: IngestResult
    staged: list[dict[str, Any]]
    quarantine: list[dict[str, Any]]
    log: dict[str, Any]
    expected: ref.FileResult | None


def ingest(
    data_dir: Path,
    name: str,
    content: str | bytes,
    reference: bool = True,
    as_is: bool = False,
    validator: RecordValidator | None = None,
) -> Ingested:
    """Write ``exports/<name>`` (gzipped when the name ends in .gz, unless ``as_is``), ingest it (with a validator of
    its own unless one is given), read back the lake's three parts and compute the reference (only for well-formed
    documents: the reference splitter does not recover)."""
    data = content.encode() if isinstance(content, str) else content
    path = data_dir / "exports" / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") and not as_is else data)
    settings = Settings.from_env(data_dir)
    result = ingest_file(path, settings, validator or RecordValidator.from_file(settings.schema_path), name)
    folder = settings.lake_dir / "ingest" / result.export_id
    (log,) = pq.read_table(folder / "ingest_log.parquet").to_pylist()
    return Ingested(
        result,
        pq.read_table(folder / "staged.parquet").to_pylist(),
        pq.read_table(folder / "quarantine.parquet").to_pylist(),
        log,
        ref.ingest_file(path, name, log["ingest_seq"], log["ingested_at"]) if reference else None,
    )


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def staged_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": row["run_id"],
        "workflow_name": row["workflow_name"],
        "status": row["status"],
        "created_at": row["created_at"],
        "completed_at": row["completed_at"],
        "error": row["error"],
        "input": loads(row["input"]),
        "output": loads(row["output"]),
        "extra": loads(row["extra"]),
        "anomalies": tuple(sorted(row["anomalies"])),
        "created_date": row["created_date"],
        "created_date_source": row["created_date_source"],
        "source_file": row["source_file"],
        "index": row["record_index"],
    }


def reference_view(rec: ref.Record) -> dict[str, Any]:
    return {
        "run_id": rec.run_id,
        "workflow_name": rec.workflow_name,
        "status": rec.status,
        "created_at": rec.created_at,
        "completed_at": rec.completed_at,
        "error": rec.error,
        "input": rec.input,
        "output": rec.output,
        "extra": rec.extra,
        "anomalies": rec.anomalies,
        "created_date": rec.created_date,
        "created_date_source": rec.created_date_source,
        "source_file": rec.source_file,
        "index": rec.index,
    }


def quarantine_view(row: dict[str, Any]) -> tuple[int, int, str, frozenset[tuple[str, str]]]:
    """Schema violations as (path, keyword); a record that is not JSON as the reference's parse marker."""
    return row["record_index"], row["line"], row["raw"].strip(), ref.error_key(row["errors"])


def assert_matches_reference(got: Ingested) -> None:
    exp = got.expected
    assert exp is not None
    assert sorted(map(staged_view, got.staged), key=lambda r: r["index"]) == [reference_view(r) for r in exp.valid]
    assert sorted(map(quarantine_view, got.quarantine)) == sorted(
        (q.index, q.line, q.raw.strip(), q.errors) for q in exp.quarantined
    )
    for row in got.quarantine:
        assert row["errors"], row
        assert all(e["path"].startswith("$") and e["keyword"] and e["message"] for e in row["errors"]), row
        assert row["source_file"] == exp.name
    log = got.log
    assert (log["source_file"], log["sha256"], log["bytes"]) == (exp.name, exp.sha256, exp.size)
    assert log["records_read"] == len(exp.items) == log["records_valid"] + log["records_quarantined"]
    assert (log["records_valid"], log["records_quarantined"]) == (len(exp.valid), len(exp.quarantined))
    assert log["outcome"] == "ingested"


def line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def variant(**changes: Any) -> dict[str, Any]:
    out = dict(VALID_BASE)
    for key, value in changes.items():
        if value is ...:
            out.pop(key)
        else:
            out[key] = value
    return out


# Each of these must land in quarantine with (path, keyword) as the reference computes them.
INVALID: dict[str, Any] = {
    "workflowName number": variant(workflowName=5),
    "runId boolean": variant(runId=True),
    "createdAt number": variant(createdAt=1_793_000_000_000),
    "error number": variant(status="failed", error=42),
    "missing runId": variant(runId=...),
    "missing status and workflowName": variant(status=..., workflowName=...),
    "status not in enum": variant(status="cancelled"),
    "status upper case": variant(status="COMPLETED"),
    "status empty": variant(status=""),
    "runId dash": variant(runId="run-1"),
    "runId upper": variant(runId="RUN_1"),
    "runId bare prefix": variant(runId="run_"),
    "runId trailing newline": variant(runId="run_x\n"),
    "date-time space separator": variant(createdAt="2026-03-01 10:00:00Z"),
    "date-time offset without colon": variant(createdAt="2026-03-01T10:00:00+0530"),
    "date-time without offset": variant(createdAt="2026-03-01T10:00:00"),
    "date only": variant(createdAt="2026-03-01"),
    "date-time day 30 of February": variant(createdAt="2026-02-30T10:00:00Z"),
    "date-time hour 24": variant(createdAt="2026-03-01T24:00:00Z"),
    "leap second on the wrong minute": variant(completedAt="2026-03-01T23:58:60Z"),
    "input null": variant(input=None),
    "input array": variant(input=[{"a": 1}]),
    "output string": variant(status="completed", output="done"),
    "record null": None,
    "record array": [VALID_BASE],
    "record string": "run_1",
    "record number": 42,
}
VALID: dict[str, Any] = {
    "plain": VALID_BASE,
    "leap second": variant(status="completed", completedAt="2026-12-31T23:59:60Z"),
    "leap second with offset": variant(createdAt="2026-12-31T15:59:60.5-08:00"),
    "lower case t and z": variant(createdAt="2026-03-01t10:00:00.5z"),
    "unknown fields kept": variant(taskQueue="q-1", attempt=3, meta={"tags": ["a", "b"]}),
    "input and output objects": variant(
        status="completed",
        completedAt="2026-03-01T10:00:01Z",
        input={"a": [1, 2.5, None, True], "nested": {"ü": "数据"}},
        output={},
    ),
}
TRUNCATED = '{"runId": "run_cut", "workflowName": "checkout", "sta'
NOT_JSON = "<html><body>502 Bad Gateway</body></html>"
UNQUOTED = '{"runId": "run_x", "workflowName": "w", "status": completed}'
NAN = '{"runId": "run_nan", "workflowName": "w", "status": "queued", "input": {"x": NaN}}'


def test_reference_rejects_what_the_specification_rejects() -> None:
    """The reference itself: formats are asserted (rfc3339-validator present), deviations corrected."""
    for name, record in INVALID.items():
        assert ref.violations(record), name
    for name, record in VALID.items():
        assert ref.violations(record) == [], name


@pytest.mark.parametrize("chunk_bytes", [None, 9])
def test_ndjson_invalid_records_are_quarantined_with_reasons(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int | None
) -> None:
    if chunk_bytes:
        monkeypatch.setattr(readers, "CHUNK_BYTES", chunk_bytes)
    lines = [line(VALID_BASE), ""]
    for record in INVALID.values():
        lines.append(line(record))
    lines += [TRUNCATED, "   ", NOT_JSON, UNQUOTED, NAN]
    lines += [line(record) for record in VALID.values()]
    got = ingest(data_dir, "mixed.jsonl", "\n".join(lines) + "\n")
    assert_matches_reference(got)
    assert len(got.quarantine) == len(INVALID) + 4
    by_line = {row["line"]: row for row in got.quarantine}
    assert by_line[lines.index(TRUNCATED) + 1]["raw"] == TRUNCATED
    assert by_line[lines.index(NOT_JSON) + 1]["raw"] == NOT_JSON


@pytest.mark.parametrize("chunk_bytes", [None, 5])
def test_pretty_json_array_quarantines_by_array_index_and_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int | None
) -> None:
    if chunk_bytes:
        monkeypatch.setattr(readers, "CHUNK_BYTES", chunk_bytes)
    records = [*VALID.values(), *INVALID.values()]
    got = ingest(data_dir, "pretty.json", json.dumps(records, indent=2))
    assert_matches_reference(got)
    assert sorted(r["record_index"] for r in got.quarantine) == list(range(len(VALID), len(records)))


def shapes() -> dict[str, str]:
    records = [
        VALID_BASE,
        variant(runId="run_2", status="failed", error='boom ] } , " \\'),
        variant(status="done"),
        variant(runId="run_3", createdAt="2026-03-01T23:30:00-05:00"),
    ]
    ndjson = "\n".join(line(r) for r in records) + "\n"
    return {
        "compact.json": json.dumps(records, separators=(",", ":")),
        "pretty.json": json.dumps(records, indent=2),
        "single.json": json.dumps(records[1], indent=2),
        "wrapped-runs.json": json.dumps({"exportedAt": "2026-03-02T00:00:00Z", "runs": records}, indent=1),
        "wrapped-data.json": json.dumps({"data": records, "next": None}),
        "wrapped-items.json": json.dumps({"page": {"n": [1]}, "items": records}),
        "lines.jsonl": ndjson,
        "lines.ndjson": ndjson.replace("\n", "\r\n"),
        "lines-cr.jsonl": ndjson.replace("\n", "\r"),
    }


SHAPES = shapes()


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_shape_reconciles_with_reference(data_dir: Path, name: str, gz: bool) -> None:
    got = ingest(data_dir, name + (".gz" if gz else ""), SHAPES[name])
    assert_matches_reference(got)
    assert got.log["records_read"] == (1 if name == "single.json" else 4)
    assert got.result.records_read == got.log["records_read"]


UTC_CASES = [
    ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ("2026-03-01T10:00:00-05:00", datetime(2026, 3, 1, 15, tzinfo=UTC)),
    ("2026-03-01T10:00:00+05:30", datetime(2026, 3, 1, 4, 30, tzinfo=UTC)),
    ("2026-03-01t10:00:00z", datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ("2026-03-01T10:00:00.1Z", datetime(2026, 3, 1, 10, 0, 0, 100000, tzinfo=UTC)),
    ("2026-03-01T10:00:00.123Z", datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)),
    ("2026-03-01T10:00:00.1234567Z", datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ("2026-03-01T10:00:00.123456789Z", datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ("2026-03-01T10:00:00.999999999-00:00", datetime(2026, 3, 1, 10, 0, 0, 999999, tzinfo=UTC)),
    ("2026-03-01T23:30:00-05:00", datetime(2026, 3, 2, 4, 30, tzinfo=UTC)),
    ("2026-03-02T00:15:00+05:30", datetime(2026, 3, 1, 18, 45, tzinfo=UTC)),
    ("2026-03-01T10:00:00+23:59", datetime(2026, 2, 28, 10, 1, tzinfo=UTC)),
    ("2026-03-01T10:00:00.5-23:59", datetime(2026, 3, 2, 9, 59, 0, 500000, tzinfo=UTC)),
    # a leap second is the last microsecond of its minute, whatever its fraction
    ("2026-12-31T23:59:60Z", datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ("2026-12-31T15:59:60.25-08:00", datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ("2027-01-01t05:29:60.000001+05:30", datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    # beyond 9 fraction digits numpy leaves the conversion to the exact SQL expression
    ("2026-03-01T10:00:00.1234567891Z", datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ("2026-03-01T10:00:00.999999999999+01:00", datetime(2026, 3, 1, 9, 0, 0, 999999, tzinfo=UTC)),
]


def test_files_ingested_with_one_validator_share_one_processor_and_keep_their_own_identity(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest run keeps its batch processor (and its DuckDB connection) from file to file; each file's rows
    still carry that file's name, export id, sequence number and ingest time, as if it were ingested alone."""
    made: list[ingest_module.BatchProcessor] = []

    class Counted(ingest_module.BatchProcessor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(ingest_module, "BatchProcessor", Counted)
    monkeypatch.setattr(ingest_module, "_processors", ingest_module.Processors())
    validator = RecordValidator.from_file(Settings.from_env(data_dir).schema_path)
    files = []
    for i in range(3):
        records = [variant(runId=f"run_{i}_a"), variant(runId=f"run_{i}_b", status="done"), variant(runId=f"run_{i}_c")]
        files.append(ingest(data_dir, f"f{i}.jsonl", "".join(line(r) + "\n" for r in records), validator=validator))
    assert len(made) == 1
    files.append(ingest(data_dir, "other.jsonl", line(variant(runId="run_other")) + "\n"))
    assert len(made) == 2, "another validator gets a processor of its own"
    assert len({got.log["ingest_seq"] for got in files}) == len({got.log["export_id"] for got in files}) == 4
    for got in files:
        assert_matches_reference(got)
        log = got.log
        for row in got.staged + got.quarantine:
            assert (row["source_file"], row["export_id"], row["ingested_at"]) == (
                log["source_file"],
                log["export_id"],
                log["ingested_at"],
            )
        assert {row["ingest_seq"] for row in got.staged} == {log["ingest_seq"]}
    assert [len(got.quarantine) for got in files] == [1, 1, 1, 0]


def test_a_processor_whose_making_was_interrupted_leaves_no_closed_connection_behind(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the next validator's processor connects: the kept processor's connection had been closed but
    was still kept, and the next file failed with "Connection already closed" (found by a review)."""
    settings = Settings.from_env(data_dir)
    first, second = (RecordValidator.from_file(settings.schema_path) for _ in range(2))
    processors = ingest_module.Processors()
    processors.of(first, settings.limits)

    def interrupted(*_args: Any, **_kwargs: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(ingest_module.BatchProcessor, "__init__", interrupted)
        with pytest.raises(KeyboardInterrupt):
            processors.of(second, settings.limits)
    assert processors.of(first, settings.limits).con.execute("select 42").fetchone() == (42,)


def test_the_schema_notice_counts_ingests_that_recorded_no_schema_once_one_did(data_dir: Path) -> None:
    """Ingests written before runlens recorded their schema count among those of another schema once a newer
    ingest recorded one that is not the current schema (found by a review: 26 quarantined records went unmentioned);
    a lake where no ingest recorded one cannot tell, and says nothing."""
    settings = Settings.from_env(data_dir)
    bundled = RecordValidator.from_file(settings.schema_path)
    loose_schema = json.loads(settings.schema_path.read_text())
    del loose_schema["properties"]["runId"]["pattern"]
    loose = RecordValidator(loose_schema, data_dir / "loose.json")
    two_bad = "".join(line(variant(runId=f"x-{i}")) + "\n" for i in range(2))
    old = ingest(data_dir, "old.jsonl", two_bad, validator=bundled)
    assert old.result.records_quarantined == 2
    log_file = settings.lake_dir / "ingest" / old.result.export_id / "ingest_log.parquet"
    pq.write_table(pq.read_table(log_file).replace_schema_metadata(None), log_file)  # as written before the key
    assert ingest_module.schema_change_notice(settings.lake_dir, loose) is None, "no ingest recorded a schema"
    ingest(data_dir, "new.jsonl", line(variant(runId="run_new")) + "\n", validator=bundled)
    notice = ingest_module.schema_change_notice(settings.lake_dir, loose)
    assert notice is not None and "the 2 record(s) quarantined under another schema" in notice
    assert ingest_module.schema_change_notice(settings.lake_dir, bundled) is None


def test_a_time_less_than_an_hour_after_the_ingest_is_clock_skew_more_is_after_ingest(data_dir: Path) -> None:
    """docs/metrics.md: `after_ingest` flags a createdAt or completedAt more than an hour after the ingest (a wrong
    clock, a mistyped year); within the hour it is clock skew between the exporter and this machine. Only decades
    were tested, so an hour's margin of two went unseen (found by a mutation audit)."""
    now = datetime.now(UTC)

    def stamp(minutes: int) -> str:
        return (now + timedelta(minutes=minutes)).isoformat()

    records = [
        variant(runId="run_skew", createdAt=stamp(30)),
        variant(runId="run_ahead", createdAt=stamp(90)),
        variant(runId="run_done_ahead", status="completed", createdAt=stamp(0), completedAt=stamp(90)),
    ]
    got = ingest(data_dir, "a.jsonl", "\n".join(map(line, records)) + "\n")
    assert_matches_reference(got)
    flagged = {row["run_id"]: "after_ingest" in row["anomalies"] for row in got.staged}
    assert flagged == {"run_skew": False, "run_ahead": True, "run_done_ahead": True}


def test_reference_utc_conversion_matches_hand_computed_instants() -> None:
    for stamp, expected in UTC_CASES:
        assert ref.to_utc(stamp) == (expected, ":60" in stamp), stamp


def test_timestamps_are_normalised_to_utc(data_dir: Path) -> None:
    lines = []
    for i, (stamp, _) in enumerate(UTC_CASES):
        lines.append(line({"runId": f"run_c{i}", "workflowName": "w", "status": "queued", "createdAt": stamp}))
        lines.append(
            line({"runId": f"run_f{i}", "workflowName": "w", "status": "completed", "completedAt": stamp, "error": ""})
        )
    got = ingest(data_dir, "times.jsonl", "\n".join(lines))
    assert got.quarantine == []
    rows = {row["run_id"]: row for row in got.staged}
    for i, (stamp, expected) in enumerate(UTC_CASES):
        created, finished = rows[f"run_c{i}"], rows[f"run_f{i}"]
        assert created["created_at"] == expected, stamp
        assert finished["completed_at"] == expected, stamp
        assert created["created_date"] == finished["created_date"] == expected.date(), stamp
        assert (created["created_date_source"], finished["created_date_source"]) == ("createdAt", "completedAt")
        assert ("leap_second" in created["anomalies"]) is (":60" in stamp), stamp
    assert_matches_reference(got)


def test_created_before_midnight_in_an_offset_lands_on_the_utc_day(data_dir: Path) -> None:
    got = ingest(
        data_dir,
        "midnight.json",
        json.dumps(
            [
                {"runId": "run_ny", "workflowName": "w", "status": "queued", "createdAt": "2026-03-01T21:00:00-05:00"},
                {"runId": "run_in", "workflowName": "w", "status": "queued", "createdAt": "2026-03-02T03:00:00+05:30"},
            ]
        ),
    )
    days = {row["run_id"]: row["created_date"] for row in got.staged}
    assert days == {"run_ny": date(2026, 3, 2), "run_in": date(2026, 3, 1)}


ANOMALY_RECORDS = [
    {
        "runId": "run_backwards",
        "workflowName": "w",
        "status": "completed",
        "createdAt": "2026-03-01T10:00:00Z",
        "completedAt": "2026-03-01T09:59:59.999Z",
    },
    {"runId": "run_noerr", "workflowName": "w", "status": "failed", "createdAt": "2026-03-01T10:00:00Z"},
    {
        "runId": "run_early",
        "workflowName": "w",
        "status": "running",
        "createdAt": "2026-03-01T10:00:00Z",
        "completedAt": "2026-03-01T10:00:05Z",
    },
    {"runId": "run_nocreated", "workflowName": "w", "status": "completed", "completedAt": "2026-03-03T01:00:00+02:00"},
    {"runId": "run_notimes", "workflowName": "w", "status": "queued"},
    {
        "runId": "run_leap",
        "workflowName": "w",
        "status": "completed",
        "createdAt": "2026-06-30T23:00:00Z",
        "completedAt": "2026-06-30T23:59:60Z",
    },
]


def test_anomalies_and_created_date_source(data_dir: Path) -> None:
    got = ingest(data_dir, "odd.json", json.dumps({"items": ANOMALY_RECORDS}))
    assert_matches_reference(got)
    rows = {row["run_id"]: row for row in got.staged}
    assert set(rows["run_backwards"]["anomalies"]) == {"completed_before_created"}
    assert set(rows["run_noerr"]["anomalies"]) == {"failed_without_error"}
    assert set(rows["run_early"]["anomalies"]) == {"completed_at_on_unfinished"}
    assert set(rows["run_nocreated"]["anomalies"]) == {"missing_created_at"}
    assert (rows["run_nocreated"]["created_date"], rows["run_nocreated"]["created_date_source"]) == (
        date(2026, 3, 2),
        "completedAt",
    )
    assert rows["run_notimes"]["created_date"] == got.log["ingested_at"].date()
    assert rows["run_notimes"]["created_date_source"] == "ingested_at"
    assert set(rows["run_leap"]["anomalies"]) == {"leap_second"}
    assert rows["run_leap"]["completed_at"] == datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)


def test_duplicate_top_level_keys_last_one_wins(data_dir: Path) -> None:
    """Decision (docs/architecture.md): a repeated key keeps its last value, as Python's json does; the validator
    and the stored row see the same object, so a repeated key can neither sneak an invalid value past validation
    nor change what was validated."""
    raws = [
        '{"runId": "run_d1", "workflowName": "w", "status": "queued", "status": "completed"}',
        '{"runId": "run_d2", "runId": "run_d3", "workflowName": "w", "status": "queued"}',
        # the first occurrence has another type: the batch decoder refuses it, the record-by-record path keeps it
        '{"runId": "run_d5", "workflowName": "w", "status": 5, "status": "running", "input": [], "input": {}}',
        '{"runId": "run_d4", "workflowName": "w", "status": "completed", "status": "bogus"}',
        line(VALID_BASE),
    ]
    got = ingest(data_dir, "dups.jsonl", "\n".join(raws))
    expected = {json.loads(raw)["runId"]: json.loads(raw)["status"] for raw in raws[:3]}
    assert {row["run_id"]: row["status"] for row in got.staged if row["run_id"] != "run_ok"} == expected
    assert [(row["line"], [e["keyword"] for e in row["errors"]]) for row in got.quarantine] == [(4, ["enum"])]
    assert next(row["input"] for row in got.staged if row["run_id"] == "run_d5") == "{}"
    assert_matches_reference(got)


def test_unknown_fields_and_json_values_are_kept_exactly(data_dir: Path) -> None:
    """Unknown top-level fields are kept (never dropped or altered), and so are input/output values."""
    raw = (
        '{"runId": "run_big", "workflowName": "w", "status": "completed", "createdAt": "2026-03-01T10:00:00Z",'
        ' "input": {"n": 123456789012345678901234567890, "f": 0.1}, "output": {"n": 18446744073709551616},'
        ' "attempt": 123456789012345678901234567890, "ratio": 0.1, "tags": ["x", {"y": null}]}'
    )
    got = ingest(data_dir, "big.jsonl", raw)
    (row,) = got.staged
    assert loads(row["input"]) == {"n": 123456789012345678901234567890, "f": 0.1}
    assert loads(row["output"]) == {"n": 18446744073709551616}
    assert loads(row["extra"]) == {"attempt": 123456789012345678901234567890, "ratio": 0.1, "tags": ["x", {"y": None}]}


def test_lone_surrogate_escape_does_not_abort_the_ingest(data_dir: Path) -> None:
    """``"\\ud800"`` is valid JSON syntax; whatever runlens decides (stage or quarantine), the other records of the
    file must still be ingested and the counts must add up."""
    raws = [
        line(VALID_BASE),
        '{"runId": "run_s1", "workflowName": "w", "status": "queued", "note": "\\ud800"}',
        '{"runId": "run_s2", "workflowName": "w\\udfff", "status": "queued"}',
        line(variant(runId="run_after")),
    ]
    got = ingest(data_dir, "surrogates.jsonl", "\n".join(raws))
    assert {"run_ok", "run_after"} <= {row["run_id"] for row in got.staged}
    assert got.log["records_read"] == 4 == len(got.staged) + len(got.quarantine)


def test_utf8_encoded_surrogates_are_quarantined_not_a_crash(data_dir: Path) -> None:
    """Bytes ED A0 80 (a surrogate encoded as UTF-8) are not valid UTF-8, so not JSON text: wherever they stand
    (in ``input``, in an unknown member), the record is quarantined as not valid JSON and the others are staged."""
    surrogate = b"\xed\xa0\x80"
    raws = [
        line(VALID_BASE).encode(),
        b'{"runId": "run_s1", "workflowName": "w", "status": "queued", "input": {"k": "' + surrogate + b'"}}',
        b'{"runId": "run_s2", "workflowName": "w", "status": "queued", "note": "' + surrogate + b'"}',
        line(variant(runId="run_after")).encode(),
    ]
    got = ingest(data_dir, "surrogates.jsonl", b"\n".join(raws), reference=False)
    assert [row["run_id"] for row in got.staged] == ["run_ok", "run_after"]
    assert [row["record_index"] for row in got.quarantine] == [1, 2]
    assert all(error["keyword"] == "json" for row in got.quarantine for error in row["errors"])
    at = [raw.index(surrogate) + 1 for raw in raws[1:3]]  # the message names the cause and the byte
    assert [row["errors"][0]["message"] for row in got.quarantine] == [
        f"not valid JSON: not valid UTF-8 at byte {n} of the record" for n in at
    ]
    assert got.log["records_read"] == 4


RUN_A = {"runId": "run_a", "workflowName": "w", "status": "queued"}
NESTED = {"runId": "run_nested", "workflowName": "w", "status": "queued"}
HUGE_INT = b"9" * 5000  # longer than Python converts from text; valid JSON


@pytest.mark.parametrize(
    ("name", "content", "staged", "quarantined"),
    [
        # a run holding an integer of 5,000 digits (valid: any value passes in an unknown field) before a list
        (
            "huge_int.json",
            b'{"runId": "run_big", "workflowName": "w", "status": "queued", "zz": ' + HUGE_INT + b', "results": []}',
            ["run_big"],
            [],
        ),
        # a run with a number JSON does not allow (01) before a list of run-like items: one invalid record
        (
            "leading_zero.json",
            b'{"runId": "run_x", "workflowName": "w", "status": "queued", "input": {"a": 01}, "items": ['
            + json.dumps(NESTED).encode()
            + b"]}",
            [],
            [0],
        ),
        # invalid UTF-8 in a member before the list: one invalid record
        (
            "bad_utf8.json",
            b'{"runId": "run_u", "workflowName": "w\xff", "status": "queued", "items": ['
            + json.dumps(NESTED).encode()
            + b"]}",
            [],
            [0],
        ),
        # no run member, and what comes before the list is not JSON: a wrapper whose metadata is not read, its
        # list's items records (434a498 made it one quarantined record, losing every run of a genuine wrapper)
        (
            "bad_wrapper.json",
            b'{"meta": {"a": 01}, "runs": [' + json.dumps(RUN_A).encode() + b"]}",
            ["run_a"],
            [],
        ),
        # a valid run whose member just before the list is an object (the cut text ended in its brace)
        (
            "object_before_list.json",
            b'{"runId": "run_o", "workflowName": "w", "status": "queued", "input": {"a": 1}, "items": ['
            + json.dumps(NESTED).encode()
            + b"]}",
            ["run_o"],
            [],
        ),
        # a wrapper whose metadata holds a valid 5,000-digit integer is still a wrapper
        (
            "huge_int_wrapper.json",
            b'{"meta": {"n": ' + HUGE_INT + b'}, "runs": [' + json.dumps(RUN_A).encode() + b"]}",
            ["run_a"],
            [],
        ),
    ],
)
def test_a_top_level_object_whose_start_cannot_be_parsed_is_one_record(
    data_dir: Path, name: str, content: bytes, staged: list[str], quarantined: list[int]
) -> None:
    """A top-level object whose members before a wrapper-key list the member check could not parse (an integer
    beyond Python's 4,300 digits, invalid JSON, invalid UTF-8) was taken for a wrapper: the run vanished with no
    note (nothing read, nothing quarantined) or the items of its list were staged as runs. A 5,000-digit integer is
    parsed now; a run whose members cannot be parsed (a top-level ``runId``, ``workflowName`` or ``status`` found
    by a scan of the member names) is one record, quarantined, with a note. Without such a member the object is a
    wrapper whose metadata before the list is not read, with a note: its list's items are records."""
    got = ingest(data_dir, name, content, reference=False)
    assert [row["run_id"] for row in got.staged] == staged
    assert [row["record_index"] for row in got.quarantine] == quarantined
    assert got.log["records_read"] == len(staged) + len(quarantined)
    assert "run_nested" not in {row["run_id"] for row in got.staged}
    message = got.log["message"] or ""
    read_whole = "could not be read" in message and "read as one record" in message
    assert read_whole == (name in ("leading_zero.json", "bad_utf8.json")), message
    assert ("metadata before the list is not valid JSON" in message) == (name == "bad_wrapper.json"), message
    for row in got.quarantine:
        assert row["raw"].startswith("{") and row["raw"].rstrip().endswith("]}"), "the whole object, kept whole"
        assert any(error["keyword"] == "json" for error in row["errors"])


WRAPPED_RUNS = b",\n".join(
    json.dumps({**VALID_BASE, "runId": f"run_{i}", "status": "completed"}).encode() for i in range(3)
)


@pytest.mark.parametrize(
    ("name", "metadata"),
    [
        ("nan_meta.json", b'"meta": {"score": NaN}'),  # a number JSON does not have
        ("latin1_meta.json", b'"exportedBy": "Jos\xe9"'),  # a Latin-1 byte: not UTF-8
        ("trailing_comma_meta.json", b'"meta": {"a": 1,}'),
        ("nested_run_key_meta.json", b'"meta": {"runId": NaN}'),  # a nested name is not a top-level member
        ("run_key_in_a_value.json", b'"note": "\\"runId\\": 1", "meta": NaN'),  # nor is one inside a string
    ],
)
def test_a_wrapper_whose_metadata_before_its_list_is_invalid_gives_its_runs(
    data_dir: Path, name: str, metadata: bytes
) -> None:
    """A wrapper with no run-only member (``runId``, ``workflowName``, ``status``) at its top level whose metadata
    before its list of runs cannot be parsed was one quarantined record since 434a498 (a review found thousands of
    good runs lost to one bad metadata member; before it they were staged). Its member names are found by a scan of
    the bytes: it is a wrapper, its runs are records, each validated on its own, and a note names the object's
    start line and the list's line and says that the metadata was not read."""
    content = b"\n{" + metadata + b',\n  "runs": [\n' + WRAPPED_RUNS + b"\n]}\n"
    got = ingest(data_dir, name, content, reference=False)
    assert [row["run_id"] for row in got.staged] == ["run_0", "run_1", "run_2"]
    assert got.quarantine == []
    assert got.log["records_read"] == 3
    message = got.log["message"] or ""
    assert "the object starting at line 2 has a list under a wrapper key at line 3" in message, message
    assert "metadata before the list is not valid JSON (or UTF-8) and was not read" in message, message


@pytest.mark.parametrize("metadata", [b'"blob": "', b'"score": NaN, "blob": "'])
def test_a_wrapper_with_a_long_string_of_escaped_quotes_before_its_list_is_read_at_once(
    tmp_path: Path, metadata: bytes
) -> None:
    """The name before the list was found by an end-anchored regex over the whole object, tried from every quote:
    60 KB of escaped quotes took 14 s and 600 KB did not end within a minute (found by a review). `runlens
    validate` in a process of its own, with a guard against the hang, on 600 KB of them (valid metadata, and
    invalid, which the name scan reads too)."""
    path = tmp_path / "quotes.json"
    path.write_bytes(b"{" + metadata + b'x\\"' * 200_000 + b'", "runs": [\n' + WRAPPED_RUNS + b"\n]}\n")
    done = subprocess.run(
        [str(RUNLENS), "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={name: value for name, value in os.environ.items() if not name.startswith("RUNLENS_")},
    )
    assert (done.returncode, done.stderr.splitlines()[-1]) == (0, "3 record(s) checked, 0 invalid"), done.stderr


def test_a_broken_run_with_many_lists_is_judged_once(data_dir: Path) -> None:
    """A run that is not valid JSON, with 2,000 lists under wrapper keys: it was judged again at each list, on a
    head that kept growing (20,000 took over 100 s), with one note per list. It is one record with one note."""
    lists = ",".join(f'"data": [{i}]' for i in range(2000))
    content = '{"runId": "run_x", "workflowName": "w", "status": "queued", "input": {"a": 01}, ' + lists + "}\n"
    got = ingest(data_dir, "many_lists.json", content.encode(), reference=False)
    assert got.staged == [] and len(got.quarantine) == 1
    assert (got.log["message"] or "").count("has a list under a wrapper key") == 1, got.log["message"]


def test_a_run_longer_than_the_record_cap_before_its_list_is_quarantined_whole(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The member check cannot read an object longer than the record cap: such an object was taken for a wrapper,
    the run dropped and the items of its list staged. It is one record, quarantined as over-long."""
    monkeypatch.setenv("RUNLENS_MAX_RECORD_BYTES", "2000")
    run = {"runId": "run_long", "workflowName": "w", "status": "queued", "pad": "x" * 3000}
    content = json.dumps(run)[:-1] + ', "items": [' + json.dumps(NESTED) + "]}"
    got = ingest(data_dir, "long.json", content, reference=False)
    assert got.staged == []
    (row,) = got.quarantine
    assert row["raw"].startswith('{"runId": "run_long"')
    assert got.log["records_read"] == 1


def test_a_utf8_file_with_a_nul_as_its_second_byte_is_read_as_utf8(data_dir: Path) -> None:
    """A damaged line holding a NUL at the file's second byte made the file read as UTF-16LE: one record of CJK
    garbage, the valid lines gone into it. The NUL line is quarantined at its line and the valid lines staged."""
    lines = [line(variant(runId=f"run_{i}")) for i in range(3)]
    got = ingest(data_dir, "nul.jsonl", b"\n\0\n" + "\n".join(lines).encode() + b"\n", reference=False)
    assert [row["run_id"] for row in got.staged] == ["run_0", "run_1", "run_2"]
    assert [row["record_index"] for row in got.staged] == [1, 2, 3]
    (bad,) = got.quarantine
    assert (bad["record_index"], bad["line"], bad["raw"]) == (0, 2, "\0")
    assert got.log["records_read"] == 4


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("name", ["runs.jsonl", "runs.json"])
def test_exports_in_utf16_and_utf32_without_a_bom_are_decoded(data_dir: Path, encoding: str, name: str) -> None:
    """BOM-less UTF-16 and UTF-32 exports are read whatever their byte order; UTF-32LE was taken for UTF-16LE (its
    first two bytes look alike) and read as garbage. Non-ASCII names come out verbatim."""
    names = ["Zürich 数据", "😀 emoji", "plain"]
    records = [variant(runId=f"run_{i}", workflowName=text) for i, text in enumerate(names)]
    text = "\n".join(map(line, records)) + "\n" if name.endswith(".jsonl") else json.dumps(records, indent=1)
    got = ingest(data_dir, name, text.encode(encoding), reference=False)
    assert got.quarantine == []
    assert [(row["run_id"], row["workflow_name"]) for row in got.staged] == [
        (f"run_{i}", text) for i, text in enumerate(names)
    ]
    assert got.log["outcome"] == "ingested"


def test_ndjson_lines_of_form_feeds_or_vertical_tabs_are_quarantined_at_their_line(data_dir: Path) -> None:
    """A line holding only form feeds or vertical tabs is not blank in JSON (white space is space, tab, CR, LF):
    it is quarantined as invalid JSON at its line, not dropped; truly blank lines are still skipped."""
    lines = [line(variant(runId="run_1")), "\x0c", "\x0b \x0b", " \t\r", line(variant(runId="run_2")), "\x0c"]
    got = ingest(data_dir, "ff.jsonl", "\n".join(lines), reference=False)
    assert [row["run_id"] for row in got.staged] == ["run_1", "run_2"]
    assert [(row["record_index"], row["line"], row["raw"]) for row in got.quarantine] == [
        (1, 2, "\x0c"),
        (2, 3, "\x0b \x0b"),
        (4, 6, "\x0c"),
    ]
    assert all(error["keyword"] == "json" for row in got.quarantine for error in row["errors"])
    assert (got.log["records_read"], got.log["records_quarantined"]) == (5, 3)


def test_truncated_json_array_keeps_the_complete_records(data_dir: Path) -> None:
    complete = [VALID_BASE, variant(runId="run_2")]
    text = json.dumps(complete, indent=2)[:-2] + ',\n  {"runId": "run_3", "workflowName": "w", "sta'
    got = ingest(data_dir, "cut.json", text, reference=False)
    assert [row["run_id"] for row in got.staged] == ["run_ok", "run_2"]
    (bad,) = got.quarantine
    assert bad["record_index"] == 2
    assert bad["line"] == text.count("\n", 0, text.index('{"runId": "run_3"')) + 1
    assert bad["raw"].startswith('{"runId": "run_3"')
    assert got.log["records_read"] == 3


def test_truncated_gzip_keeps_the_records_of_its_readable_part(data_dir: Path) -> None:
    """A .gz export cut off mid-stream (an interrupted copy): the records before the cut are still readable and
    must be ingested; the outcome says the file is partial."""
    records = [variant(runId=f"run_{i}") for i in range(2000)]
    data = gzip.compress(("\n".join(line(r) for r in records) + "\n").encode())
    cut = data[: len(data) // 2]
    readable = zlib.decompressobj(wbits=31).decompress(cut).decode()
    complete = [json.loads(x)["runId"] for x in readable.split("\n")[:-1]]
    assert 500 < len(complete) < 2000
    got = ingest(data_dir, "cut.jsonl.gz", cut, reference=False, as_is=True)
    assert got.log["outcome"] == "partial"
    assert [row["run_id"] for row in sorted(got.staged, key=lambda r: r["record_index"])] == complete
    assert len(got.quarantine) <= 1, "at most the record cut in the middle"
    assert got.log["records_read"] == got.log["records_valid"] + got.log["records_quarantined"]


def test_file_that_is_not_json_at_all_is_recorded_whole(data_dir: Path) -> None:
    got = ingest(data_dir, "garbage.json", "this is not JSON, it is a log line\nand another\n", reference=False)
    assert got.staged == []
    assert got.log["records_read"] == got.log["records_quarantined"] >= 1
    assert "this is not JSON" in got.quarantine[0]["raw"]


def test_same_content_is_ingested_once(data_dir: Path) -> None:
    first = ingest(data_dir, "a.jsonl", line(VALID_BASE))
    path = data_dir / "exports" / "copy.jsonl"
    path.write_text(line(VALID_BASE))
    settings = Settings.from_env(data_dir)
    again = ingest_file(path, settings, RecordValidator.from_file(settings.schema_path), "copy.jsonl")
    assert again.outcome == "skipped"
    assert again.export_id == first.result.export_id
    assert [p.name for p in (settings.lake_dir / "ingest").iterdir()] == [first.result.export_id]


def test_same_bytes_under_the_other_format_are_read_again(data_dir: Path) -> None:
    """A .jsonl that really holds JSON values written back to back on one line is one bad record; renamed .json it
    is a new export of their runs, while another file of the same bytes and format, in either format, is skipped."""
    runs = [VALID_BASE, {**VALID_BASE, "runId": "run_two"}]
    array = "".join(map(json.dumps, runs))
    as_lines = ingest(data_dir, "misnamed.jsonl", array, reference=False)
    assert (as_lines.log["format"], as_lines.log["records_read"], len(as_lines.quarantine)) == ("ndjson", 1, 1)
    (data_dir / "exports" / "misnamed.jsonl").rename(data_dir / "exports" / "misnamed.json")
    settings = Settings.from_env(data_dir)
    discovered = exports.discover(settings)
    assert [f.name for f in exports.new_exports(settings, discovered).files] == ["misnamed.json"]
    as_array = ingest(data_dir, "misnamed.json", array)
    assert as_array.result.outcome == "ingested"
    assert as_array.log["format"] == "json"
    assert sorted(row["run_id"] for row in as_array.staged) == ["run_ok", "run_two"]
    assert as_array.result.export_id != as_lines.result.export_id
    validator = RecordValidator.from_file(settings.schema_path)
    for name in ("again.jsonl", "again.json"):
        (data_dir / "exports" / name).write_text(array)
        result = ingest_file(data_dir / "exports" / name, settings, validator, name)
        assert (result.outcome, result.export_id) == (
            "skipped",
            as_lines.result.export_id if name.endswith("l") else as_array.result.export_id,
        )
    assert exports.new_exports(settings, exports.discover(settings)).files == []
    assert len(list((settings.lake_dir / "ingest").iterdir())) == 2


def test_a_good_file_renamed_to_the_other_format_is_not_ingested_twice(data_dir: Path) -> None:
    """One-line records read the same as .jsonl or as .json: once a reading staged records, the bytes are done
    however they are named (gzipped copies are other bytes, and other files)."""
    settings = Settings.from_env(data_dir)
    first = ingest(data_dir, "good.jsonl", line(VALID_BASE) + "\n")
    assert first.log["records_valid"] == 1
    (data_dir / "exports" / "good.jsonl").rename(data_dir / "exports" / "good.json")
    assert exports.new_exports(settings, exports.discover(settings)).files == []
    again = ingest_file(data_dir / "exports" / "good.json", settings, RecordValidator.from_file(settings.schema_path))
    assert (again.outcome, again.export_id) == ("skipped", first.result.export_id)


def test_a_reading_stopped_at_the_cap_is_not_read_on_once_another_reading_staged_the_records(data_dir: Path) -> None:
    """Five records, one per line, named .json and stopped at the cap before the first: renamed .jsonl they are read
    whole and staged; renamed back to .json under no cap, the cap-stopped reading used to be read on (``-part2``) and
    staged the five again. The content is done once any reading of it staged records."""
    settings = Settings.from_env(data_dir)
    validator = RecordValidator.from_file(settings.schema_path)
    exports_dir = data_dir / "exports"
    (exports_dir / "f.json").write_text("".join(line({**VALID_BASE, "runId": f"run_{i}"}) + "\n" for i in range(5)))
    capped = settings.with_overrides(limits=dataclasses.replace(settings.limits, max_decompressed_bytes=50))
    stopped = ingest_file(exports_dir / "f.json", capped, validator, "f.json")
    assert (stopped.outcome, stopped.records_read) == ("partial", 0)
    (exports_dir / "f.json").rename(exports_dir / "f.jsonl")
    as_lines = ingest_file(exports_dir / "f.jsonl", settings, validator, "f.jsonl")
    assert (as_lines.outcome, as_lines.records_valid) == ("ingested", 5)
    (exports_dir / "f.jsonl").rename(exports_dir / "f.json")
    assert exports.new_exports(settings, exports.discover(settings)).files == []
    again = ingest_file(exports_dir / "f.json", settings, validator, "f.json")
    assert (again.outcome, again.records_read) == ("skipped", 0)
    tables = [pq.read_table(path) for path in settings.lake_dir.glob("ingest/*/staged.parquet")]
    staged = [run for table in tables for run in table["run_id"].to_pylist()]
    assert sorted(staged) == [f"run_{i}" for i in range(5)]


def test_gzip_bytes_under_a_plain_name_are_read_again_once_named_gz(data_dir: Path) -> None:
    """Gzip bytes named .json are junk to the JSON reader (one record, quarantined); renamed .json.gz, the same
    bytes are decompressed and their runs ingested; the same bytes in one batch are new only once."""
    data = gzip.compress(json.dumps([VALID_BASE, {**VALID_BASE, "runId": "run_two"}]).encode())
    as_plain = ingest(data_dir, "misnamed.json", data, reference=False, as_is=True)
    assert (as_plain.log["format"], as_plain.log["records_valid"]) == ("json", 0)
    (data_dir / "exports" / "misnamed.json").rename(data_dir / "exports" / "misnamed.json.gz")
    (data_dir / "exports" / "zz-copy.jsonl.gz").write_bytes(data)
    settings = Settings.from_env(data_dir)
    assert [f.name for f in exports.new_exports(settings, exports.discover(settings)).files] == ["misnamed.json.gz"]
    as_gz = ingest(data_dir, "misnamed.json.gz", data, as_is=True)
    assert (as_gz.result.outcome, as_gz.log["format"]) == ("ingested", "json.gz")
    assert sorted(row["run_id"] for row in as_gz.staged) == ["run_ok", "run_two"]
    assert exports.new_exports(settings, exports.discover(settings)).files == []


def test_a_settled_file_is_hashed_once_and_a_fresh_write_is_hashed_again(tmp_path: Path) -> None:
    """Discovery and ingest both need the file's sha256: a file untouched for a while is read once per process,
    while a file written just now is always read again (its next write could keep the same size and mtime)."""
    path = tmp_path / "runs.jsonl"
    path.write_bytes(b"a" * 1000)
    old = time.time() - 60
    os.utime(path, (old, old))
    first = ingest_module.file_sha256(path)
    assert first == hashlib.sha256(b"a" * 1000).hexdigest()
    path.write_bytes(b"b" * 1000)  # same size, and the old mtime put back: only a remembered digest explains "a"
    os.utime(path, (old, old))
    assert ingest_module.file_sha256(path) == first
    path.write_bytes(b"c" * 1000)  # a fresh write: a new mtime, not settled, read every time
    assert ingest_module.file_sha256(path) == hashlib.sha256(b"c" * 1000).hexdigest()
    path.write_bytes(b"d" * 1000)
    assert ingest_module.file_sha256(path) == hashlib.sha256(b"d" * 1000).hexdigest()


def test_export_gone_before_its_ingest_is_unreadable_and_records_nothing(data_dir: Path) -> None:
    """An export removed after the run was planned: the result names the reason and the lake gets no ingest."""
    settings = Settings.from_env(data_dir)
    result = ingest_file(data_dir / "exports" / "gone.jsonl", settings, RecordValidator.from_file(settings.schema_path))
    assert (result.source_file, result.outcome, result.records_read) == ("gone.jsonl", "unreadable", 0)
    assert result.message == "could not be read: No such file or directory"
    assert not list(settings.lake_dir.rglob("*.parquet"))


@pytest.mark.parametrize(
    ("indent", "held"),
    [(2, "pretty-printed JSON (values spread over several lines)"), (None, "a JSON array on one line")],
)
def test_a_jsonl_file_holding_one_document_is_unreadable_until_renamed(
    data_dir: Path, indent: int | None, held: str
) -> None:
    """A pretty-printed array saved as .jsonl used to be quarantined line by line and recorded, so that renamed to
    .json it was skipped as already ingested; an array on one line was one record, quarantined with a message that
    repeated it. Now nothing of it is read or recorded, the reason says what to do, and the same bytes renamed are
    ingested."""
    content = json.dumps([VALID_BASE, variant(runId="run_2")], indent=indent)
    path = data_dir / "exports" / "pretty.jsonl"
    path.write_text(content)
    settings = Settings.from_env(data_dir)
    result = ingest_file(path, settings, RecordValidator.from_file(settings.schema_path), "pretty.jsonl")
    assert (result.outcome, result.records_read) == ("unreadable", 0)
    assert result.message == f"this .jsonl file holds {held}, not one record per line: rename it to .json"
    assert not list(settings.lake_dir.rglob("*.parquet"))
    path.unlink()
    got = ingest(data_dir, "pretty.json", content)
    assert (got.result.outcome, got.log["records_read"], got.log["records_valid"]) == ("ingested", 2, 2)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_a_jsonl_array_on_one_line_longer_than_the_head_is_refused(data_dir: Path, suffix: str) -> None:
    """30,000 runs in one JSON array on one line (14 MB, past the 8 MiB head the decision reads): its first line has
    no end in the head, so its brackets could not tell it was a whole array, and it was read as one record (`is not
    of type "object"`, without the rename hint). A first line that opens an array and runs past the head is no
    record: the file is refused with the hint, and nothing of it recorded."""
    content = json.dumps([variant(runId=f"run_{i}", input={"pad": "x" * 200}) for i in range(30_000)]).encode()
    assert len(content) > readers.LINE_END_HEAD_BYTES
    path = data_dir / "exports" / f"long{suffix}"
    path.write_bytes(gzip.compress(content, compresslevel=1) if suffix.endswith(".gz") else content)
    settings = Settings.from_env(data_dir)
    result = ingest_file(path, settings, RecordValidator.from_file(settings.schema_path), path.name)
    gz = ".gz" if suffix.endswith(".gz") else ""
    reason = f"this {suffix} file holds a JSON array on one line, not one record per line: rename it to .json{gz}"
    assert (result.outcome, result.records_read, result.message) == ("unreadable", 0, reason)
    assert not list(settings.lake_dir.rglob("*.parquet"))
    assert readers.one_document_problem(path, settings.limits, path.name) == reason


def test_worker_pool_writes_the_same_lake_as_one_process(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large files go to worker processes (started while the file is hashed); the lake must not depend on it."""
    from runlens import generate

    generate.generate_exports(tmp_path / "gen", runs=4000, days=1, seed=5, fmt="jsonl", snapshots_per_day=1)
    content = b"".join(p.read_bytes() for p in sorted((tmp_path / "gen").glob("*.jsonl")))
    content += b'{"runId": 1}\n\n{"runId": "run_z", "workflowName": "w", "status": "queued", "x": [1]}\n{"cut'

    def lake_of(root: Path, workers: int, pool_min: int) -> dict[str, Any]:
        monkeypatch.setenv("RUNLENS_INGEST_WORKERS", str(workers))
        monkeypatch.setattr(ingest_module, "POOL_MIN_BYTES", pool_min)
        (root / "exports").mkdir(parents=True)
        path = root / "exports" / "big.jsonl"
        path.write_bytes(content)
        settings = Settings.from_env(root)
        with ingest_module.worker_pool(path, settings.limits, RecordValidator.from_file(settings.schema_path)) as pool:
            assert (pool is not None) == (workers > 1)
        result = ingest_file(path, settings, RecordValidator.from_file(settings.schema_path))
        folder = settings.lake_dir / "ingest" / result.export_id
        tables = {
            n: pq.read_table(folder / f"{n}.parquet").drop_columns(["ingested_at"]) for n in ("staged", "quarantine")
        }
        return {"result": (result.records_read, result.records_valid, result.records_quarantined)} | {
            n: t.to_pylist() for n, t in tables.items()
        }

    pooled = lake_of(tmp_path / "pooled", workers=2, pool_min=0)
    alone = lake_of(tmp_path / "alone", workers=1, pool_min=0)
    assert pooled["result"][0] > 4000 and pooled["result"][2] >= 3
    assert pooled == alone


def test_pool_workers_leave_ctrl_c_to_the_process_that_owns_the_pool(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in a terminal reaches every process of its group; a worker that took it while starting up printed a
    KeyboardInterrupt traceback. The owner, interrupted too, stops the pool."""
    monkeypatch.setenv("RUNLENS_INGEST_WORKERS", "2")
    monkeypatch.setattr(ingest_module, "POOL_MIN_BYTES", 0)
    path = data_dir / "exports" / "a.jsonl"
    path.write_bytes(b"{}\n")
    settings = Settings.from_env(data_dir)
    with ingest_module.worker_pool(path, settings.limits, RecordValidator.from_file(settings.schema_path)) as pool:
        assert pool is not None
        assert pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_discovery_reads_each_new_export_once(data_dir: Path, monkeypatch: pytest.MonkeyPatch, gz: bool) -> None:
    """Finding the new exports hashes every file, and checks that an NDJSON file is not a JSON document: the check
    reads the first block through the hash instead of opening the file again for it (an extra read of up to 8 MiB
    per new NDJSON file). The verdicts stay the same."""
    folder = data_dir / "exports"
    suffix = ".gz" if gz else ""
    pack = gzip.compress if gz else bytes
    (folder / f"pretty.jsonl{suffix}").write_bytes(pack(json.dumps([VALID_BASE], indent=4).encode()))
    (folder / f"lines.jsonl{suffix}").write_bytes(pack((line(VALID_BASE) + "\n").encode() * 3000))
    (folder / f"array.json{suffix}").write_bytes(pack(json.dumps([VALID_BASE], indent=2).encode()))
    opened: list[str] = []
    real_open = open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(Path(file).name)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "open", counting_open, raising=False)
    monkeypatch.setattr(readers, "open", counting_open, raising=False)
    monkeypatch.setattr(ingest_module, "_DIGESTS", {})
    settings = Settings.from_env(data_dir)
    found = exports.new_exports(settings, exports.discover(settings))
    assert sorted(opened) == sorted(path.name for path in folder.iterdir())
    assert [export.name for export in found.files] == [f"array.json{suffix}", f"lines.jsonl{suffix}"]
    assert list(found.unreadable) == [f"pretty.jsonl{suffix}"]


NOT_DATE_TIMES = [
    "2026-03-01 10:00",
    "2026-03-01T10:00:00",
    "",
    "yesterday",
    "2026-03-01T10:00:60Z",  # second 60 on a minute that is not 23:59 UTC
    "2026-02-30T10:00:00Z",
    "0000-06-01T00:00:00Z",
    "2026-03-01T10:00:00+0530",
    "x" * 500,
]
DATE_TIMES = ["2026-03-01T10:00:00Z", "2016-12-31T23:59:60.5Z", "2026-03-01T10:00:00.1234567891234+05:30"]


def _is_date_time(stamp: str) -> bool:
    """The reference's `date-time` (Python jsonschema's format checker), leap seconds read as their second 59 (its
    documented deviation, see tests/reference.py)."""
    from jsonschema import Draft202012Validator

    probe = stamp[:17] + "59" + stamp[19:] if ref.is_leap_second(stamp) else stamp
    return Draft202012Validator.FORMAT_CHECKER.conforms(probe, "date-time")


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "full-path"])
def test_a_time_the_schema_lets_through_but_runlens_cannot_read_quarantines_only_its_record(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    """A custom schema without `"format": "date-time"` on createdAt/completedAt lets any string through: the typing
    step handed it to DuckDB's strptime, whose parse error stopped the ingest (and every later `runlens run`). Such a
    record is quarantined (`storage`, the field's path, the value in the message); every other one is staged, with
    its instant as the reference reads it."""
    schema = json.loads(Settings.from_env(data_dir).schema_path.read_text())
    for name in ("createdAt", "completedAt"):
        del schema["properties"][name]["format"]
    if not fast:  # a keyword the fast path does not compile
        schema["properties"]["error"]["minLength"] = 0
    path = data_dir / "noformat.json"
    path.write_text(json.dumps(schema))
    monkeypatch.setenv("RUNLENS_SCHEMA", str(path))
    base = {"workflowName": "w", "status": "completed"}
    records = [{**base, "runId": f"run_c{i}", "createdAt": s} for i, s in enumerate(NOT_DATE_TIMES + DATE_TIMES)]
    records += [{**base, "runId": f"run_d{i}", "completedAt": s} for i, s in enumerate(NOT_DATE_TIMES + DATE_TIMES)]
    records += [{**base, "runId": "run_both", "createdAt": "yesterday", "completedAt": "today"}]
    got = ingest(data_dir, "times.jsonl", "\n".join(map(line, records)) + "\n", reference=False)

    expected_bad: dict[int, set[tuple[str, str]]] = {}
    for i, record in enumerate(records):
        for name in ("createdAt", "completedAt"):
            if name in record and not _is_date_time(record[name]):
                expected_bad.setdefault(i, set()).add((f"$.{name}", "storage"))
    assert set(expected_bad) and len(expected_bad) < len(records)
    found = {row["record_index"]: {(e["path"], e["keyword"]) for e in row["errors"]} for row in got.quarantine}
    assert found == expected_bad
    for row in got.quarantine:
        for error in row["errors"]:
            name = error["path"].removeprefix("$.")
            value = records[row["record_index"]][name]
            assert name in error["message"] and json.dumps(value[:200]) in error["message"]
    staged = {row["record_index"]: row for row in got.staged}
    assert set(staged) == set(range(len(records))) - set(expected_bad)
    for i, row in staged.items():
        for name, column in (("createdAt", "created_at"), ("completedAt", "completed_at")):
            assert row[column] == (ref.to_utc(records[i][name])[0] if name in records[i] else None)
    assert got.result.records_read == len(records) == len(got.staged) + len(got.quarantine)


@pytest.mark.parametrize(
    ("change", "record"),
    [
        ({"required": ["runId"]}, {"runId": "run_a", "workflowName": "w"}),
        ({"required": ["runId", "status"]}, {"runId": "run_a", "status": "queued"}),
        (
            {"properties": {"runId": {"type": ["string", "integer"]}}},
            {"runId": 7, "workflowName": "w", "status": "queued"},
        ),
    ],
)
def test_a_record_a_custom_schema_passes_without_what_runs_needs_is_quarantined_in_one_clear_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, change: dict[str, Any], record: dict[str, Any]
) -> None:
    """runs needs runId, workflowName and status as strings; a custom schema that does not require them passes a
    record without one (as the reference does), which runlens quarantines as `storage` saying so, in one line."""
    from jsonschema import Draft202012Validator

    schema = json.loads(Settings.from_env(data_dir).schema_path.read_text())
    schema = {**schema, **change, "properties": {**schema["properties"], **change.get("properties", {})}}
    assert Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(record)
    path = data_dir / "loose.json"
    path.write_text(json.dumps(schema))
    monkeypatch.setenv("RUNLENS_SCHEMA", str(path))
    good = {"runId": "run_b", "workflowName": "w", "status": "queued"}
    got = ingest(data_dir, "loose.jsonl", line(record) + "\n" + line(good) + "\n", reference=False)
    assert [row["run_id"] for row in got.staged] == ["run_b"]
    [row] = got.quarantine
    [error] = row["errors"]
    assert error["keyword"] == "storage" and "\n" not in error["message"]
    assert "runs, which needs runId, workflowName and status in every record" in error["message"]


def test_quarantine_rows_are_written_in_file_order_whatever_made_each_record_invalid(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record against the schema, one that is not JSON and one nested too deep are found by three different steps
    of a batch, in that order; the quarantine file (and `runlens validate`, which prints its rows) still lists them
    in file order (found by a mutation audit)."""
    monkeypatch.setenv("RUNLENS_MAX_NESTING_DEPTH", "4")
    lines = [line(variant(status="bogus")), UNQUOTED, line(variant(input={"a": {"b": {"c": {}}}})), line(VALID_BASE)]
    got = ingest(data_dir, "mixed.jsonl", "\n".join(lines) + "\n", reference=False)
    assert [(row["record_index"], row["errors"][0]["keyword"]) for row in got.quarantine] == [
        (0, "enum"),
        (1, "json"),
        (2, "depth"),
    ]


def test_a_record_that_is_not_json_names_the_parsers_reason_and_where_it_stopped(data_dir: Path) -> None:
    """The message of a record that is not JSON gives the parser's reason and the line and column of the first
    character it could not read, so the damage can be found in a long record (found by a mutation audit)."""
    column = UNQUOTED.index("completed") + 1
    got = ingest(data_dir, "bad.jsonl", line(VALID_BASE) + "\n" + UNQUOTED + "\n", reference=False)
    [row] = got.quarantine
    [error] = row["errors"]
    assert (error["path"], error["keyword"]) == ("$", "json")
    assert error["message"].startswith("not valid JSON: unexpected character"), error["message"]
    assert error["message"].endswith(f": line 1 column {column} (char {column - 1})"), error["message"]


def test_the_raw_text_of_a_record_that_is_not_utf8_keeps_each_bad_byte_as_its_escape(data_dir: Path) -> None:
    """quarantine.raw keeps a record that is not valid UTF-8 with each byte that cannot be decoded written as its
    escape (``\\xed``), so the raw text still shows which bytes were exported; a replacement character would
    lose them (found by a mutation audit)."""
    head, tail = b'{"runId": "run_s1", "workflowName": "w", "status": "queued", "note": "', b'"}'
    got = ingest(data_dir, "latin.jsonl", head + b"Jos\xe9 \xed\xa0\x80" + tail + b"\n", reference=False)
    [row] = got.quarantine
    assert row["raw"] == head.decode() + "Jos\\xe9 \\xed\\xa0\\x80" + tail.decode()


def test_an_ingest_fsyncs_its_three_files_renames_its_folder_into_the_lake_then_fsyncs_the_ingest_folder(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest is committed by one rename of its hidden folder; for the rename to outlive a power cut the files
    must be whole (their writers closed) and on disk before it, and the folder holding it synced after it (found by
    a mutation audit: dropping either fsync, or closing the quarantine writer, went unseen)."""
    from runlens import lake

    settings = Settings.from_env(data_dir)
    work_root, ingest_root = settings.lake_dir / lake.TMP, settings.lake_dir / "ingest"
    events: list[tuple[str, Any]] = []
    fsync_file, fsync_dir = lake.fsync_file, lake.fsync_dir

    def syncing_file(handle: Any) -> None:
        path = Path(handle.name)
        if path.parent.parent == work_root:  # a file of the ingest's own folder, before its rename
            pq.read_metadata(path)  # whole: a file whose writer is still open has no footer yet
            events.append(("file", path.name))
        fsync_file(handle)

    def syncing_dir(folder: Path) -> None:
        events.append(("dir", (folder, sorted(p.name for p in folder.iterdir()))))
        fsync_dir(folder)

    monkeypatch.setattr(lake, "fsync_file", syncing_file)
    monkeypatch.setattr(lake, "fsync_dir", syncing_dir)
    content = line(VALID_BASE) + "\n"
    got = ingest(data_dir, "a.jsonl", content, reference=False)
    export_id = hashlib.sha256(content.encode()).hexdigest()[:24]
    assert (got.result.outcome, got.result.export_id) == ("ingested", export_id)
    assert sorted(events[:3]) == [("file", f"{n}.parquet") for n in ("ingest_log", "quarantine", "staged")], events
    assert ("dir", (ingest_root, [export_id])) in events[3:], events


def test_an_ingest_that_fails_part_way_leaves_nothing_in_the_lake(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails (a full disk) ends the ingest with its error, and the folder it was writing goes with
    it: nothing under the lake's work folder, nothing committed (found by a mutation audit)."""
    from runlens import lake

    def full_disk(*_args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ingest_module.IngestWriter, "write", full_disk)
    path = data_dir / "exports" / "a.jsonl"
    path.write_text(line(VALID_BASE) + "\n")
    settings = Settings.from_env(data_dir)
    with pytest.raises(OSError, match="No space left on device"):
        ingest_file(path, settings, RecordValidator.from_file(settings.schema_path))
    assert list((settings.lake_dir / lake.TMP).iterdir()) == []
    assert not (settings.lake_dir / "ingest").exists() or list((settings.lake_dir / "ingest").iterdir()) == []


def test_a_processor_is_not_kept_for_a_file_read_under_other_limits(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch processor kept from file to file for one validator is made again when the limits change: the
    second file, read under a deeper nesting cap, stages the record the first file's cap quarantined (found by a
    mutation audit)."""
    settings = Settings.from_env(data_dir)
    validator = RecordValidator.from_file(settings.schema_path)
    deep = line(variant(input={"a": {"b": {"c": {}}}})) + "\n"
    monkeypatch.setenv("RUNLENS_MAX_NESTING_DEPTH", "4")
    capped = ingest(data_dir, "capped.jsonl", deep, reference=False, validator=validator)
    assert [row["errors"][0]["keyword"] for row in capped.quarantine] == ["depth"]
    monkeypatch.setenv("RUNLENS_MAX_NESTING_DEPTH", "8")
    deeper = ingest(data_dir, "deeper.jsonl", deep + "\n", reference=False, validator=validator)
    assert (len(deeper.staged), deeper.quarantine) == (1, [])


def test_a_file_rewritten_while_read_with_its_size_and_time_put_back_is_not_recorded(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer can put a file's size and modification time back, not its change time: a rewrite of the same
    length with the old mtime restored, during the ingest, is still seen, and nothing of the file is recorded
    (found by a mutation audit: the change time was not pinned)."""
    path = data_dir / "exports" / "a.jsonl"
    path.write_text(line(variant(runId="run_1")) + "\n")
    time.sleep(0.05)  # past the clock tick of the write, so the rewrite's change time differs
    before = path.stat()
    write = ingest_module.IngestWriter.write

    def write_then_rewrite(self: Any, *args: Any) -> None:
        write(self, *args)
        path.write_text(line(variant(runId="run_2")) + "\n")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    monkeypatch.setattr(ingest_module.IngestWriter, "write", write_then_rewrite)
    settings = Settings.from_env(data_dir)
    result = ingest_file(path, settings, RecordValidator.from_file(settings.schema_path))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    assert (result.outcome, result.message) == ("unreadable", ingest_module.CHANGED_WHILE_READ)
    assert not list(settings.lake_dir.rglob("*.parquet"))


def test_a_changed_schema_is_not_mentioned_when_no_record_was_quarantined_under_another(data_dir: Path) -> None:
    """The notice says that records quarantined under another schema are not validated again: with none
    quarantined there is nothing to validate again, and nothing is said (found by a mutation audit)."""
    settings = Settings.from_env(data_dir)
    bundled = RecordValidator.from_file(settings.schema_path)
    loose_schema = json.loads(settings.schema_path.read_text())
    del loose_schema["properties"]["runId"]["pattern"]
    loose = RecordValidator(loose_schema, data_dir / "loose.json")
    assert loose.digest != bundled.digest
    ingest(data_dir, "good.jsonl", line(VALID_BASE) + "\n", validator=bundled)
    assert ingest_module.schema_change_notice(settings.lake_dir, loose) is None


@pytest.mark.parametrize("enabled", [True, False])
def test_an_ingest_leaves_the_garbage_collector_as_it_found_it(data_dir: Path, enabled: bool) -> None:
    """Parsing pauses Python's cyclic garbage collector; the ingest turns it back on when it was on, and leaves it
    off when it was off (a process that ingests, a Dagster step or `runlens run`, must not be left without it)
    (found by a mutation audit)."""
    import gc

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        got = ingest(data_dir, "a.jsonl", line(VALID_BASE) + "\n", reference=False)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert got.result.records_valid == 1


def test_a_long_value_that_is_no_date_time_is_named_by_its_start_and_the_characters_left_out() -> None:
    """The storage message of a createdAt the schema let through that is no date-time shows its first 200
    characters and says how many more there are (found by a mutation audit: the count was not pinned)."""
    value = "y" * 150 + "z" * 350
    message = ingest_module._not_a_date_time("createdAt", value)
    assert message.startswith(f'"{"y" * 150}{"z" * 50}" …[300 more characters] passes the schema'), message
    short = ingest_module._not_a_date_time("createdAt", "z" * 200)
    assert short.startswith(f'"{"z" * 200}" passes the schema'), short


def pooled_ingest(data_dir: Path, monkeypatch: pytest.MonkeyPatch, content: str) -> Ingested:
    """``content`` ingested by a pool of two workers, in batches of about one record (many more than the pool holds in
    flight at once)."""
    monkeypatch.setenv("RUNLENS_INGEST_WORKERS", "2")
    monkeypatch.setattr(ingest_module, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(readers, "CHUNK_BYTES", 64)
    monkeypatch.setattr(readers, "LINE_END_HEAD_BYTES", 64)  # the head is one block: make it one small block too
    return ingest(data_dir, "pooled.jsonl", content, reference=False)


def test_the_worker_pool_writes_the_rows_of_many_batches_in_file_order(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool processes a few batches at a time and hands them back as they were read, so the lake's rows stay in
    file order whichever worker finishes first (found by a mutation audit: the pool test never held more batches
    in flight than the pool takes before it hands one back)."""
    records = [variant(runId=f"run_{i:02d}", status="bogus" if i % 5 == 0 else "queued") for i in range(30)]
    got = pooled_ingest(data_dir, monkeypatch, "".join(line(r) + "\n" for r in records))
    assert [row["run_id"] for row in got.staged] == [r["runId"] for r in records if r["status"] == "queued"]
    assert [row["record_index"] for row in got.quarantine] == list(range(0, 30, 5))


def test_the_worker_pool_applies_the_limits_of_the_run(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers validate under the run's limits, not the defaults: a nesting cap given to the ingest quarantines
    the record nested too deep in a pooled ingest as it does in one process (found by a mutation audit)."""
    monkeypatch.setattr(ingest_module, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(readers, "CHUNK_BYTES", 64)
    settings = Settings.from_env(data_dir)
    limits = dataclasses.replace(settings.limits, max_nesting_depth=4, ingest_workers=2)
    records = [variant(runId="run_flat"), variant(runId="run_deep", input={"a": {"b": {"c": {}}}})]
    path = data_dir / "exports" / "pooled.jsonl"
    path.write_text("".join(line(r) + "\n" for r in records))
    result = ingest_file(path, settings.with_overrides(limits=limits), RecordValidator.from_file(settings.schema_path))
    folder = settings.lake_dir / "ingest" / result.export_id
    assert pq.read_table(folder / "staged.parquet")["run_id"].to_pylist() == ["run_flat"]
    [row] = pq.read_table(folder / "quarantine.parquet").to_pylist()
    assert (row["record_index"], row["errors"][0]["keyword"]) == (1, "depth")


def test_an_ingest_with_nothing_to_note_records_no_message(data_dir: Path) -> None:
    """ingest_log.message is NULL when the file was read whole without a note, so `message is not null` finds the
    files with something to say (found by a mutation audit: an empty text went unseen)."""
    clean = ingest(data_dir, "clean.jsonl", line(VALID_BASE) + "\n", reference=False)
    assert (clean.log["outcome"], clean.log["message"], clean.result.message) == ("ingested", None, "")
    noted = ingest(data_dir, "noted.json", json.dumps([VALID_BASE, VALID_BASE])[:-20], reference=False)
    assert "the file ends inside a value" in noted.log["message"], noted.log


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_quarantined_as_not_json(data_dir: Path, constant: str) -> None:
    """NaN and Infinity are not JSON numbers: a record holding one, even where any value passes (input), is
    quarantined as not valid JSON, not taken for a record that passes the schema but cannot be stored (found by a
    mutation audit: the reference maps both reasons to one marker)."""
    raw = '{"runId": "run_c", "workflowName": "w", "status": "queued", "input": {"x": ' + constant + "}}"
    got = ingest(data_dir, "constants.jsonl", line(VALID_BASE) + "\n" + raw + "\n", reference=False)
    assert [row["run_id"] for row in got.staged] == ["run_ok"]
    [row] = got.quarantine
    assert [(e["path"], e["keyword"]) for e in row["errors"]] == [("$", "json")]
    assert row["errors"][0]["message"].startswith("not valid JSON: "), row["errors"]


def test_the_anomaly_names_the_sql_writes_are_the_vocabulary_contracts_documents() -> None:
    """``contracts.ANOMALIES`` is where a reader looks up what a name in ``anomalies`` means; nothing else read it, so
    a name added to or renamed in the SQL could leave it behind (found by a mutation audit: renaming a key changed
    nothing). Staging writes all but one; the runs resolution adds ``status_conflict``."""
    staged = re.findall(r"then '([a-z_]+)'", (SQL_DIR / "stage_records.sql").read_text())
    resolved = re.findall(r"list_append\(s\.anomalies, '([a-z_]+)'\)", (SQL_DIR / "runs_latest.sql").read_text())
    assert resolved == ["status_conflict"]
    assert sorted(staged + resolved) == sorted(ANOMALIES)
