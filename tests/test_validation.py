"""The project's validator against the JSON-Schema-Test-Suite subset, and against Python jsonschema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from runlens.config import DEFAULT_SCHEMA
from runlens.errors import SchemaFileError
from runlens.validation import MAX_MESSAGE_CHARS, RecordValidator, Violation, json_path, load_schema

SUITE = Path(__file__).parent / "data" / "json-schema-test-suite"

# Where Python jsonschema (the reference) itself disagrees with the suite; our validator must still agree with
# the suite there. Keys: (file, group description, test description).
JSONSCHEMA_DEVIATIONS = {
    ("date-time.json", "validation of date-time strings", "a valid date-time with a leap second, UTC"),
    ("date-time.json", "validation of date-time strings", "a valid date-time with a leap second, with minus offset"),
    ("date-time.json", "validation of date-time strings", "a trailing newline is invalid"),
}
# Python's re is not ECMA-262: jsonschema cannot compile \p{Letter}, so it has no opinion on this group.
JSONSCHEMA_CANNOT_COMPILE = {("pattern.json", "pattern with Unicode property escape requires unicode mode")}


def suite_cases() -> list[tuple[str, str, str, object, object, bool]]:
    cases = []
    for path in sorted(SUITE.rglob("*.json")):
        for group in json.loads(path.read_text()):
            for test in group["tests"]:
                cases.append(
                    (path.name, group["description"], test["description"], group["schema"], test["data"], test["valid"])
                )
    return cases


CASES = suite_cases()


def test_suite_is_complete() -> None:
    assert len(CASES) == 243


@pytest.mark.parametrize(
    ("file", "group", "description", "schema", "data", "valid"), CASES, ids=[f"{c[0]}:{c[1]}:{c[2]}" for c in CASES]
)
def test_agrees_with_suite(file: str, group: str, description: str, schema: dict, data: object, valid: bool) -> None:
    validator = RecordValidator(schema)
    assert (not validator.check_batch([data])) is valid
    assert (not validator.violations(data)) is valid


@pytest.mark.parametrize(
    ("file", "group", "description", "schema", "data", "valid"), CASES, ids=[f"{c[0]}:{c[1]}:{c[2]}" for c in CASES]
)
def test_reference_deviations_are_the_known_ones(
    file: str, group: str, description: str, schema: dict, data: object, valid: bool
) -> None:
    if (file, group) in JSONSCHEMA_CANNOT_COMPILE:
        with pytest.raises(Exception, match="bad escape"):
            Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(data)
        return
    reference = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(data)
    if (file, group, description) in JSONSCHEMA_DEVIATIONS:
        assert reference is not valid
    else:
        assert reference is valid


RUN_SCHEMA = load_schema(DEFAULT_SCHEMA)
DIFFERENTIAL = [
    {"runId": "run_1", "workflowName": "w", "status": "queued"},
    {"runId": "run_1", "workflowName": "w", "status": "done"},
    {"runId": "run-1", "workflowName": "w", "status": "queued"},
    {"runId": "1", "workflowName": 5, "status": "queued"},
    {"runId": "run_1", "workflowName": "w"},
    {"runId": "run_1", "workflowName": "w", "status": "failed", "error": None},
    {"runId": "run_1", "workflowName": "w", "status": "completed", "input": None},
    {"runId": "run_1", "workflowName": "w", "status": "completed", "input": [], "output": "x"},
    {"runId": "run_1", "workflowName": "w", "status": "completed", "createdAt": "2026-11-01T10:00:00Z"},
    {"runId": "run_1", "workflowName": "w", "status": "completed", "createdAt": "2026-11-01 10:00:00Z"},
    {"runId": "run_1", "workflowName": "w", "status": "completed", "createdAt": "2026-11-01T10:00:00+0530"},
    {"runId": "run_1", "workflowName": "w", "status": "completed", "createdAt": "2026-11-01T10:00:00"},
    {"runId": "run_1", "workflowName": "w", "status": "completed", "createdAt": "2026-11-01t10:00:00.123456789z"},
    {"runId": "run_1", "workflowName": "w", "status": "completed", "createdAt": "2026-11-01T10:00:00-23:59"},
    {"runId": "run_1", "workflowName": "w", "status": "completed", "createdAt": "2026-02-30T10:00:00Z"},
    {"runId": "run_1", "workflowName": "w", "status": "completed", "unknown": {"kept": True}},
    {"runId": True, "workflowName": "w", "status": "completed"},
    {"runId": "run_1", "workflowName": "w", "status": "completed", "completedAt": 1700000000},
    [],
    "run_1",
    None,
]


@pytest.mark.parametrize("record", DIFFERENTIAL, ids=[json.dumps(r)[:60] for r in DIFFERENTIAL])
def test_differential_against_jsonschema(record: object) -> None:
    """On records away from the two documented deviations, both validators agree."""
    reference = Draft202012Validator(RUN_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    ours = RecordValidator(RUN_SCHEMA)
    assert (not ours.violations(record)) is reference.is_valid(record)
    assert {v.path for v in ours.violations(record)} == {
        json_path(list(e.absolute_path)) for e in reference.iter_errors(record)
    }


def test_documented_deviations_on_the_run_schema() -> None:
    """Leap seconds are valid date-times (jsonschema says no); a trailing newline breaks `^...$` (jsonschema says
    it matches, because Python's `$` also matches before a final newline)."""
    reference = Draft202012Validator(RUN_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    ours = RecordValidator(RUN_SCHEMA)
    leap = {"runId": "run_1", "workflowName": "w", "status": "queued", "createdAt": "2016-12-31T23:59:60Z"}
    newline = {"runId": "run_x\n", "workflowName": "w", "status": "queued"}
    assert ours.violations(leap) == [] and not reference.is_valid(leap)
    assert [v.keyword for v in ours.violations(newline)] == ["pattern"] and reference.is_valid(newline)


def test_batch_reports_each_invalid_record_with_path_keyword_message() -> None:
    ours = RecordValidator(RUN_SCHEMA)
    records = [
        {"runId": "run_1", "workflowName": "w", "status": "queued"},
        {"runId": "run_2", "workflowName": "w", "status": "nope", "input": None},
        {"workflowName": "w", "status": "queued"},
    ]
    found = ours.check_batch(records)
    assert set(found) == {1, 2}
    assert {(v.path, v.keyword) for v in found[1]} == {("$.status", "enum"), ("$.input", "type")}
    assert [(v.path, v.keyword) for v in found[2]] == [("$", "required")]
    assert "runId" in found[2][0].message


GROUPS = sorted({(c[0], c[1]) for c in CASES})


@pytest.mark.parametrize(("file", "group"), GROUPS, ids=[f"{g[0]}:{g[1]}" for g in GROUPS])
def test_batch_violations_equal_record_by_record(file: str, group: str) -> None:
    """One call over a batch (errors found under each record's index) reports exactly what validating each record
    in a batch of its own reports, in the same order, for every record of each suite group."""
    cases = [c for c in CASES if (c[0], c[1]) == (file, group)]
    validator = RecordValidator(cases[0][3])
    records = [c[4] for c in cases]
    expected = {i: validator.violations(r) for i, r in enumerate(records) if validator.violations(r)}
    assert validator.check_batch(records) == expected
    assert set(expected) == {i for i, c in enumerate(cases) if not c[5]}


def test_json_path_quotes_odd_keys() -> None:
    assert json_path(["input", 0, "a b", "x"]) == '$.input[0]["a b"].x'


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (["input", "a_b", "1x", 3], '$.input.a_b["1x"][3]'),
        (["_private", "x1"], "$._private.x1"),  # underscores and digits after the first character: identifiers
        (["42"], '$["42"]'),  # a name of digits is no identifier, and no index either
        (["café", "名前"], "$.café.名前"),  # unicode identifiers, written as they are
        (["a-b", "é x"], '$["a-b"]["é x"]'),
        (['say "hi"'], '$["say \\"hi\\""]'),  # quotes escaped as in JSON
        ([""], '$[""]'),
        ([], "$"),
    ],
)
def test_json_path_writes_identifiers_with_a_dot_and_quotes_other_names(parts: list[str | int], expected: str) -> None:
    """Member names that are identifiers are written ``.name``; any other name as a JSON string in brackets, and
    array indexes as ``[n]``."""
    assert json_path(parts) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            '{"runId": 1E400, "workflowName": "w", "status": "queued"}',
            [("$.runId", "type", '1E400 is not of type "string"')],
        ),
        (
            '{"runId": "run_1", "workflowName": "w", "status": -1e999, "input": {"a": 1E400}}',
            [
                ("$.status", "type", '-1e999 is not of type "string"'),
                ("$.status", "enum", '-1e999 is not one of "queued", "running" or 2 other candidates'),
            ],
        ),
        ("1E400", [("$", "type", '1E400 is not of type "object"')]),
        (
            '{"runId": "run_1", "workflowName": "w", "status": "queued", "error": [1E400]}',
            [("$.error", "type", '[1E400] is not of type "string"')],
        ),
        (
            '{"runId": "run_1", "workflowName": "w", "status": {"z": [1.0, -2e999], "a": "\u00e9"}}',
            [
                ("$.status", "type", '{"z":[1.0,-2e999],"a":"\u00e9"} is not of type "string"'),
                (
                    "$.status",
                    "enum",
                    '{"z":[1.0,-2e999],"a":"\u00e9"} is not one of "queued", "running" or 2 other candidates',
                ),
            ],
        ),
        (
            '{"runId": "run_1", "workflowName": "w", "status": "queued", "error": [null, 1.5]}',
            [("$.error", "type", '[null,1.5] is not of type "string"')],
        ),
        (
            '{"runId": "run_1", "workflowName": "w", "status": "queued", "error": null}',
            [("$.error", "type", 'null is not of type "string"')],
        ),
    ],
)
def test_a_number_beyond_a_double_is_named_as_written(raw: str, expected: list[tuple[str, str, str]]) -> None:
    """Python's json parses 1E400 to infinity, which jsonschema-rs reads as null: messages used to say `null is not
    of type "string"`, naming a value the file does not hold. A real null keeps its message."""
    ours = RecordValidator(RUN_SCHEMA)
    record = json.loads(raw)
    found = [(v.path, v.keyword, v.message) for v in ours.check_batch([record], [raw.encode()])[0]]
    assert found == expected


