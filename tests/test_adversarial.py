"""Adversarial exports, built here (nothing large is checked in), each with its outcome asserted.

The corpus goes through ``runlens run`` as a whole: no crash, every record either in ``runs`` or in ``quarantine``
with its file, line and reason, reconciliation holding, nothing written outside the data directory, names stored
verbatim. ``runlens validate`` reports every problem in one line that names the file and the position. Caps
(decompressed size, record size, nesting depth) stop hostile files with a clear message and bounded memory.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import re
import subprocess
import sys
import textwrap
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import CliRunner, file_stamps
from runlens import exports, invariants, runs, warehouse
from runlens.config import Limits, Settings
from runlens.ingest import IngestResult, ingest_file
from runlens.validation import RecordValidator

DAY = "2026-03-01"
BIG_STRING_BYTES = 50 * 10**6
CHECKS = (
    "ingest_reconciles",
    "run_ids_unique",
    "runs_created_date_matches",
    "daily_metrics_valid",
    "daily_metrics_reconcile",
)


def rec(run_id: str, **fields: Any) -> dict[str, Any]:
    """A valid completed run on DAY; a field given as None is left out."""
    out: dict[str, Any] = {
        "runId": run_id,
        "workflowName": "adversarial",
        "status": "completed",
        "createdAt": f"{DAY}T10:00:00Z",
        "completedAt": f"{DAY}T10:01:00Z",
    }
    out.update(fields)
    return {key: value for key, value in out.items() if value is not None}


def line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()


def ndjson(*records: dict[str, Any] | bytes) -> bytes:
    return b"\n".join(r if isinstance(r, bytes) else line(r) for r in records) + b"\n"


def nested(depth: int) -> dict[str, Any]:
    """A run record whose containers nest ``depth`` deep (the record itself is depth 1)."""
    value: dict[str, Any] = {}
    for _ in range(depth - 2):
        value = {"a": value}
    return rec(f"run_depth_{depth}", input=value)


def deep_line(run_id: str, depth: int) -> bytes:
    """A run record whose input nests ``depth`` objects (so the record nests ``depth + 1`` deep)."""
    return (
        f'{{"runId": "{run_id}", "workflowName": "w", "status": "queued", "input": '.encode()
        + b'{"a":' * depth
        + b"1"
        + b"}" * depth
        + b"}"
    )


@dataclass(frozen=True)
class Case:
    """One adversarial export file and what must become of it."""

    name: str  # path under exports/
    content: bytes
    valid: tuple[str, ...]  # run ids staged, in file order
    quarantined: dict[int, tuple[int, str]] = field(default_factory=dict)  # record index -> (line, a keyword)
    note: str = ""  # part of the file-level message (ingest_log.message, `runlens validate`)
    outcome: str = "ingested"


NAMES = (
    "a/b",
    "a\\b",
    "..",
    "../../etc/passwd",
    "x=1",
    "100%",
    "%2e%2e%2f",
    'it\'s "quoted"',
    "'; drop table runs; --",
    '" or 1=1 --',
    "nul\u0000byte",
    "😀 emoji 👩‍💻",
    "مرحبا עברית",
    "__HIVE_DEFAULT_PARTITION__",
    "created_date=2020-01-01",
)

# (createdAt, completedAt, expected UTC created_at, expected UTC completed_at)
VALID_TIMES = (
    ("2026-03-01T23:59:60Z", "2026-03-02T00:00:01Z", "2026-03-01T23:59:59.999999", "2026-03-02T00:00:01"),
    ("2026-03-01T15:59:60.5-08:00", None, "2026-03-01T23:59:59.999999", None),
    ("2026-03-01T00:00:00+23:59", "2026-03-01T00:00:00-23:59", "2026-02-28T00:01:00", "2026-03-01T23:59:00"),
    (
        "2026-03-01T10:00:00.123456789Z",
        "2026-03-01T10:00:00.999999999+00:00",
        "2026-03-01T10:00:00.123456",
        "2026-03-01T10:00:00.999999",
    ),
    ("2026-03-01t10:00:00z", "2026-03-01t10:00:01.5z", "2026-03-01T10:00:00", "2026-03-01T10:00:01.500000"),
)
INVALID_TIMES = ("2026-03-01 10:00:00Z", "2026-03-01T10:00:00+0530", "2026-03-01T10:00:00", "2026-03-01T10:30:60Z")


def truncated_gzip() -> tuple[bytes, tuple[str, ...], int]:
    """A gzip file cut short, the run ids whose lines survive whole (decompressed independently with zlib), and the
    line of the record cut in half."""
    records = [rec(f"run_gz_{i}", input={"i": i, "pad": "p" * (i % 50)}) for i in range(400)]
    data = gzip.compress(ndjson(*records), mtime=0)[:-200]
    survived = zlib.decompressobj(wbits=31).decompress(data)
    whole = survived.count(b"\n")
    return data, tuple(r["runId"] for r in records[:whole]), whole + 1


def json_array(*records: dict[str, Any] | bytes) -> bytes:
    """A .json export: one record per line after the opening bracket, so record i is on line i + 1."""
    return b"[" + b",\n".join(r if isinstance(r, bytes) else line(r) for r in records) + b"]\n"


def surrogate_records(tag: str) -> tuple[dict[str, Any] | bytes, ...]:
    """A lone surrogate escape (the 6 characters \\ud800) in each string the schema reads, between two valid runs
    ``run_<tag>_1`` and ``run_<tag>_7``: jsonschema-rs raised UnicodeEncodeError on it, which aborted the ingest, and
    so every later `runlens run`."""

    def queued(n: int, rest: bytes) -> bytes:
        return f'{{"runId": "run_{tag}_{n}", "workflowName": "w", "status": "queued", '.encode() + rest

    return (
        rec(f"run_{tag}_1"),
        b'{"runId": "run_x", "workflowName": "w", "status": "\\ud800"}',
        b'{"runId": "\\ud800", "workflowName": "w", "status": "queued"}',
        queued(4, b'"createdAt": "2026-03-01T10:00:00Z\\udc00"}'),
        queued(5, b'"completedAt": "\\ud800"}'),
        queued(6, b'"\\ud800": 1}'),
        rec(f"run_{tag}_7"),
    )


SURROGATE_QUARANTINED = {i: (i + 1, "json") for i in range(1, 6)}


def corpus() -> list[Case]:
    gz, gz_valid, gz_cut_line = truncated_gzip()
    bom_records = ndjson(rec("run_bom_1"), rec("run_bom_2"))
    utf16 = json.dumps([rec("run_u16_1", workflowName="Zürich ☃"), rec("run_u16_2")], ensure_ascii=False)
    dates = [rec(f"run_time_{i}", createdAt=c, completedAt=f) for i, (c, f, _, _) in enumerate(VALID_TIMES)]
    bad_dates = [rec(f"run_badtime_{i}", createdAt=stamp) for i, stamp in enumerate(INVALID_TIMES)]
    names = [rec(f"run_name_{i}", workflowName=n, status="failed", error=n) for i, n in enumerate(NAMES)]
    return [
        Case("empty.json", b"", (), note="no JSON value"),
        Case("whitespace.jsonl", b" \n\t\r\n   \n", ()),
        Case("whitespace.json", b"  \r\n\t \n", (), note="no JSON value"),
        Case("bom.jsonl", codecs.BOM_UTF8 + bom_records, ("run_bom_1", "run_bom_2")),
        Case("utf16.json", utf16.encode("utf-16"), ("run_u16_1", "run_u16_2")),
        Case(
            "utf16le_without_bom.jsonl",
            ndjson(rec("run_u16le_1"), rec("run_u16le_2")).decode().encode("utf-16-le"),
            ("run_u16le_1", "run_u16le_2"),
        ),
        Case(
            "invalid_utf8.jsonl",
            ndjson(
                rec("run_iu_1"),
                b'{"runId": "run_iu_2", "workflowName": "bad \xff\xfe", "status": "queued"}',
                rec("run_iu_3"),
            ),
            ("run_iu_1", "run_iu_3"),
            {1: (2, "json")},
        ),
        Case(
            "crlf.jsonl",
            line(rec("run_crlf_1")) + b"\r\n" + line(rec("run_crlf_2")) + b"\r\n" + b'{"runId": "run_crlf_3"}\r\n',
            ("run_crlf_1", "run_crlf_2"),
            {2: (3, "required")},
        ),
        Case(
            "cr_only.jsonl",
            line(rec("run_cr_1")) + b"\r" + line(rec("run_cr_2")) + b"\r\r" + b'{"runId": "run_cr_3"}\r',
            ("run_cr_1", "run_cr_2"),
            {2: (4, "required")},
        ),
        Case(
            "blank_lines.jsonl",
            line(rec("run_bl_1"))
            + b"\n\n   \n\t\r\n"
            + line(rec("run_bl_2"))
            + b"\n\n"
            + b'{"runId": "run_bl_3", "workflowName": "w", "status": "done"}\n',
            ("run_bl_1", "run_bl_2"),
            {2: (7, "enum")},
        ),
        Case(
            "truncated_last_line.jsonl",
            ndjson(rec("run_tl_1")) + line(rec("run_tl_2"))[:-9],
            ("run_tl_1",),
            {1: (2, "json")},
        ),
        Case("truncated.jsonl.gz", gz, gz_valid, {len(gz_valid): (gz_cut_line, "json")}, "ends early", "partial"),
        Case(
            "nan_infinity.jsonl",
            b'{"runId": "run_nan_1", "workflowName": "w", "status": "queued", "input": {"x": NaN}}\n'
            b'{"runId": "run_nan_2", "workflowName": "w", "status": "queued", "input": {"x": Infinity}}\n'
            b'{"runId": "run_nan_3", "workflowName": "w", "status": "queued", "input": {"x": -Infinity}}\n'
            b'{"runId": "run_nan_4", "workflowName": "NaN", "status": "queued", "input": {"x": "Infinity"}}\n',
            ("run_nan_4",),
            {0: (1, "json"), 1: (2, "json"), 2: (3, "json")},
        ),
        Case(
            "duplicate_keys.jsonl",
            b'{"runId": "run_dup_1", "workflowName": "first", "status": 5, "workflowName": "last", '
            b'"status": "queued"}\n'
            b'{"runId": "run_dup_2", "workflowName": "w", "status": "queued", "status": 5}\n',
            ("run_dup_1",),
            {1: (2, "type")},
        ),
        Case(
            "numbers_for_strings.jsonl",
            ndjson(
                {"runId": 12, "workflowName": "w", "status": "queued"},
                {"runId": "run_num_2", "workflowName": 3.5, "status": "queued"},
                {"runId": "run_num_3", "workflowName": "w", "status": 1},
                rec("run_num_4", status="failed", error=0),
                rec("run_num_5", createdAt=1772359200),
                rec("run_num_6", workflowName="12", error="0"),
            ),
            ("run_num_6",),
            {0: (1, "type"), 1: (2, "type"), 2: (3, "type"), 3: (4, "type"), 4: (5, "type")},
        ),
        Case(
            "trailing_comma.json",
            b"[\n" + line(rec("run_tc_1")) + b",\n" + line(rec("run_tc_2")) + b",\n]\n",
            ("run_tc_1", "run_tc_2"),
            note="stray comma",
        ),
        Case(
            "deep.jsonl",
            ndjson(rec("run_deep_1"), deep_line("run_deep_2", 5000), rec("run_deep_3")),
            ("run_deep_1", "run_deep_3"),
            {1: (2, "depth")},
        ),
        Case(
            "deep.json",
            b"["
            + line(rec("run_deepj_1"))
            + b",\n"
            + deep_line("run_deepj_2", 5000)
            + b",\n"
            + line(rec("run_deepj_3"))
            + b"]",
            ("run_deepj_1", "run_deepj_3"),
            {1: (2, "depth")},
        ),
        Case(
            "depth_at_the_default_cap.jsonl",
            ndjson(nested(Limits().max_nesting_depth), nested(Limits().max_nesting_depth + 1)),
            (f"run_depth_{Limits().max_nesting_depth}",),
            {1: (2, "depth")},
        ),
        Case(
            "dates.jsonl",
            ndjson(*dates, *bad_dates),
            tuple(r["runId"] for r in dates),
            {len(dates) + i: (len(dates) + i + 1, "format") for i in range(len(bad_dates))},
        ),
        Case(
            "far_apart_dates.jsonl",
            ndjson(
                rec("run_far_1", createdAt="0001-01-02T10:00:00Z", completedAt=None),
                rec("run_far_2", createdAt="2019-12-31T23:00:00-05:00", completedAt=None),
                rec("run_far_3", createdAt="2099-01-01T10:00:00Z", completedAt=None),
                rec("run_far_4", createdAt="9999-12-31T23:59:59-23:59", completedAt=None),
            ),
            ("run_far_1", "run_far_2", "run_far_3"),
            {3: (4, "storage")},
        ),
        Case("lone_surrogate.jsonl", ndjson(*surrogate_records("sl")), ("run_sl_1", "run_sl_7"), SURROGATE_QUARANTINED),
        Case(
            "lone_surrogate.json", json_array(*surrogate_records("sj")), ("run_sj_1", "run_sj_7"), SURROGATE_QUARANTINED
        ),
        # a path full of what must never reach SQL text or a lake path
        Case(
            'we\'ird "dir"/x=1/__HIVE_DEFAULT_PARTITION__/a\\b %2e%2e 😀 שלום; drop table runs;--.jsonl',
            ndjson(*names),
            tuple(r["runId"] for r in names),
        ),
    ]


CASES = corpus()
# 50 MB in one string, under the default 64 MiB record cap: stored whole (checked on the ingest-level corpus only, to
# keep the end-to-end run short)
BIG_STRING = Case(
    "big_string.jsonl",
    ndjson(rec("run_big_1", status="failed", error="x" * BIG_STRING_BYTES), rec("run_big_2")),
    ("run_big_1", "run_big_2"),
)


def test_corpus_goes_through_runlens_run(tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "da'ta = 1 😀" / "root"
    for case in CASES:
        path = data / "exports" / case.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.content)
    for folder in ("home", "cwd"):
        (tmp_path / folder).mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path / "cwd")
    before = file_stamps(tmp_path, data)

    result = run_cli("run", "--data-dir", data)

    assert result.code == 0, result.err
    assert file_stamps(tmp_path, data) == before, "runlens wrote outside its data directory"
    settings = Settings.from_env(data)
    for check in CHECKS:
        assert invariants.violations(settings, check).count == 0, check
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        logs = {
            row[0]: row[1:]
            for row in con.execute(
                "select source_file, records_read, records_valid, records_quarantined, outcome, coalesce(message, '') "
                "from ingest_log"
            ).fetchall()
        }
        staged_ids = dict(con.execute("select run_id, source_file from runs").fetchall())
        quarantine = con.execute(
            "select source_file, record_index, line, list_transform(errors, lambda e: e.keyword) from quarantine"
        ).fetchall()
    assert sorted(logs) == sorted(case.name for case in CASES)
    for case in CASES:
        read, valid, quarantined, outcome, message = logs[case.name]
        assert (valid, quarantined, outcome) == (len(case.valid), len(case.quarantined), case.outcome), case.name
        assert read == valid + quarantined
        assert case.note in message, (case.name, message)
        got = {index: (at, keywords) for source, index, at, keywords in quarantine if source == case.name}
        assert sorted(got) == sorted(case.quarantined), case.name
        for index, (at, keyword) in case.quarantined.items():
            assert got[index][0] == at and keyword in got[index][1], (case.name, index, got[index])
    expected_runs = {run_id: case.name for case in CASES for run_id in case.valid}
    assert staged_ids == expected_runs, "every valid record is a run of its own file, nothing else is"
    assert len(quarantine) == sum(len(case.quarantined) for case in CASES)
    lake_paths = [p.relative_to(data / "lake").as_posix() for p in (data / "lake").rglob("*.parquet")]
    assert all(
        re.fullmatch(
            r"(ingest/[0-9a-f]{24}|runs/created_date=\d{4}-\d\d-\d\d|metrics/\w+(/day=\d{4}-\d\d-\d\d)?|state)"
            r"/\w+\.parquet",
            p,
        )
        for p in lake_paths
    ), "a lake path derived from data"


@pytest.fixture(scope="module")
def corpus_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus ingested with ingest_file and runs rebuilt for its days (no Dagster), shared by the checks below."""
    root = tmp_path_factory.mktemp("corpus")
    settings = Settings.from_env(root)
    validator = RecordValidator.from_file(settings.schema_path)
    for case in [*CASES, BIG_STRING]:
        path = root / "exports" / case.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.content)
        ingest_file(path, settings, validator, case.name)
    runs.rebuild_days(settings.lake_dir, runs.all_days(settings.lake_dir))
    return root


