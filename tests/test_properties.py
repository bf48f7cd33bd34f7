"""Property-based tests (hypothesis) against independent references.

- The project's validator agrees with Python ``jsonschema`` (Draft 2020-12, formats asserted) on random valid and
  invalid records, generated clear of jsonschema's two documented deviations (leap seconds, a trailing newline
  matched by ``$``).
- Every generated record ingested into a temporary lake ends in exactly one of ``runs`` (schema-valid) or
  ``quarantine`` (invalid), with counts and run ids reconciling.
- The nesting-depth cap quarantines exactly the records nested deeper than it, brackets inside strings aside.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from runlens import runs
from runlens.config import DEFAULT_SCHEMA, Settings
from runlens.ingest import ingest_file
from runlens.readers import DepthCheck
from runlens.refresh import MAX_GAP_DAYS, MAX_LINKED_SPAN_DAYS, day_clusters, ingest_range
from runlens.validation import RecordValidator, load_schema

SCHEMA = load_schema(DEFAULT_SCHEMA)
REFERENCE = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
VALIDATOR = RecordValidator(SCHEMA)
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def date_times(draw: st.DrawFn, years: tuple[int, int] = (1, 9999)) -> str:
    """RFC 3339 date-times, valid unless a mutation is drawn; never a leap second (jsonschema rejects them)."""
    year = draw(st.integers(*years))
    month = draw(st.integers(1, 12))
    leap_year = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    day = draw(st.integers(1, 29 if month == 2 and not leap_year else DAYS_IN_MONTH[month - 1]))
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    fraction = draw(st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,12}", fullmatch=True)))
    offset = draw(
        st.one_of(st.sampled_from(["Z", "z"]), st.from_regex(r"[+-]([01][0-9]|2[0-3]):[0-5][0-9]", fullmatch=True))
    )
    separator = draw(st.sampled_from(["T", "t"]))
    stamp = f"{year:04d}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}"
    mutation = draw(st.sampled_from(["none"] * 35 + ["space", "no_offset", "compact_offset", "bad_day", "hour_24"]))
    if mutation == "space":
        return stamp.replace(separator, " ", 1)
    if mutation == "no_offset":
        return stamp[: -len(offset)]
    if mutation == "compact_offset":
        return stamp[: -len(offset)] + "+0530"
    if mutation == "bad_day":
        return f"{year:04d}-{month:02d}-32{stamp[10:]}"
    if mutation == "hour_24":
        return f"{stamp[:11]}24{stamp[13:]}"
    return stamp


@st.composite
def field_values(draw: st.DrawFn, valid: st.SearchStrategy[Any], near_miss: st.SearchStrategy[Any]) -> Any:
    """Mostly a valid value; one time in twenty a near miss, one in twenty anything at all (wrong types included)."""
    pick = draw(st.integers(0, 19))
    return draw(json_values if pick == 0 else near_miss if pick == 1 else valid)


texts = st.text(max_size=12)
objects = st.dictionaries(st.text(max_size=5), json_values, max_size=3)


@st.composite
def records(draw: st.DrawFn, years: tuple[int, int] = (1, 9999)) -> Any:
    """A record shaped like a run, with any field missing, wrong or extra; sometimes not an object at all."""
    if draw(st.integers(0, 19)) == 0:
        return draw(json_values)
    fields = {
        "runId": field_values(
            st.from_regex(r"run_[a-zA-Z0-9_]{1,12}", fullmatch=True),
            st.sampled_from(["run-1", "run_", "RUN_1", "run_1 ", "run_é", "xrun_1", " run_1", ""]),
        ),
        "workflowName": field_values(texts, st.sampled_from([None, 0, ["w"]])),
        "status": field_values(
            st.sampled_from(["queued", "running", "completed", "failed"]),
            st.sampled_from(["Queued", "done", "cancelled", "", "failed "]),
        ),
        "input": field_values(objects, st.sampled_from([None, [], "{}", 0])),
        "output": field_values(objects, st.sampled_from([None, [], "{}", 0])),
        "error": field_values(texts, st.sampled_from([None, 0, {}])),
        "createdAt": field_values(date_times(years), st.sampled_from(["", "2026-03-01", "10:00:00Z", None])),
        "completedAt": field_values(date_times(years), st.sampled_from(["", "2026-03-01", "10:00:00Z", None])),
    }
    out: dict[str, Any] = {}
    for name, values in fields.items():
        required = name in ("runId", "workflowName", "status")
        if draw(st.integers(0, 19)) < (19 if required else 12):
            out[name] = draw(values)
    out.update(draw(st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=2)))
    return out


@given(record=records())
@settings(max_examples=400, deadline=None, database=None)
def test_validator_agrees_with_jsonschema(record: Any) -> None:
    assert (not VALIDATOR.violations(record)) is REFERENCE.is_valid(record)
    assert (not VALIDATOR.check_batch([record])) is REFERENCE.is_valid(record)


@given(
    batch=st.lists(records(years=(1970, 2100)), min_size=1, max_size=25),
    fmt=st.sampled_from(["jsonl", "json"]),
    indent=st.sampled_from([None, 2]),
)
@example(batch=[[]], fmt="jsonl", indent=None)  # once generated in CI: a .jsonl of one line holding an array
@settings(max_examples=25, deadline=None, database=None)
def test_every_record_ends_in_exactly_one_of_runs_or_quarantine(batch: list[Any], fmt: str, indent: int | None) -> None:
    for i, record in enumerate(batch):  # one run id per valid record, so runs holds exactly one row for each
        if isinstance(record, dict) and REFERENCE.is_valid(record):
            record["runId"] = f"run_{i}"
    valid = {i for i, record in enumerate(batch) if REFERENCE.is_valid(record)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings_ = Settings.from_env(root)
        path = root / f"export.{fmt}"
        if fmt == "jsonl":
            path.write_text("\n".join(json.dumps(record, ensure_ascii=False) for record in batch) + "\n")
        else:
            path.write_text(json.dumps(batch, indent=indent, ensure_ascii=False))
        result = ingest_file(path, settings_, RecordValidator(SCHEMA), path.name)
        if fmt == "jsonl" and len(batch) == 1 and isinstance(batch[0], list):
            # one line holding one JSON array is a document, not NDJSON: the file is refused whole, nothing recorded,
            # to be renamed .json (README; generated once as `[[]]`, which made this test read an empty lake)
            assert result.outcome == "unreadable" and not (settings_.lake_dir / "ingest").exists(), result
            return
        runs.rebuild_days(settings_.lake_dir, runs.all_days(settings_.lake_dir))
        with duckdb.connect() as con:
            staged = {
                row[0]
                for row in con.execute(
                    "select record_index from read_parquet($g)",
                    {"g": str(settings_.lake_dir / "ingest/*/staged.parquet")},
                ).fetchall()
            }
            quarantined = [
                row[0]
                for row in con.execute(
                    "select record_index from read_parquet($g)",
                    {"g": str(settings_.lake_dir / "ingest/*/quarantine.parquet")},
                ).fetchall()
            ]
            in_runs = (
                {
                    row[0]
                    for row in con.execute(
                        "select run_id from read_parquet($g)", {"g": str(settings_.lake_dir / "runs/*/*.parquet")}
                    ).fetchall()
                }
                if valid
                else set()
            )
    assert result.records_read == len(batch) == result.records_valid + result.records_quarantined
    assert staged == valid
    assert sorted(quarantined) == sorted(set(range(len(batch))) - valid)
    assert in_runs == {f"run_{i}" for i in valid}


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


bracket_text = st.text(alphabet='[]{}"\\ab,:', max_size=6)
nestings = st.recursive(
    st.none() | st.integers() | bracket_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(bracket_text, inner, max_size=3),
    max_leaves=30,
)


@given(values=st.lists(nestings, min_size=1, max_size=8), cap=st.integers(1, 12), indent=st.sampled_from([None, 1]))
@settings(max_examples=300, deadline=None, database=None)
def test_depth_cap_flags_exactly_the_records_nested_deeper(values: list[Any], cap: int, indent: int | None) -> None:
    raws = [json.dumps({"input": value}, indent=indent).encode() for value in values]
    assert DepthCheck(cap).too_deep(raws) == [i for i, value in enumerate(values) if 1 + depth(value) > cap]


def test_the_reference_asserts_date_time() -> None:
    """Python jsonschema checks date-time only when rfc3339-validator is installed; without it the agreement above
    would say nothing about dates."""
    assert not REFERENCE.is_valid({"runId": "run_1", "workflowName": "w", "status": "queued", "createdAt": "no"})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5), max_size=60))
def test_runs_batch_split_by_day_keeps_every_row_once_in_order(day_numbers: list[int]) -> None:
    """A batch is cut into one piece per created_date holding that day's rows in batch order, whether the days come
    in a few runs (sliced) or shuffled (sorted first): compared with filtering the batch day by day."""
    days = pa.chunked_array([pa.array(day_numbers, pa.int32()).cast(pa.date32())])
    rows = pa.table({"position": list(range(len(day_numbers)))})
    pieces = list(runs._split_by_day(rows, days))
    expected = {
        runs.EPOCH + timedelta(days=d): [i for i, x in enumerate(day_numbers) if x == d]
        for d in sorted(set(day_numbers))
    }
    assert [day for day, _ in pieces] == list(expected)
    assert {day: piece.column("position").to_pylist() for day, piece in pieces} == expected


@settings(max_examples=300, deadline=None)
@given(
    linked=st.lists(st.frozensets(st.integers(min_value=-5, max_value=120), min_size=1, max_size=3), max_size=12),
    window=st.tuples(st.integers(0, 10), st.integers(20, 110)),
)
def test_refresh_clusters_keep_linked_days_together_and_far_days_apart(
    linked: list[frozenset[int]], window: tuple[int, int]
) -> None:
    """Every day to rebuild is in exactly one cluster; the days of one linked set (a run may move between them)
    share a cluster when they are at most MAX_LINKED_SPAN_DAYS apart; two clusters are more than MAX_GAP_DAYS apart
    at their positions (days clamped into the partitions definition's window), so a stale day gets its own short
    range; each cluster lists its days in order."""
    start = runs.EPOCH + timedelta(days=20_000)
    low, high = (start + timedelta(days=n) for n in window)
    sets = [frozenset(start + timedelta(days=n) for n in numbers) for numbers in linked]
    clusters = day_clusters(sets, low, high)
    every = [day for cluster in clusters for day in cluster]
    assert sorted(every) == sorted(set().union(*sets))
    assert len(every) == len(set(every))
    assert all(cluster == sorted(cluster) for cluster in clusters)
    home = {day: i for i, cluster in enumerate(clusters) for day in cluster}

    def position(day: Any) -> Any:
        return min(max(day, low), high)

    near = [days for days in sets if (position(max(days)) - position(min(days))).days <= MAX_LINKED_SPAN_DAYS]
    assert all(len({home[day] for day in days}) == 1 for days in near)

    for before, after in itertools.pairwise(clusters):
        assert (position(after[0]) - position(before[-1])).days > MAX_GAP_DAYS


@pytest.mark.parametrize(("gap", "joined"), [(7, True), (8, False)])
def test_days_a_week_apart_share_a_refresh_run_and_farther_ones_do_not(gap: int, joined: bool) -> None:
    """docs/architecture.md: days more than a week apart get runs of their own (the property above takes the gap
    from the code, so it would not notice the week change)."""
    day, far = date(2026, 3, 1), date(2026, 3, 1) + timedelta(days=gap)
    clusters = day_clusters([frozenset([day]), frozenset([far])], date(2020, 1, 1), date(2030, 1, 1))
    assert clusters == ([[day, far]] if joined else [[day], [far]])


def test_an_ingest_run_records_the_range_of_its_own_keys_only() -> None:
    """Dagster records every partition of an ingest run's range: it spans the run's own export keys, from the first
    of them in partition order, not from the first export ever seen."""
    existing = ["a.json", "b.json", "c.json"]
    assert ingest_range(existing, ["d.json", "e.json"]) == (
        ["d.json", "e.json"],
        {ASSET_PARTITION_RANGE_START_TAG: "d.json", ASSET_PARTITION_RANGE_END_TAG: "e.json"},
    )
    assert ingest_range(existing, ["c.json", "b.json"]) == (
        [],
        {ASSET_PARTITION_RANGE_START_TAG: "b.json", ASSET_PARTITION_RANGE_END_TAG: "c.json"},
    )