def test_a_number_beyond_a_double_keeps_the_validators_message_and_names_the_number() -> None:
    """1E400 is a number, so `is not of type "number"` would be wrong, and the rule that failed says what it
    expected (`3 was expected`): for any keyword but `type` without a number and `enum`, the validator's message is
    kept and the number as written added, with the null it was read as."""
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": ["number", "string"]},
            "c": {"const": 1},
            "ver": {"const": 3},
            "gone": False,
            "few": {"maxItems": 1},
        },
    }
    ours = RecordValidator(schema)
    raw = b'{"n": 1E400, "c": -1E400, "ver": 1E400, "gone": 2e999, "few": [1, {"x": 1E400}]}'
    found = ours.check_batch([json.loads(raw)], [raw])[0]
    beyond = "a number beyond what a 64-bit float holds, read as null"
    assert sorted((v.path, v.message) for v in found) == [
        ("$.c", f"1 was expected (the value is -1E400, {beyond})"),
        ("$.few", '[1,{"x":1E400}] has more than 1 item'),
        ("$.gone", f"False schema does not allow null (the value is 2e999, {beyond})"),
        ("$.n", f'null is not of types "number", "string" (the value is 1E400, {beyond})'),
        ("$.ver", f"3 was expected (the value is 1E400, {beyond})"),
    ]


