"""The fast path compiled from the schema (runlens.fastpath): it accepts only records the schema accepts (checked
against jsonschema-rs and Python jsonschema), it accepts every generated valid record (so it is not vacuous), it
decodes the same stored fields and unknown members as the full path, and an ingest gives the same lake with it and
without it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runlens import fastpath, generate
from runlens.config import Settings
from runlens.fastpath import FastPath
from runlens.ingest import KNOWN_FIELDS, _decode_run_fields, _strict_loads, ingest_file
from runlens.validation import RecordValidator
from test_properties import REFERENCE, SCHEMA, VALIDATOR, date_times, records

FAST = FastPath.compile(SCHEMA)
SUITE_DATE_TIMES = Path(__file__).parent / "data" / "json-schema-test-suite" / "optional" / "format" / "date-time.json"
DATE_TIME = jsonschema_rs.Draft202012Validator({"type": "string", "format": "date-time"}, validate_formats=True)
STORED = ("runId", "workflowName", "status", "createdAt", "completedAt", "error")


def fast() -> FastPath:
    assert FAST is not None, "the bundled schema uses only keywords the fast path understands"
    return FAST


def full_path_valid(raw: bytes) -> bool:
    """What the full path decides: parsed by orjson (or the standard library for what orjson refuses), then valid
    for jsonschema-rs."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            record = _strict_loads(raw)
        except (ValueError, RecursionError):
            return False
    return not VALIDATOR.violations(record)


def vouched_shape(stamp: str) -> bool:
    """Date-times the fast path leaves to the full validator: a leap second, year 0000, a fraction longer
    than ``MAX_FRACTION_DIGITS`` (the fraction sits between the seconds and the zone)."""
    fraction = stamp[20:].rstrip("Zz")
    fraction = fraction[:-6] if fraction[-6:-5] in ("+", "-") else fraction
    return stamp[17:19] != "60" and not stamp.startswith("0000") and len(fraction) <= fastpath.MAX_FRACTION_DIGITS


def test_bundled_schema_compiles_with_a_check_for_each_keyword() -> None:
    properties = SCHEMA["properties"]
    assert set(properties) == KNOWN_FIELDS
    assert fast().patterns == tuple((n, p["pattern"]) for n, p in properties.items() if "pattern" in p)
    assert set(fast().date_times) == {n for n, p in properties.items() if p.get("format") == "date-time"}
    assert set(fast().objects) == {n for n, p in properties.items() if p.get("type") == "object"}


def _with(path: list[str], value: Any) -> dict[str, Any]:
    schema = copy.deepcopy(SCHEMA)
    node = schema
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return schema


@pytest.mark.parametrize(
    "schema",
    [
        _with(["additionalProperties"], False),
        _with(["minProperties"], 1),
        _with(["properties", "runId", "minLength"], 5),
        _with(["properties", "runId", "pattern"], "^run_.+$"),  # '.' differs between ECMA-262 and RE2
        _with(["properties", "runId", "pattern"], "^run_\\w+$"),
        _with(["properties", "runId", "pattern"], "^run_[^ ]+$"),
        _with(["properties", "runId", "pattern"], "^run_a{1001}$"),  # beyond RE2's repetition limit
        _with(["properties", "runId", "pattern"], "^run_(a"),
        _with(["properties", "error", "type"], ["string", "null"]),
        _with(["properties", "error", "format"], "email"),
        _with(["properties", "status", "enum"], ["queued", 1]),
        _with(["properties", "input", "properties"], {"a": {"type": "string"}}),
        _with(["properties", "input", "additionalProperties"], False),
        _with(["properties", "tags"], {"type": "array"}),
        _with(["required"], ["runId", "workflowName"]),
        _with(["type"], ["object", "null"]),
    ],
)
def test_schemas_beyond_the_fast_path_compile_to_none(schema: dict[str, Any]) -> None:
    assert FastPath.compile(schema) is None


def test_date_times_of_the_suite_accepted_only_when_valid() -> None:
    cases = [t for group in json.loads(SUITE_DATE_TIMES.read_text()) for t in group["tests"]]
    stamps = [t["data"] for t in cases if isinstance(t["data"], str)]
    accepted = fastpath.parse_date_times(pa.array(stamps, pa.string()))[0].tolist()
    for stamp, ok in zip(stamps, accepted, strict=True):
        valid = DATE_TIME.is_valid(stamp)
        assert not ok or valid, stamp
        if valid and vouched_shape(stamp):
            assert ok, stamp