def query(root: Path, sql: str) -> list[tuple[Any, ...]]:
    """``sql`` over ``runs`` of the lake under ``root`` (the glob is bound, never spliced into the text)."""
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        runs_table = "(select * from read_parquet($glob, hive_partitioning = true))"
        return con.execute(
            sql.replace("from runs", f"from {runs_table}"), {"glob": f"{root}/lake/runs/*/*.parquet"}
        ).fetchall()


def test_names_are_stored_verbatim(corpus_lake: Path) -> None:
    got = dict(query(corpus_lake, "select workflow_name, error from runs where run_id like 'run_name_%'"))
    assert sorted(got) == sorted(NAMES)
    assert all(got[name] == name for name in NAMES)
    assert query(corpus_lake, "select workflow_name from runs where run_id = 'run_u16_1'") == [("Zürich ☃",)]
    assert query(corpus_lake, "select workflow_name from runs where run_id = 'run_dup_1'") == [("last",)]


def test_big_string_is_stored_whole(corpus_lake: Path) -> None:
    [(length, head)] = query(corpus_lake, "select length(error), left(error, 3) from runs where run_id = 'run_big_1'")
    assert (length, head) == (BIG_STRING_BYTES, "xxx")


def test_date_times_become_utc(corpus_lake: Path) -> None:
    got = {
        run_id: (created, completed)
        for run_id, created, completed in query(
            corpus_lake, "select run_id, created_at, completed_at from runs where run_id like 'run_time_%'"
        )
    }

    def utc(text: str | None) -> datetime | None:
        return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)

    for i, (_, _, created, completed) in enumerate(VALID_TIMES):
        assert got[f"run_time_{i}"] == (utc(created), utc(completed)), VALID_TIMES[i]