def test_a_number_beyond_a_double_is_not_named_in_a_rule_it_takes_no_part_in() -> None:
    """A record holding 1E400 anywhere (here in `input`) that misses `status` was quarantined with `"status" is a
    required property (the value is {...the whole record...}, it holds a number beyond what a 64-bit float holds,
    read as null)`: rules on member names and sizes do not depend on the values, so their message stands alone."""
    schema = {**RUN_SCHEMA, "properties": {**RUN_SCHEMA["properties"], "tags": {"type": "array", "minItems": 3}}}
    raw = b'{"runId": "run_1", "workflowName": "w", "input": {"x": 1E400}, "tags": [1E400]}'
    found = RecordValidator(schema).check_batch([json.loads(raw)], [raw])[0]
    assert sorted((v.path, v.keyword, v.message) for v in found) == [
        ("$", "required", '"status" is a required property'),
        ("$.tags", "minItems", "[1E400] has less than 3 items"),
    ]


LONE = "not valid JSON text: a lone surrogate escape (\\{}) is not a Unicode character"


@pytest.mark.parametrize(
    ("raw", "path", "escape"),
    [
        ('{"runId": "run_1", "workflowName": "w", "status": "\\ud800"}', "$.status", "ud800"),
        ('{"runId": "run_\\udfff", "workflowName": "w", "status": "queued"}', "$.runId", "udfff"),
        ('{"runId": "run_1", "workflowName": "w", "status": "queued", "createdAt": "\\ud800"}', "$.createdAt", "ud800"),
        ('{"runId": "run_1", "workflowName": "w", "status": "queued", "\\ud800": 1}', '$["\\ud800"]', "ud800"),
        (  # two: the first in file order is named
            '{"runId": "run_1", "workflowName": "w", "error": "\\udc00", "status": "\\ud800"}',
            "$.error",
            "udc00",
        ),
    ],
)
def test_a_lone_surrogate_escape_is_a_violation_not_an_exception(raw: str, path: str, escape: str) -> None:
    """jsonschema-rs raises UnicodeEncodeError on a string holding a lone surrogate (a valid JSON escape that is no
    Unicode character): that record gets one `json` violation, its neighbours their own results, and the path and
    message are plain text (a lone surrogate cannot be written to Parquet or printed)."""
    ours = RecordValidator(RUN_SCHEMA)
    good = {"runId": "run_2", "workflowName": "w", "status": "queued"}
    bad_enum = {"runId": "run_3", "workflowName": "w", "status": "nope"}
    found = ours.check_batch([good, json.loads(raw), bad_enum])
    assert sorted(found) == [1, 2]
    assert found[1] == [Violation(path, "json", LONE.format(escape))]
    assert [v.keyword for v in found[2]] == ["enum"]
    assert ours.violations(json.loads(raw)) == found[1]
    assert found[1][0].path.isascii() and found[1][0].message.isascii()