EDGE_STAMPS = [
    "2024-02-29T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2000-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-12-31T23:59:59.999999999+23:59",
    "2026-12-31T23:59:59-24:00",
    "2026-12-31T23:59:59+00:60",
    "2026-00-10T00:00:00Z",
    "2026-13-10T00:00:00Z",
    "2026-01-00T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-01-01T00:00:00.Z",
    "2026-01-01T00:00:00z",
    "2026-01-01t00:00:00+01:00",
    "2026-01-01T00:00:00",
    "2026-01-01 00:00:00Z",
    "2026-01-01T00:00:00Z ",
    " 2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00Z\n",
    "2026-01-01T00:00:00+0100",
    "2026-01-01T00:00:00+01",
    # a fraction or an offset of the right length with a wrong character in it (found by a mutation audit: the
    # fraction's digits and the offset's colon went unchecked and nothing here noticed)
    "2026-01-01T00:00:00.aZ",
    "2026-01-01T00:00:00. Z",
    "2026-01-01T00:00:00.1x+01:00",
    "2026-01-01T00:00:00+01x00",
    "2026-01-01T00:00:00-01000",
    "2026-01-01T00:00:00.5+01;00",
    "\uff12\uff10\uff12\uff16-01-01T00:00:00Z",  # full-width digits
    "2026-01-01T00:00:00ZZ",
    "2026-01-01T23:59:60Z",
    "",
]


@pytest.mark.parametrize("stamp", EDGE_STAMPS)
def test_edge_date_times_accepted_only_when_valid(stamp: str) -> None:
    (ok,) = fastpath.parse_date_times(pa.array([stamp], pa.string()))[0].tolist()
    valid = DATE_TIME.is_valid(stamp)
    assert not ok or valid
    if valid and vouched_shape(stamp):
        assert ok


@given(stamps=st.lists(date_times(), min_size=1, max_size=20))
@settings(max_examples=200, deadline=None, database=None)
def test_generated_date_times_accepted_exactly_when_valid(stamps: list[str]) -> None:
    """The generator draws no leap second and no year 0000: acceptance is validity up to long fractions."""
    accepted = fastpath.parse_date_times(pa.array(stamps, pa.string()))[0].tolist()
    assert accepted == [DATE_TIME.is_valid(s) and vouched_shape(s) for s in stamps]


@given(record=records(), duplicate=st.sampled_from([None, "runId", "status", "createdAt", "input"]))
@settings(max_examples=500, deadline=None, database=None)
def test_fast_path_accepts_exactly_the_plain_valid_records(record: Any, duplicate: str | None) -> None:
    """Accepted means valid for both validators, stored fields and unknown members equal to the full path's; and a
    valid record is accepted. A repeated key (its first value a wrong type) must not slip through."""
    raw = json.dumps(record).encode()
    if duplicate and isinstance(record, dict) and duplicate in record:
        raw = b'{"' + duplicate.encode() + b'": 12,' + raw[1:]
    result = fast().accept([raw], {})
    accepted = result.positions == [0]
    assert accepted != (result.refused == [0])
    parsed = orjson.loads(raw)
    valid = full_path_valid(raw)
    if accepted:
        assert valid and REFERENCE.is_valid(parsed)
        expected = _decode_run_fields(raw)
        (got,) = result.fields
        assert [getattr(got, n) for n in STORED] == [getattr(expected, n) for n in STORED]
        assert [bytes(getattr(got, n)) for n in ("input", "output")] == [
            bytes(expected.input),
            bytes(expected.output),
        ]
        unknown = {k: v for k, v in parsed.items() if k not in KNOWN_FIELDS}
        (extra,) = result.extras
        assert (None if extra is None else json.loads(extra)) == (unknown or None)
    elif valid and duplicate is None and all(vouched_shape(parsed.get(n, "")) for n in ("createdAt", "completedAt")):
        pytest.fail(f"a valid record was refused: {raw!r}")