def test_validate_reports_each_problem_in_one_line_naming_file_and_position(tmp_path: Path, run_cli: CliRunner) -> None:
    paths = {}
    for case in CASES:
        if case.quarantined or case.note:
            path = tmp_path / case.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(case.content)
            paths[case.name] = path
    result = run_cli("validate", *paths.values())
    assert result.code == 1
    printed = result.out.splitlines()
    for case in CASES:
        if case.name not in paths:
            continue
        mine = [text for text in printed if text.startswith(f"{paths[case.name]}:")]
        for index, (at, _) in case.quarantined.items():
            assert any(text.startswith(f"{paths[case.name]}:{at}: record {index}: $") for text in mine), case.name
        if case.note:
            assert any(case.note in text for text in mine), case.name
    assert all(any(text.startswith(f"{p}:") for p in paths.values()) for text in printed), "a line naming no file"


def ingest_one(tmp_path: Path, name: str, content: bytes, limits: Limits | None = None) -> tuple[IngestResult, Path]:
    settings = Settings.from_env(tmp_path / "data")
    if limits is not None:
        settings = settings.with_overrides(limits=limits)
    path = tmp_path / name
    path.write_bytes(content)
    return ingest_file(path, settings, RecordValidator.from_file(settings.schema_path), name), settings.lake_dir