def test_a_message_naming_a_large_value_is_cut_in_its_middle() -> None:
    """jsonschema-rs writes out the value a rule rejects: a record that is an array of runs (a .jsonl line holding
    one) repeated the whole array in its message. Messages are cut to MAX_MESSAGE_CHARS plus a note of what was
    left out; the record's raw text is kept beside them."""
    ours = RecordValidator(RUN_SCHEMA)
    runs = [{"runId": f"run_{i}", "workflowName": "w", "status": "queued"} for i in range(100)]
    [violation] = ours.check_batch([runs])[0]
    message = violation.message
    assert len(message) < MAX_MESSAGE_CHARS + 50
    assert message.startswith('[{"runId":"run_0"') and message.endswith('}] is not of type "object"')
    assert re.search(r" …\[\d+ characters left out\]… ", message)
    short = {"runId": "run_1", "workflowName": "w", "status": "queued", "error": ["x" * 900]}
    assert ours.violations(short)[0].message == f'["{"x" * 900}"] is not of type "string"'
    written = '["{}"] is not of type "string"'
    fits = MAX_MESSAGE_CHARS - len(written.format(""))  # a message of exactly MAX_MESSAGE_CHARS is kept whole
    for length, expected in ((fits, written.format("x" * fits)), (fits + 1, None)):
        message = ours.violations({**short, "error": ["x" * length]})[0].message
        if expected is None:
            assert " …[1 characters left out]… " in message, message
        else:
            assert message == expected


def _with(change: dict[str, object], properties: dict[str, object] | None = None, drop: tuple[str, ...] = ()) -> dict:
    """The bundled run schema with top-level members and properties replaced (``drop``: top-level members removed)."""
    schema = {k: v for k, v in RUN_SCHEMA.items() if k not in drop}
    return {**schema, **change, "properties": {**RUN_SCHEMA["properties"], **(properties or {})}}