ODD_RECORDS = [
    b'{"runId":"run_a","workflowName":"w","status":"queued","input":{"x":"\xff\xfe"}}',  # invalid UTF-8 inside
    b'{"runId":"run_a","workflowName":"w","status":"queued","input":{"x":1e999}}',
    b'{"runId":"run_a","workflowName":"w","status":"queued","input":{"x":123456789012345678901234567890}}',
    b'{"runId":"run_a","workflowName":"w","status":"queued","input":{"x":"\\ud800"}}',
    b'{"runId":"run_a","workflowName":"w","status":"queued","input":{"x":NaN}}',
    b'{"runId":"run_a","workflowName":"w","status":"queued","input":[1]}',
    b'{"runId":"run_a","workflowName":"w","status":"queued","input":"{}"}',
    b'{"runId":"run_a","workflowName":"w","status":"queued","error":null}',
    b'{"runId":"run_a","workflowName":"w","status":"queued","status":5}',
    b'{"runId":"run_a","workflowName":"w","status":5,"status":"queued"}',
    b'{"runId":"run_a\\n","workflowName":"w","status":"queued"}',
    b'{"runId":"run_\\u0061","workflowName":"w","status":"queued"}',
    b'{"run\\u0049d":"run_a","workflowName":"w","status":"queued"}',
    b'{"runId":"run_a","workflowName":"w","status":"queued"} x',
    b'\xef\xbb\xbf{"runId":"run_a","workflowName":"w","status":"queued"}',
    b'{"runId":"run_a","workflowName":"w","status":"queued","createdAt":"2026-01-01T00:00:00\\u005a"}',
    b'{"runId":"run_a","workflowName":"w\xc3","status":"queued"}',
    b'{"runId":"run_a","workflowName":"w","status":"queued",}',
    b'[{"runId":"run_a","workflowName":"w","status":"queued"}]',
    b'{"runId":"run_a","workflowName":"w","status":"queued","extra":1}',
    b'{"runId":"run_a","workflowName":"w","status":"queued","attempt":"\xff"}',
    b'{"runId":"run_a","workflowName":"w","status":"queued","attempt":1,"attempt":"x","status":"done"}',
    b'{"runId":"run_a","workflowName":"w","status":"queued","attempt":{"a":"\\ud800"}}',
]


@pytest.mark.parametrize("raw", ODD_RECORDS)
def test_odd_records_accepted_only_when_the_full_path_finds_them_valid(raw: bytes) -> None:
    result = fast().accept([raw], {})
    assert result.positions == [] or full_path_valid(raw), raw


def test_skipped_positions_are_neither_accepted_nor_refused() -> None:
    ok = b'{"runId":"run_a","workflowName":"w","status":"queued"}'
    result = fast().accept([ok, b"{", ok], {1: "already quarantined"})
    assert (result.positions, result.refused) == ([0, 2], [])


def _lake(data_dir: Path, export: Path) -> dict[str, list[dict[str, Any]]]:
    settings_ = Settings.from_env(data_dir)
    result = ingest_file(export, settings_, RecordValidator.from_file(settings_.schema_path), export.name)
    folder = settings_.lake_dir / "ingest" / result.export_id
    tables = {name: pq.read_table(folder / f"{name}.parquet").drop_columns(["ingested_at"]) for name in ("staged",)}
    tables["quarantine"] = pq.read_table(folder / "quarantine.parquet").drop_columns(["ingested_at"])
    return {name: table.to_pylist() for name, table in tables.items()}


def test_ingest_is_the_same_with_and_without_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exports = tmp_path / "generated"
    generate.generate_exports(exports, runs=3000, days=2, seed=11, fmt="jsonl", snapshots_per_day=1, invalid_ratio=0.05)
    lines = b"".join(p.read_bytes() for p in sorted(exports.iterdir()) if p.suffix == ".jsonl")
    odd = b"\n".join([*ODD_RECORDS, *(json.dumps(r).encode() for r in _extra_and_leap_records())]) + b"\n"
    export = tmp_path / "all.jsonl"
    export.write_bytes(odd + lines)
    with_fast = _lake(tmp_path / "with", export)
    monkeypatch.setattr(FastPath, "compile", classmethod(lambda cls, schema: None))
    without = _lake(tmp_path / "without", export)
    assert len(with_fast["staged"]) > 3000 and len(with_fast["quarantine"]) > 50
    assert with_fast == without


def _extra_and_leap_records() -> list[dict[str, Any]]:
    base = {"runId": "run_x", "workflowName": "w", "status": "completed"}
    return [
        {**base, "attempt": 3, "createdAt": "2026-01-01T00:00:00Z"},
        {**base, "createdAt": "2026-12-31T23:59:60Z", "completedAt": "2027-01-01T00:00:01Z"},
        {**base, "createdAt": "0000-01-01T00:00:00Z"},
        {**base, "runId": "run_y", "input": {"deep": [[[[1]]]]}, "output": {}},
    ]