def quarantine_of(lake_dir: Path) -> list[dict[str, Any]]:
    with duckdb.connect() as con:
        glob = f"{lake_dir}/ingest/*/quarantine.parquet"
        cursor = con.execute("select * from read_parquet($glob) order by record_index", {"glob": glob})
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_nesting_depth_cap_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLENS_MAX_NESTING_DEPTH", "10")
    result, lake_dir = ingest_one(tmp_path, "depth.jsonl", ndjson(nested(10), nested(11), nested(3)))
    assert (result.records_valid, result.records_quarantined) == (2, 1)
    [row] = quarantine_of(lake_dir)
    assert (row["record_index"], row["errors"][0]["keyword"]) == (1, "depth")
    assert "deeper than 10 levels (RUNLENS_MAX_NESTING_DEPTH)" in row["errors"][0]["message"]


def test_depth_cap_above_the_parser_limit_is_the_parser_limit(tmp_path: Path) -> None:
    content = ndjson(deep_line("run_d512", 511), deep_line("run_d513", 512))
    result, lake_dir = ingest_one(tmp_path, "deep.jsonl", content, Limits(max_nesting_depth=5000))
    assert (result.records_read, result.records_valid, result.records_quarantined) == (2, 1, 1)
    errors = {row["record_index"]: row["errors"][0] for row in quarantine_of(lake_dir)}
    assert errors[1]["keyword"] == "depth" and "deeper than 512 levels" in errors[1]["message"]


def test_brackets_inside_strings_do_not_count_as_depth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLENS_MAX_NESTING_DEPTH", "4")
    text = "[{" * 50 + '\\"' + "]}" * 3
    result, _ = ingest_one(tmp_path, "strings.jsonl", ndjson(rec("run_s1", error=text, input={"k[{": {"[": [1]}})))
    assert (result.records_valid, result.records_quarantined) == (1, 0)


def test_utc_time_outside_years_1_to_9999_is_quarantined_not_fatal(tmp_path: Path) -> None:
    content = ndjson(
        rec("run_y1", createdAt="9999-12-31T23:59:59-23:59", completedAt=None),
        rec("run_y2", createdAt="0001-01-01T00:00:00+23:59", completedAt=None),
        rec("run_y3", createdAt="9999-12-31T00:00:00Z", completedAt="9999-12-31T12:00:00-23:59"),
        rec("run_y4", createdAt="0001-01-01T00:00:00-23:59", completedAt=None),
    )
    result, lake_dir = ingest_one(tmp_path, "years.jsonl", content)
    assert (result.records_valid, result.records_quarantined) == (1, 3)
    assert result.days == {date(1, 1, 1)}
    paths = {row["record_index"]: [(e["path"], e["keyword"]) for e in row["errors"]] for row in quarantine_of(lake_dir)}
    assert paths == {
        0: [("$.createdAt", "storage")],
        1: [("$.createdAt", "storage")],
        2: [("$.completedAt", "storage")],
    }