OWN_ID = "https://example.com/run.json"
REFERRING_SCHEMAS = {
    "defs": _with({"$defs": {"st": {"enum": ["queued", "running"]}}}, {"status": {"$ref": "#/$defs/st"}}),
    "property": _with({}, {"output": {"$ref": "#/properties/input"}}),
    "root": _with({}, {"input": {"type": "object", "properties": {"parent": {"$ref": "#"}}}}),
    "anchor": _with({"$defs": {"st": {"$anchor": "st", "enum": ["queued"]}}}, {"status": {"$ref": "#st"}}),
    "own-id": _with(
        {"$id": OWN_ID, "$defs": {"st": {"enum": ["queued"]}}},
        {"status": {"$ref": f"{OWN_ID}#/$defs/st"}, "input": {"type": "object", "properties": {"p": {"$ref": OWN_ID}}}},
    ),
    "no-id": _with({"$defs": {"st": {"enum": ["queued"]}}}, {"status": {"$ref": "#/$defs/st"}}, drop=("$id",)),
}
REFERRING_RECORDS = [
    {"runId": "run_a", "workflowName": "w", "status": "queued"},
    {"runId": "run_a", "workflowName": "w", "status": "completed"},
    {"runId": "run_a", "workflowName": "w", "status": "queued", "input": {"parent": []}},
    {"runId": "run_a", "workflowName": "w", "status": "queued", "input": {"parent": {"runId": "x"}}},
    {"runId": "run_a", "workflowName": "w", "status": "queued", "input": {"p": {"runId": "run_b"}}},
    {
        "runId": "run_a",
        "workflowName": "w",
        "status": "queued",
        "input": {"p": {"runId": "run_b", "workflowName": "w", "status": "completed"}},
    },
    {"runId": "run_a", "workflowName": "w", "status": "queued", "output": 5},
    {"runId": "run_a", "workflowName": "w", "status": "queued", "output": {"x": 1}},
]


@pytest.mark.parametrize("name", sorted(REFERRING_SCHEMAS))
def test_references_resolve_in_the_schemas_own_document(name: str, tmp_path: Path) -> None:
    """`#/$defs/...`, `#/properties/...`, `#`, an anchor and the schema's own `$id` refer to the schema file as the
    reference reads it: the batch wrapper used to become the document root, so `#/$defs/st` did not exist and `#`
    meant the array of records (a record's `{"parent": []}` passed)."""
    schema = REFERRING_SCHEMAS[name]
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    reference = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for ours in (RecordValidator(schema), RecordValidator.from_file(path)):
        found = ours.check_batch(REFERRING_RECORDS)
        for i, record in enumerate(REFERRING_RECORDS):
            expected = {(json_path(list(e.absolute_path)), str(e.validator)) for e in reference.iter_errors(record)}
            assert {(v.path, v.keyword) for v in found.get(i, [])} == expected, (name, record)


@pytest.mark.parametrize(
    ("change", "properties", "named"),
    [
        ({"$id": OWN_ID}, {"status": {"$ref": "https://example.com/other.json"}}, "https://example.com/other.json"),
        ({}, {"status": {"$ref": "other.json#/x"}}, "other.json"),
        (
            {"$schema": "https://example.com/my-meta-schema"},
            {"status": {"$ref": "https://example.com/x.json"}},
            "x.json",
        ),
    ],
)
def test_a_reference_to_another_document_is_refused_in_one_line_not_fetched(
    change: dict, properties: dict, named: str, tmp_path: Path
) -> None:
    """jsonschema-rs fetched what a `$ref` named over the network; runlens fetches nothing: loading the schema fails
    with one line naming the schema file and the document it refers to."""
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(_with(change, properties)))
    with pytest.raises(SchemaFileError) as raised:
        RecordValidator.from_file(path)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert named in message and "never fetches" in message


@pytest.mark.parametrize(
    ("properties", "words"),
    [
        ({"status": {"type": 5}}, "/properties/status/type"),
        ({"status": {"pattern": "(("}}, "/properties/status/pattern"),
        ({"status": {"$ref": "#/$defs/nowhere"}}, "/$defs/nowhere"),
    ],
)
def test_a_schema_that_does_not_compile_is_one_line_naming_the_file(
    properties: dict, words: str, tmp_path: Path
) -> None:
    path = tmp_path / "schema.json"
    schema = _with({}, properties)
    path.write_text(json.dumps(schema))
    with pytest.raises(Exception):  # noqa: B017 - the reference refuses it too, in its own way
        Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate({"status": "x"})
    with pytest.raises(SchemaFileError) as raised:
        RecordValidator.from_file(path)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{path}: not a valid JSON Schema") and words in message