def test_year_0000_is_not_a_date_time(tmp_path: Path) -> None:
    """Python jsonschema (the reference) refuses year 0000 as a date-time; jsonschema-rs took it, and runlens then
    stored `0000-12-31T23:30:00-01:00` as 0001-01-01T00:30Z and quarantined `0000-06-01T00:00:00Z` as `storage`
    ("a valid date-time ..."). Both are `format` violations now, escaped digits included."""
    from jsonschema import Draft202012Validator

    reference = Draft202012Validator(
        json.loads(Settings.from_env(tmp_path).schema_path.read_text()),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    records = [
        rec("run_z1", createdAt="0000-12-31T23:30:00-01:00", completedAt=None),
        rec("run_z2", createdAt="0000-06-01T00:00:00Z", completedAt=None),
        rec("run_z3", completedAt="0000-01-01T00:00:00+00:00"),
        rec("run_z4", createdAt="0001-01-01T00:30:00Z", completedAt=None, input={"note": "0000-01-01T00:00:00Z"}),
    ]
    escaped = line(rec("run_z5", completedAt=None)).replace(b'"2026-', b'"\\u0030000-')
    content = ndjson(*records, escaped)
    result, lake_dir = ingest_one(tmp_path, "year0.jsonl", content)
    assert (result.records_valid, result.records_quarantined) == (1, 4)
    found = {row["record_index"]: {(e["path"], e["keyword"]) for e in row["errors"]} for row in quarantine_of(lake_dir)}
    parsed = [json.loads(raw) for raw in content.splitlines()]
    expected = {
        i: {("$." + ".".join(map(str, e.absolute_path)), str(e.validator)) for e in reference.iter_errors(record)}
        for i, record in enumerate(parsed)
        if not reference.is_valid(record)
    }
    assert (
        found
        == expected
        == {
            i: {(f"$.{name}", "format")}
            for i, name in [(0, "createdAt"), (1, "createdAt"), (2, "completedAt"), (4, "createdAt")]
        }
    )


def test_extra_fields_keep_their_exported_text(tmp_path: Path) -> None:
    raw = (
        b'{"runId": "run_x1", "workflowName": "w", "status": "queued", "big": 123456789012345678901234567890, '
        b'"n": 1.50, "e": 1E2, "deep": ' + b"[" * 300 + b"]" * 300 + b', "text": "\\u00e9\\u0000"}'
    )
    _, lake_dir = ingest_one(tmp_path, "extra.jsonl", raw + b"\n", Limits(max_nesting_depth=400))
    with duckdb.connect() as con:
        glob = f"{lake_dir}/ingest/*/staged.parquet"
        [(extra,)] = con.execute("select extra from read_parquet($glob)", {"glob": glob}).fetchall()
    assert extra == (
        '{"big":123456789012345678901234567890,"n":1.50,"e":1E2,"deep":'
        + "[" * 300
        + "]" * 300
        + ',"text":"\\u00e9\\u0000"}'
    )
    assert json.loads(extra)["big"] == 123456789012345678901234567890


def test_a_number_beyond_a_double_is_reported_as_written(tmp_path: Path) -> None:
    """1E400 overflows a double. In a string field it used to be reported as `null is not of type "string"` (the
    value as parsed); inside input, where any value passes the schema, the record stays valid, its text kept."""
    content = ndjson(
        b'{"runId": 1E400, "workflowName": "w", "status": "queued"}',
        b'{"runId": "run_ob_2", "workflowName": "w", "status": -1E400, "input": {"x": 1E400}}',
        b'{"runId": "run_ob_3", "workflowName": "w", "status": "queued", "input": {"x": 1E400}}',
    )
    result, lake_dir = ingest_one(tmp_path, "overflow.jsonl", content)
    assert (result.records_valid, result.records_quarantined) == (1, 2)
    rows = quarantine_of(lake_dir)
    assert {row["record_index"]: [(e["path"], e["message"]) for e in row["errors"]] for row in rows} == {
        0: [("$.runId", '1E400 is not of type "string"')],
        1: [
            ("$.status", '-1E400 is not of type "string"'),
            ("$.status", '-1E400 is not one of "queued", "running" or 2 other candidates'),
        ],
    }
    with duckdb.connect() as con:
        glob = f"{lake_dir}/ingest/*/staged.parquet"
        assert con.execute("select input from read_parquet($glob)", {"glob": glob}).fetchall() == [('{"x": 1E400}',)]


def test_an_integer_longer_than_python_converts_meets_the_fate_of_a_number_beyond_a_double(tmp_path: Path) -> None:
    """An integer of more than 4,300 digits (Python's limit on converting text to int) in a record the fast path
    refuses for another reason (a leap second, a number in runId): where any value passes (input, an unknown field)
    the record is valid, as it is when the fast path takes it; in a string field it is named as written. Both were
    quarantined as `not valid JSON: number is infinity when parsed as double`."""
    big = "9" * 5000
    leap = '"createdAt": "2016-12-31T23:59:60Z"'
    content = ndjson(
        f'{{"runId": "run_big_1", "workflowName": "w", "status": "queued", {leap}, "input": {{"n": -{big}}}}}'.encode(),
        f'{{"runId": "run_big_2", "workflowName": "w", "status": "queued", {leap}, "size": {big}}}'.encode(),
        f'{{"runId": {big}, "workflowName": "w", "status": "queued"}}'.encode(),
        f'{{"runId": "run_big_4", "workflowName": "w", "status": "queued", "input": {{"n": {big}}}}}'.encode(),
    )
    result, lake_dir = ingest_one(tmp_path, "big_int.jsonl", content)
    assert (result.records_valid, result.records_quarantined) == (3, 1)
    [row] = quarantine_of(lake_dir)
    [error] = row["errors"]
    assert (row["record_index"], error["path"]) == (2, "$.runId")
    assert error["message"] == f'{big[:800]} …[4024 characters left out]… {big[-176:]} is not of type "string"'

    with duckdb.connect() as con:
        glob = f"{lake_dir}/ingest/*/staged.parquet"
        query = "select run_id, input, extra, anomalies from read_parquet($glob) order by record_index"
        assert con.execute(query, {"glob": glob}).fetchall() == [
            ("run_big_1", f'{{"n": -{big}}}', None, ["leap_second"]),
            ("run_big_2", None, f'{{"size":{big}}}', ["leap_second"]),
            ("run_big_4", f'{{"n": {big}}}', None, ["missing_created_at"]),
        ]


def test_lone_surrogate_in_a_string_the_schema_does_not_read_is_quarantined_at_its_path(tmp_path: Path) -> None:
    """Stored text cannot hold a lone surrogate wherever it is: the record is quarantined with the message and path
    a string the schema reads gets, not the staging step's "needs runId, workflowName and status"."""
    content = ndjson(
        rec("run_ls_1"),
        b'{"runId": "run_ls_2", "workflowName": "w", "status": "queued", "note": "\\ud800"}',
        b'{"runId": "run_ls_3", "workflowName": "w\\udfff", "status": "queued"}',
        b'{"runId": "run_ls_4", "workflowName": "w", "status": "queued", "input": {"a": ["x", "\\udc00"]}}',
        rec("run_ls_5"),
    )
    result, lake_dir = ingest_one(tmp_path, "surrogate.jsonl", content)
    assert (result.records_valid, result.records_quarantined) == (2, 3)
    found = [(row["record_index"], [tuple(e.values()) for e in row["errors"]]) for row in quarantine_of(lake_dir)]
    message = "not valid JSON text: a lone surrogate escape ({}) is not a Unicode character"
    assert found == [
        (1, [("$.note", "json", message.format("\\ud800"))]),
        (2, [("$.workflowName", "json", message.format("\\udfff"))]),
        (3, [("$.input.a[1]", "json", message.format("\\udc00"))]),
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_a_lone_surrogate_escape_the_schema_reads_is_quarantined_not_fatal(tmp_path: Path, fmt: str) -> None:
    """jsonschema-rs cannot take a string holding a lone surrogate: the batch is validated again record by record
    and the records it raises on are quarantined (keyword `json`, the string's path), their neighbours ingested."""
    content = (ndjson if fmt == "jsonl" else json_array)(*surrogate_records("sur"))
    result, lake_dir = ingest_one(tmp_path, f"surrogate.{fmt}", content)
    assert (result.records_read, result.records_valid, result.records_quarantined) == (7, 2, 5)
    rows = quarantine_of(lake_dir)
    assert [(row["record_index"], row["line"]) for row in rows] == [(i, i + 1) for i in range(1, 6)]
    assert [[(e["path"], e["keyword"], e["message"]) for e in row["errors"]] for row in rows] == [
        [(path, "json", f"not valid JSON text: a lone surrogate escape ({escape}) is not a Unicode character")]
        for path, escape in (
            ("$.status", "\\ud800"),
            ("$.runId", "\\ud800"),
            ("$.createdAt", "\\udc00"),
            ("$.completedAt", "\\ud800"),
            ('$["\\ud800"]', "\\ud800"),
        )
    ]


def long_line_content(size: int, fmt: str) -> bytes:
    huge = rec("run_ll_2", error="y" * size)
    if fmt == "jsonl":
        return ndjson(rec("run_ll_1"), huge, rec("run_ll_3"))
    return b"[" + b",\n".join(line(r) for r in (rec("run_ll_1"), huge, rec("run_ll_3"))) + b"]"


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_a_line_beyond_the_record_cap_is_cut_and_quarantined(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scaled-down version of a single line of gigabytes: a 24 MiB record against a 1 MiB cap."""
    cap = 2**20
    monkeypatch.setenv("RUNLENS_MAX_RECORD_BYTES", str(cap))
    result, lake_dir = ingest_one(tmp_path, f"long.{fmt}", long_line_content(24 * 2**20, fmt))
    assert (result.records_read, result.records_valid, result.records_quarantined) == (3, 2, 1)
    [row] = quarantine_of(lake_dir)
    assert (row["record_index"], row["line"], row["raw_truncated"]) == (1, 2, True)
    assert row["raw"].startswith('{"runId": "run_ll_2"') and len(row["raw"]) <= cap
    assert "RUNLENS_MAX_RECORD_BYTES" in row["errors"][0]["message"]


@pytest.mark.parametrize(("fmt", "skip_cap"), [("jsonl", False), ("json", False), ("jsonl", True)])
def test_a_record_over_a_cap_set_below_the_kept_start_is_kept_whole_and_not_flagged_cut(
    tmp_path: Path, fmt: str, skip_cap: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a cap under 64 KiB, a 5 KB record over it was stored whole yet flagged `raw_truncated`, its message saying
    "only its start is kept" (found by a review). ``skip_cap``: a record over 64 KiB, skipped past, is cut there."""
    size = 100 * 2**10 if skip_cap else 5000
    monkeypatch.setenv("RUNLENS_MAX_RECORD_BYTES", "300")
    content = long_line_content(size, fmt)
    result, lake_dir = ingest_one(tmp_path, f"long.{fmt}", content)
    assert (result.records_read, result.records_valid, result.records_quarantined) == (3, 2, 1)
    [row] = quarantine_of(lake_dir)
    message = row["errors"][0]["message"]
    if skip_cap:
        assert row["raw_truncated"] and len(row["raw"].encode()) == 64 * 2**10
        assert message.endswith("; only its first 65536 bytes are kept")
    else:
        assert not row["raw_truncated"] and json.loads(row["raw"]) == rec("run_ll_2", error="y" * size)
        assert message == "record longer than 300 bytes (RUNLENS_MAX_RECORD_BYTES); kept whole in quarantine"


MEMORY_PROBE = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from runlens.config import Settings
    from runlens.ingest import ingest_file
    from runlens.validation import RecordValidator

    path, root = Path(sys.argv[1]), Path(sys.argv[2])
    settings = Settings.from_env(root)
    validator = RecordValidator.from_file(settings.schema_path)
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = ingest_file(path, settings, validator, path.name)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start) // 1024
    print(result.outcome, result.records_read, result.records_valid, result.records_quarantined, grown)
    print(result.message)
    """
)


def ingest_in_subprocess(path: Path, root: Path, **env: str) -> tuple[list[int | str], str]:
    """Ingest in a fresh process: its peak memory growth (MiB) is then the ingest's own."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path), str(root)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    counts, message = done.stdout.splitlines()
    return [int(v) if v.isdigit() else v for v in counts.split()], message


def test_gzip_bomb_is_stopped_at_the_cap_in_bounded_memory(tmp_path: Path) -> None:
    """1 GiB of decompressed output from a 1 MiB file; the cap (32 MiB here) stops it with a message naming the
    setting and the byte offset; the records before the bomb are kept."""
    member = gzip.compress(b" " * 2**23, mtime=0)
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(ndjson(rec("run_bomb_1"), rec("run_bomb_2")), mtime=0) + member * 128)
    assert path.stat().st_size < 2**20
    (outcome, read, valid, quarantined, grown), message = ingest_in_subprocess(
        path, tmp_path / "data", RUNLENS_MAX_DECOMPRESSED_BYTES=str(32 * 2**20)
    )
    assert (outcome, valid) == ("partial", 2)
    assert read == valid + quarantined
    assert f"reading stopped at RUNLENS_MAX_DECOMPRESSED_BYTES = {32 * 2**20} bytes after decompression (" in message
    assert re.search(r"\(\d+ decompressed\): the records after the first 2 were not read; raise the cap", message)
    assert grown < 400, f"memory grew by {grown} MiB"


def test_lone_surrogate_in_a_utf16_file_is_quarantined_not_replaced(tmp_path: Path) -> None:
    """A UTF-16 code unit D800 with no partner: its record is quarantined, as the same character in a UTF-8 file
    is, instead of being stored with U+FFFD in its place (a review found it staged as 'w\ufffd')."""
    text = ndjson(rec("run_bad", workflowName="w@"), rec("run_good")).decode()
    content = codecs.BOM_UTF16_LE + text.encode("utf-16-le").replace("@".encode("utf-16-le"), b"\x00\xd8")
    result, lake_dir = ingest_one(tmp_path, "lone.jsonl", content)
    assert (result.records_read, result.records_valid, result.records_quarantined) == (2, 1, 1)
    assert [row["record_index"] for row in quarantine_of(lake_dir)] == [0]


def test_records_before_the_decompression_cap_are_kept_in_the_block_that_crosses_it(tmp_path: Path) -> None:
    """A plain file crossing a small cap inside its first block: the records before the cap are ingested, the one
    the cap cuts is left for a reading under a larger cap (it was quarantined as invalid JSON), the outcome is
    partial (before, the whole crossing block was dropped), and the note says the cap, not the bytes decompressed."""
    records = [line(rec(f"run_cap_{i}")) + b"\n" for i in range(5)]
    cap = len(records[0]) + len(records[1]) + 10
    result, _ = ingest_one(tmp_path, "capped.jsonl", b"".join(records), Limits(max_decompressed_bytes=cap))
    assert (result.outcome, result.records_valid, result.records_quarantined) == ("partial", 2, 0)
    assert result.message.startswith(
        f"reading stopped at RUNLENS_MAX_DECOMPRESSED_BYTES = {cap} bytes after decompression "
        f"({len(b''.join(records))} decompressed): the records after the first 2 were not read; raise the cap"
    )


@pytest.mark.parametrize("name", ["capped.jsonl", "capped.jsonl.gz", "capped.json", "capped.json.gz"])
def test_a_reading_stopped_at_the_cap_reads_on_once_the_cap_is_raised(tmp_path: Path, name: str) -> None:
    """A reading cut short by RUNLENS_MAX_DECOMPRESSED_BYTES was final: raising the cap never read the rest. Now the
    next ingest under a larger cap reads on from the first record the last one did not read whole (under the same
    cap the file is done), so every record of the file ends up read exactly once, with its index and line in the
    file, over as many readings as the cap takes."""
    records = [rec(f"run_more_{i}", input={"pad": "x" * 40}) for i in range(30)]
    records[17] = rec("run_more_17", status="bogus")  # a quarantined record is read once too
    text = ndjson(*records) if name.startswith("capped.jsonl") else json.dumps(records, indent=1).encode()
    content = gzip.compress(text, mtime=0) if name.endswith(".gz") else text
    settings = Settings.from_env(tmp_path / "data")
    path = tmp_path / "exports" / name
    path.parent.mkdir()
    path.write_bytes(content)
    validator = RecordValidator.from_file(settings.schema_path)

    def ingest_under(cap: int) -> IngestResult:
        limited = settings.with_overrides(limits=Limits(max_decompressed_bytes=cap))
        assert {f.name for f in exports.new_exports(limited, exports.discover(limited)).files} <= {name}
        return ingest_file(path, limited, validator, name)

    caps = [len(text) // 3 + 5, len(text) // 3 + 5, len(text) // 3 + 7, 2 * len(text) // 3, len(text)]
    results = [ingest_under(cap) for cap in caps]
    assert [r.outcome for r in results] == ["partial", "skipped", "partial", "partial", "ingested"]
    assert sum(r.records_read for r in results) == 30
    assert results[2].records_read == 0  # two more bytes: no record more lies whole before the cap
    assert [r.export_id for r in results[2:]] == [f"{results[0].export_id}-part{n}" for n in (2, 3, 4)]
    glob = f"{settings.lake_dir}/ingest/*/"
    with duckdb.connect() as con:
        staged = con.execute(
            f"select record_index, run_id from read_parquet('{glob}staged.parquet') order by record_index"
        ).fetchall()
        quarantined = con.execute(f"select record_index, line from read_parquet('{glob}quarantine.parquet')").fetchall()
    assert staged == [(i, f"run_more_{i}") for i in range(30) if i != 17]
    assert [index for index, _ in quarantined] == [17]
    if name.startswith("capped.jsonl"):
        assert quarantined[0][1] == 18
    assert exports.new_exports(settings, exports.discover(settings)).files == []


def test_a_damaged_cr_first_line_is_split_alike_under_every_cap(tmp_path: Path) -> None:
    """A first line cut after a lone CR, CR-separated records, then a CRLF and LF lines (a review's repro): under a
    700-byte cap the reader decided on the 700 bytes it saw (no LF: CR lines) and read 5 records, without the cap on
    the whole start (an LF: LF lines) and the continuation skipped 5 of its 5 records: run_m4..run_m9 were in
    neither staged nor quarantine. Now the decisions see the file's head whatever the cap, so the readings together
    hold every record of one uncapped reading once."""
    body = [line(rec(f"run_m{i}")) for i in range(10)]
    content = b'{"runId": "broken\r' + b"\r".join(body[:6]) + b"\r\n" + b"\n".join(body[6:]) + b"\n"
    settings = Settings.from_env(tmp_path / "data")
    path = tmp_path / "exports" / "m.jsonl"
    path.parent.mkdir()
    path.write_bytes(content)
    validator = RecordValidator.from_file(settings.schema_path)
    capped = settings.with_overrides(limits=Limits(max_decompressed_bytes=700))
    first, rest = (ingest_file(path, s, validator, "m.jsonl") for s in (capped, settings))
    assert (first.outcome, rest.outcome) == ("partial", "ingested")
    (tmp_path / "one").mkdir()
    uncapped, one_lake = ingest_one(tmp_path / "one", "m.jsonl", content)
    assert first.records_read + rest.records_read == uncapped.records_read == 5

    def records(lake_dir: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        with duckdb.connect() as con:
            glob = f"{lake_dir}/ingest/*/"
            staged = f"select record_index, run_id from read_parquet('{glob}staged.parquet') order by 1"
            quarantined = f"select record_index, line, raw from read_parquet('{glob}quarantine.parquet') order by 1"
            return con.execute(staged).fetchall(), con.execute(quarantined).fetchall()

    assert records(settings.lake_dir) == records(one_lake)
    assert [run_id for _, run_id in records(one_lake)[0]] == ["run_m6", "run_m7", "run_m8", "run_m9"]


def test_summary_names_a_file_read_only_in_part(data_dir: Path, run_cli: CliRunner) -> None:
    """runlens run ingests what a truncated gzip holds, and its summary says which file was read only in part."""
    content = gzip.compress(ndjson(*(rec(f"run_tr_{i}", input={"pad": "x" * 200}) for i in range(40))), mtime=0)
    (data_dir / "exports" / "cut.jsonl.gz").write_bytes(content[: len(content) // 2])
    (data_dir / "exports" / "whole.jsonl").write_bytes(ndjson(rec("run_whole")))
    result = run_cli("run", "--data-dir", data_dir)
    assert result.code == 0
    partly = [text for text in result.out.splitlines() if text.startswith("PARTLY READ:")]
    assert len(partly) == 1 and partly[0].startswith("PARTLY READ: cut.jsonl.gz: the gzip stream ends early")


def test_summary_names_only_this_runs_partial_readings_and_counts_files(
    data_dir: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file read over three runs under raising caps: each run's summary names its own reading stopped at the cap
    and no earlier one (the run that finished the file printed a PARTLY READ line per earlier part), and "from N
    file(s)" counts files, not their readings (it counted ingest_log rows)."""
    content = ndjson(*(rec(f"run_sp_{i}", input={"pad": "x" * 200}) for i in range(30)))
    (data_dir / "exports" / "big.jsonl").write_bytes(content)
    (data_dir / "exports" / "whole.jsonl").write_bytes(ndjson(rec("run_whole")))

    def partly_read(cap: int | None) -> tuple[list[str], str]:
        if cap is None:
            monkeypatch.delenv("RUNLENS_MAX_DECOMPRESSED_BYTES")
        else:
            monkeypatch.setenv("RUNLENS_MAX_DECOMPRESSED_BYTES", str(cap))
        result = run_cli("run", "--data-dir", data_dir)
        assert result.code == 0, result.err
        [records] = [text for text in result.out.splitlines() if text.startswith("records: ")]
        return [text for text in result.out.splitlines() if text.startswith("PARTLY READ:")], records

    for cap in (len(content) // 3, 2 * len(content) // 3):
        partly, _ = partly_read(cap)
        assert len(partly) == 1 and f"RUNLENS_MAX_DECOMPRESSED_BYTES = {cap} bytes" in partly[0]
    partly, records = partly_read(None)
    assert partly == []
    assert records == "records: 31 read = 31 valid + 0 quarantined (0.00%), from 2 file(s)"
    assert len(list((data_dir / "lake" / "ingest").glob("*/ingest_log.parquet"))) == 4


def test_a_jsonl_file_holding_one_document_is_named_and_read_once_renamed(data_dir: Path, run_cli: CliRunner) -> None:
    """A pretty-printed array saved as .jsonl: `runlens validate` and `runlens run` say in one line what is wrong
    and how to fix it (each of its lines used to be quarantined as invalid JSON, and the file recorded as ingested);
    nothing of it reaches the lake, and once renamed the next run ingests it."""
    exports = data_dir / "exports"
    (exports / "pretty.jsonl").write_text(json.dumps([rec("run_pp_1"), rec("run_pp_2")], indent=2))
    (exports / "whole.jsonl").write_bytes(ndjson(rec("run_whole")))
    reason = (
        "this .jsonl file holds pretty-printed JSON (values spread over several lines), not one record per line: "
        "rename it to .json"
    )
    checked = run_cli("validate", exports / "pretty.jsonl")
    assert (checked.code, checked.out) == (1, f"{exports / 'pretty.jsonl'}: {reason}\n")
    assert checked.err.endswith("0 record(s) checked, 0 invalid, 1 file(s) not read whole (see above)\n")

    result = run_cli("run", "--data-dir", data_dir)
    assert result.code == 0, result.err
    assert f"not read now (left for the next run): pretty.jsonl ({reason})" in result.out.splitlines()
    assert query(data_dir, "select run_id from runs") == [("run_whole",)]

    (exports / "pretty.jsonl").rename(exports / "pretty.json")
    again = run_cli("run", "--data-dir", data_dir)
    assert again.code == 0, again.err
    assert "not read now" not in again.out
    assert query(data_dir, "select run_id from runs order by run_id") == [("run_pp_1",), ("run_pp_2",), ("run_whole",)]


@pytest.mark.slow
def test_a_single_line_of_gigabytes_in_bounded_memory(tmp_path: Path) -> None:
    """3 GiB on one line between two good records, default caps: the line is quarantined (its head kept), both
    neighbours are valid, and memory stays near the 64 MiB record cap."""
    path = tmp_path / "huge.jsonl"
    block = b"z" * 2**24
    with open(path, "wb") as out:
        out.write(
            line(rec("run_gl_1")) + b"\n" + b'{"runId": "run_gl_2", "workflowName": "w", "status": "queued", "error": "'
        )
        for _ in range(3 * 2**30 // len(block)):
            out.write(block)
        out.write(b'"}\n' + line(rec("run_gl_3")) + b"\n")
    (outcome, read, valid, quarantined, grown), _ = ingest_in_subprocess(path, tmp_path / "data")
    assert (outcome, read, valid, quarantined) == ("ingested", 3, 2, 1)
    assert grown < 1024, f"memory grew by {grown} MiB"


def test_readers_open_the_warehouse_read_only(tmp_path: Path) -> None:
    target = tmp_path / "warehouse.duckdb"
    warehouse.refresh_warehouse(tmp_path / "lake", target)
    with warehouse.connect_readonly(target) as con, pytest.raises(duckdb.Error, match="read-only"):
        con.execute("create table sneaky (a int)")


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "full-path"])
def test_a_record_over_the_record_cap_is_quarantined_for_its_length_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    """A record over RUNLENS_MAX_RECORD_BYTES is quarantined for that reading problem alone, the reason that says
    what was kept of it, even when it also nests deeper than RUNLENS_MAX_NESTING_DEPTH and breaks the schema: it is
    neither judged for depth nor parsed and validated, whichever path the schema takes (found by a mutation audit:
    either verdict could replace the reading problem unseen)."""
    if not fast:  # a keyword the fast path does not compile: every record goes to the full validator
        schema = json.loads(Settings.from_env(tmp_path / "data").schema_path.read_text())
        schema["properties"]["error"]["minLength"] = 0
        (tmp_path / "schema.json").write_text(json.dumps(schema))
        monkeypatch.setenv("RUNLENS_SCHEMA", str(tmp_path / "schema.json"))
    monkeypatch.setenv("RUNLENS_MAX_RECORD_BYTES", "300")
    monkeypatch.setenv("RUNLENS_MAX_NESTING_DEPTH", "4")
    long_deep_bogus = rec("run_long", status="bogus", input={"a": {"b": {"c": {}}}}, error="y" * 1000)
    result, lake_dir = ingest_one(tmp_path, "long.jsonl", ndjson(rec("run_ok"), long_deep_bogus))
    assert (result.records_valid, result.records_quarantined) == (1, 1)
    [row] = quarantine_of(lake_dir)
    assert [(e["path"], e["keyword"], e["message"]) for e in row["errors"]] == [
        ("$", "read", "record longer than 300 bytes (RUNLENS_MAX_RECORD_BYTES); kept whole in quarantine")
    ]


def test_a_time_runs_cannot_hold_after_an_invalid_record_is_quarantined_at_its_own_index(tmp_path: Path) -> None:
    """A record whose UTC time falls outside the years 1-9999 is found after the schema verdicts, among the
    records that passed: it is quarantined at its own index in the file, and the records before it, invalid ones
    included, keep theirs (found by a mutation audit: every earlier test had no invalid record before it)."""
    content = ndjson(
        rec("run_bad", status="bogus"),
        rec("run_far", createdAt="9999-12-31T23:59:59-23:59", completedAt=None),
        rec("run_good"),
    )
    result, lake_dir = ingest_one(tmp_path, "years.jsonl", content)
    assert (result.records_read, result.records_valid, result.records_quarantined) == (3, 1, 2)
    found = {row["record_index"]: [(e["path"], e["keyword"]) for e in row["errors"]] for row in quarantine_of(lake_dir)}
    assert found == {0: [("$.status", "enum")], 1: [("$.createdAt", "storage")]}


def test_each_reading_stopped_at_the_cap_counts_the_records_read_from_the_start_of_the_file(tmp_path: Path) -> None:
    """The note of a reading stopped at RUNLENS_MAX_DECOMPRESSED_BYTES says after how many records of the file
    the rest was not read: a reading that read on from record 3 and stopped after 3 more says 6, and one that
    read on but found no record whole before its cap still says 3 (found by a mutation audit: only first
    readings were checked)."""
    records = [line(rec(f"run_cap_{i:02d}")) + b"\n" for i in range(10)]
    size = len(records[0])
    assert {len(r) for r in records} == {size}
    settings = Settings.from_env(tmp_path / "data")
    path = tmp_path / "capped.jsonl"
    path.write_bytes(b"".join(records))
    validator = RecordValidator.from_file(settings.schema_path)
    results = [
        ingest_file(path, settings.with_overrides(limits=Limits(max_decompressed_bytes=cap)), validator, path.name)
        for cap in (3 * size + size // 2, 3 * size + size // 2 + 2, 6 * size + size // 2)
    ]
    assert [(r.outcome, r.records_read) for r in results] == [("partial", 3), ("partial", 0), ("partial", 3)]
    for result, first in zip(results, (3, 3, 6), strict=True):
        assert f": the records after the first {first} were not read; raise the cap" in result.message, result.message


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_a_json_file_cut_inside_a_record_names_the_line_that_record_starts_on(tmp_path: Path, line_end: str) -> None:
    """The note and the cut record's quarantine row name the same line: the one its text starts on, counted past
    the line ends and indentation between it and the comma before it. The note named the line of that comma (the
    end of the record before), one line early (found by a mutation audit of the ingest)."""
    whole = json.dumps(rec("run_a"))
    content = line_end.join(["[", f" {whole},", "", ' {"runId": "run_b", "workf'])
    result, lake_dir = ingest_one(tmp_path, "cut.json", content.encode())
    assert (result.records_valid, result.records_quarantined) == (1, 1)
    [row] = quarantine_of(lake_dir)
    assert row["line"] == 4, row
    assert "the file ends inside a value that started at line 4 (truncated?)" in result.message, result.message


def test_a_truncated_gzip_json_names_the_read_error_with_its_offset_before_the_splitters_note(tmp_path: Path) -> None:
    """A .json.gz cut short: the note names the reading problem first, with the bytes decompressed before it
    (where to look in the file), then what the JSON splitter found: the file ends inside the array (found by a
    mutation audit: neither the order nor the offset was pinned)."""
    text = json.dumps([rec(f"run_gz_{i}", input={"pad": "x" * 200}) for i in range(400)], indent=1).encode()
    data = gzip.compress(text, mtime=0)
    cut = data[: len(data) // 2]
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    assert 0 < len(readable) < len(text)
    result, _ = ingest_one(tmp_path, "cut.json.gz", cut)
    assert result.outcome == "partial"
    assert result.message.startswith(
        f"the gzip stream ends early (truncated file?) (after {len(readable)} bytes); "
        "the file ends inside a value that started at line "
    ), result.message