YEAR_ZERO = [
    b'{"runId": "run_a", "workflowName": "w", "status": "queued", "createdAt": "0000-06-01T00:00:00Z"}',
    b'{"runId": "run_a", "workflowName": "w", "status": "queued", "completedAt": "0000-12-31T23:30:00-01:00"}',
    b'{"runId": "run_a", "workflowName": "w", "status": "queued", "createdAt": "\\u0030000-06-01T00:00:00Z"}',
    b'{"runId": "run_a", "workflowName": "w", "status": "queued", "createdAt": "0000\\u002d06-01T00:00:00Z"}',
    b'{"runId": "run_a", "workflowName": "w", "status": "nope", "createdAt": "0000-06-01T00:00:00Z"}',
    b'{"runId": "run_a", "workflowName": "w", "status": "queued", "createdAt": "0001-01-01T00:00:00Z"}',
    b'{"runId": "run_a", "workflowName": "w", "status": "queued", "input": {"at": "0000-01-01T00:00:00Z"}}',
    b'{"runId": "run_a", "workflowName": "w", "status": "queued", "output": {"at": "0000-01-01T00:00:00Z"}}',
]


@pytest.mark.parametrize(
    "created",
    [b"0\\u003000-06-01T00:00:00Z", b"\\u0030\\u0030\\u0030\\u0030-06-01T00:00:00Z"],
    ids=["one-zero-escaped", "every-zero-escaped"],
)
def test_year_0000_written_with_escaped_zeros_only_is_not_a_date_time(created: bytes) -> None:
    """A createdAt whose raw text has no "0000-" (zeros written as \\u0030) still decodes to year 0000: the batch
    check given the raw lines (as the ingest calls it) quarantines it as a date-time format violation at $.createdAt."""
    raw = b'{"runId": "run_a", "workflowName": "w", "status": "queued", "createdAt": "' + created + b'"}'
    assert b"0000-" not in raw
    record = json.loads(raw)
    assert record["createdAt"] == "0000-06-01T00:00:00Z"
    ours = RecordValidator(RUN_SCHEMA)
    ok = b'{"runId": "run_b", "workflowName": "w", "status": "queued", "createdAt": "2026-06-01T00:00:00Z"}'
    for batch, position in (([ok, raw], 1), ([raw], 0)):
        found = ours.check_batch([json.loads(line) for line in batch], batch)
        assert {i: [(v.path, v.keyword) for v in vs] for i, vs in found.items()} == {
            position: [("$.createdAt", "format")]
        }


def test_year_0000_is_not_a_date_time_as_in_the_reference() -> None:
    """jsonschema-rs takes year 0000 for a date-time; the reference does not, and runlens follows it, in a batch and
    record by record, wherever the schema asks for a date-time (here also inside `output`)."""
    at = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
    schema = _with({}, {"output": at})
    reference = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    ours = RecordValidator(schema)
    records = [json.loads(raw) for raw in YEAR_ZERO]
    expected = {
        i: {(json_path(list(e.absolute_path)), str(e.validator)) for e in reference.iter_errors(record)}
        for i, record in enumerate(records)
        if not reference.is_valid(record)
    }
    assert set(expected) == {0, 1, 2, 3, 4, 7}
    for found in (ours.check_batch(records, YEAR_ZERO), ours.check_batch(records)):
        assert {i: {(v.path, v.keyword) for v in found[i]} for i in found} == expected
    for i, record in enumerate(records):
        assert {(v.path, v.keyword) for v in ours.violations(record)} == expected.get(i, set())


@pytest.mark.parametrize(
    ("raw", "written"),
    [
        (b'{"runId": 12345678901234567777777, "workflowName": "w", "status": "queued"}', "12345678901234567777777"),
        (b'{"runId": -9223372036854775809, "workflowName": "w", "status": "queued"}', "-9223372036854775809"),
        (
            b'{"runId": "run_1", "workflowName": "w", "status": "queued", "error": [18446744073709551616]}',
            "[18446744073709551616]",
        ),
    ],
)
def test_an_integer_beyond_64_bits_is_named_as_written(raw: bytes, written: str) -> None:
    """orjson (the ingest's parser) reads an integer beyond 64 bits as the nearest float: the message said
    `12345678901234567741440.0 is not of type "string"`. It names the number as the file holds it, as the reference
    (which parses integers exactly) does."""
    import orjson

    reference = Draft202012Validator(RUN_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    [expected] = list(reference.iter_errors(json.loads(raw)))
    [found] = RecordValidator(RUN_SCHEMA).check_batch([orjson.loads(raw)], [raw])[0]
    assert (found.path, found.keyword) == (json_path(list(expected.absolute_path)), str(expected.validator))
    assert found.message == f'{written} is not of type "string"'
    assert expected.message.startswith(f"{written} is not of type")  # the reference names it so too
