"""A strict decoder compiled from the schema file: one native pass per record accepts the records that certainly
pass the schema and decodes their fields for staging; every other record goes to the full validator.

The ingest used to parse every record twice, with ``orjson`` (Python objects for ``jsonschema-rs``) and with
``msgspec`` (the fields to store). For the keywords this compiler understands, a ``msgspec`` struct generated from
the schema checks, while it decodes, what those keywords require: a top-level object; the required properties
present; each property's type; ``enum`` as a literal. A record with unknown top-level properties is decoded again
by the same struct without the closed-object rule, and those members are kept as ``extra``. What a struct cannot
check is checked on the batch's columns afterwards: ``pattern`` with RE2 (only patterns whose meaning is the same in
ECMA-262 and RE2), ``format: date-time`` by its RFC 3339 shape and field ranges (second 60 is left to the full
validator), ``type: object`` by the first byte of the raw text, and UTF-8 of the raw object texts (``msgspec`` does
not check it inside a value it skips).

Acceptance is one-sided: a record the fast path refuses is validated by ``jsonschema-rs`` exactly as before, so the
fast path can only be too strict, never too lenient. A schema using anything else (another keyword, type, format or
pattern construct) compiles to ``None`` and every record takes the full path. tests/test_fastpath.py checks that
what it accepts, ``jsonschema-rs`` and Python ``jsonschema`` accept, and that ingest output is the same with and
without it.

``parse_date_times`` also gives the UTC instant of the date-times it vouches for, so the typing step converts only
the others (leap seconds, long fractions) with the exact SQL expression; tests/test_time.py checks it against the
Python reference. The columns built for the checks are handed on to the typing step (``Accepted.columns``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

ABSENT = msgspec.Raw(b"")  # a JSON value is never empty: empty raw text means the key was missing
# Stored fields and how they are stored (runs.input/output keep their raw JSON text); a schema whose properties
# differ in names or kinds is not compiled.
STORED_KINDS = {
    "runId": "string",
    "workflowName": "string",
    "status": "string",
    "createdAt": "string",
    "completedAt": "string",
    "error": "string",
    "input": "object",
    "output": "object",
}
KNOWN_FIELDS = frozenset(STORED_KINDS)
ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "examples", "default", "deprecated"})
TOP_KEYWORDS = ANNOTATIONS | {"type", "properties", "required", "additionalProperties"}
STRING_KEYWORDS = ANNOTATIONS | {"type", "enum", "pattern", "format"}
OBJECT_KEYWORDS = ANNOTATIONS | {"type", "additionalProperties"}
# Patterns built only from ASCII literals, ASCII ranges in positive classes, anchors, groups, alternation and
# quantifiers match the same strings in ECMA-262 and RE2 (no '.', no escapes, no negated classes, no lookaround).
SAFE_PATTERN = re.compile(r"[\^$A-Za-z0-9_\-:/@ ]|\[[A-Za-z0-9_\-]+\]|[()|+*?]|\{[0-9]+(,[0-9]*)?\}")
MAX_FRACTION_DIGITS = 9  # a longer fraction is left to the full validator and the exact SQL conversion
SHORTEST_STAMP = len("2026-01-01T00:00:00Z")
LONGEST_STAMP = len("2026-01-01T00:00:00.+00:00") + MAX_FRACTION_DIGITS
HEAD_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
HEAD_SEPARATORS = [4, 7, 13, 16]
HEAD_SEPARATOR_BYTES = np.frombuffer(b"--::", np.uint8) - np.uint8(ord("0"))  # compared after the digit shift
SIX_DIGIT_WEIGHTS = 10 ** (5 - np.arange(6))
DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
OPEN_BRACE = ord("{")
decode_members = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode


@dataclass(frozen=True)
class Accepted:
    """The records of a batch the fast path accepted (positions, decoded fields, the JSON text of their unknown
    top-level members or None), the Arrow columns it built to check them (by property: the checked strings and raw
    object texts; for each date-time property also its UTC microseconds under ``utc_key(name)``, NULL where it did
    not convert) and the records it leaves to the full validator (positions)."""

    positions: list[int]
    fields: list[Any]
    extras: list[str | None]
    columns: dict[str, pa.Array]
    refused: list[int]


@dataclass(frozen=True)
class FastPath:
    decode: Any  # msgspec.json.Decoder(...).decode for the generated struct (unknown top-level keys refused)
    decode_open: Any  # the same struct, unknown top-level keys skipped (any value passes the schema there)
    patterns: tuple[tuple[str, str], ...]  # (property, pattern)
    date_times: tuple[str, ...]
    objects: tuple[str, ...]

    @classmethod
    def compile(cls, schema: dict[str, Any]) -> FastPath | None:
        """The fast path for ``schema``, or None when the schema uses something it does not understand."""
        properties = schema.get("properties")
        required = schema.get("required", [])
        if (
            set(schema) - TOP_KEYWORDS
            or schema.get("type") != "object"
            or schema.get("additionalProperties", True) is not True
            or not isinstance(properties, dict)
            or set(properties) != set(STORED_KINDS)
            or not isinstance(required, list)
            or not {"runId", "workflowName", "status"} <= set(required) <= set(STORED_KINDS)
        ):
            return None
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        patterns: list[tuple[str, str]] = []
        date_times: list[str] = []
        objects: list[str] = []
        for name, kind in STORED_KINDS.items():
            spec = properties[name]
            if not isinstance(spec, dict) or spec.get("type") != kind:
                return None
            if kind == "object":
                if set(spec) - OBJECT_KEYWORDS or spec.get("additionalProperties", True) is not True:
                    return None
                annotation: Any = msgspec.Raw
                objects.append(name)
            else:
                annotation = _string_type(spec)
                if annotation is None:
                    return None
                if "pattern" in spec:
                    patterns.append((name, spec["pattern"]))
                if "format" in spec:
                    date_times.append(name)
            if name in required:
                fields.append((name, annotation))
            else:
                fields.append((name, annotation, ABSENT if kind == "object" else None))
        closed = msgspec.defstruct("FastRunFields", fields, kw_only=True, forbid_unknown_fields=True)
        opened = msgspec.defstruct("FastRunFieldsOpen", fields, kw_only=True)
        decoders = (msgspec.json.Decoder(closed).decode, msgspec.json.Decoder(opened).decode)
        return cls(*decoders, tuple(patterns), tuple(date_times), tuple(objects))

    def accept(self, raws: list[bytes], skip: dict[int, Any]) -> Accepted:
        """Decode the records of ``raws`` (positions in ``skip`` excluded) and check them on columns."""
        decode = self.decode
        positions: list[int] = []
        fields: list[Any] = []
        extras: list[str | None] = []
        refused: list[int] = []
        for pos, raw in enumerate(raws):
            if pos in skip:
                continue
            try:
                fields.append(decode(raw))
                extras.append(None)
            except (msgspec.MsgspecError, ValueError, RecursionError):
                opened = self._with_unknown_members(raw)
                if opened is None:
                    refused.append(pos)
                    continue
                fields.append(opened[0])
                extras.append(opened[1])
            positions.append(pos)
        if not fields:
            return Accepted(positions, fields, extras, {}, refused)
        ok, columns = self._column_checks(fields)
        if ok.all():
            return Accepted(positions, fields, extras, columns, refused)
        failed = [positions[i] for i in np.flatnonzero(~ok).tolist()]
        kept = np.flatnonzero(ok)
        rows = kept.tolist()
        return Accepted(
            [positions[i] for i in rows],
            [fields[i] for i in rows],
            [extras[i] for i in rows],
            {name: values.take(pa.array(kept)) for name, values in columns.items()},
            sorted(refused + failed),
        )

    def _with_unknown_members(self, raw: bytes) -> tuple[Any, str] | None:
        """A record the closed struct refused: when unknown top-level keys were the only reason (the open struct,
        identical but for them, decodes it), its fields and their JSON text; otherwise None."""
        try:
            return self.decode_open(raw), extra_text(raw)
        except (msgspec.MsgspecError, ValueError, RecursionError):
            return None

    def _column_checks(self, fields: list[Any]) -> tuple[np.ndarray, dict[str, pa.Array]]:
        """Which decoded records pass the checks a struct cannot make, and the columns built to check them."""
        ok = np.ones(len(fields), dtype=bool)
        columns: dict[str, pa.Array] = {}
        for name in {name for name, _ in self.patterns} | set(self.date_times):
            columns[name] = pa.array([getattr(f, name) for f in fields], pa.string())
        for name, pattern in self.patterns:
            ok &= _true_where_null(pc.match_substring_regex(columns[name], pattern))
        for name in self.date_times:
            columns[utc_key(name)] = utc_micros(columns[name])
            ok &= columns[utc_key(name)].is_valid().to_numpy(zero_copy_only=False) | ~_present(columns[name])
        for name in self.objects:
            raws = [getattr(f, name) for f in fields]
            columns[name] = raw_texts(raws)
            ok &= raw_objects_ok(columns[name], raws)
        return ok, columns


def _string_type(spec: dict[str, Any]) -> Any:
    """The msgspec type for a string property, or None when its keywords are beyond the fast path."""
    if set(spec) - STRING_KEYWORDS or spec.get("format", "date-time") != "date-time":
        return None
    pattern = spec.get("pattern")
    if pattern is not None and not _safe_pattern(pattern):
        return None
    enum = spec.get("enum")
    if enum is None:
        return str
    if not isinstance(enum, list) or not enum or not all(isinstance(v, str) for v in enum):
        return None
    return Literal[tuple(enum)]


def _safe_pattern(pattern: Any) -> bool:
    """Whether the pattern is built only from the constructs of ``SAFE_PATTERN`` and RE2 compiles it."""
    if not isinstance(pattern, str) or SAFE_PATTERN.sub("", pattern) != "":
        return False
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern)
    except pa.ArrowInvalid:  # for example a repetition count beyond RE2's limit of 1000
        return False
    return True


def _true_where_null(mask: pa.Array) -> np.ndarray:
    return pc.fill_null(mask, True).to_numpy(zero_copy_only=False)


def utc_micros(values: pa.StringArray) -> pa.Array:
    """``parse_date_times`` as an Arrow column: the UTC microseconds, NULL where the string is not one it parses."""
    parsed, micros = parse_date_times(values)
    return pa.array(micros, pa.int64(), mask=~parsed)


def parse_date_times(values: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    """Which strings are RFC 3339 date-times without a leap second (false for NULL), and for those their UTC instant
    in microseconds since 1970 (fraction digits beyond the sixth truncated, as ``sql/rfc3339_utc_macro.sql`` does).

    Read from the bytes at fixed positions, all rows at once: the shape ``YYYY-MM-DD(T|t)HH:MM:SS[.digits](Z|z|+HH:MM|
    -HH:MM)`` with ASCII digits (at most ``MAX_FRACTION_DIGITS`` of them in the fraction), then the ranges: month
    1-12, a day that exists in that month (leap years included), hour <= 23, minute <= 59, second <= 59 (a leap
    second, 60, is left to the full validator and the exact SQL conversion, as is year 0000), an offset of at most
    23:59."""
    n = len(values)
    ok = _present(values)
    micros = np.zeros(n, dtype=np.int64)
    offsets = np.frombuffer(values.buffers()[1], np.int32, n + 1, values.offset * 4)
    starts, lengths = offsets[:-1].astype(np.int64), np.diff(offsets)
    ok &= (lengths >= SHORTEST_STAMP) & (lengths <= LONGEST_STAMP)
    rows = np.flatnonzero(ok)
    if not rows.size:
        return ok, micros
    data = np.frombuffer(values.buffers()[2], np.uint8)
    start, length = starts[rows], lengths[rows].astype(np.int64)
    head = data[start[:, None] + np.arange(19)] - np.uint8(ord("0"))  # digits become 0-9, other bytes wrap
    tail = data[(start + length - 6)[:, None] + np.arange(6)]
    zulu = (tail[:, 5] == ord("Z")) | (tail[:, 5] == ord("z"))
    zone = tail - np.uint8(ord("0"))
    fraction_digits = length - 19 - np.where(zulu, 1, 6) - 1  # -1 when there is no fraction, else >= 1 with a dot
    fraction = data[np.minimum(start[:, None] + 20 + np.arange(MAX_FRACTION_DIGITS), data.size - 1)] - np.uint8(48)
    in_fraction = np.arange(MAX_FRACTION_DIGITS)[None, :] < fraction_digits[:, None]
    shape = (
        (head[:, HEAD_DIGITS] < 10).all(axis=1)
        & (head[:, HEAD_SEPARATORS] == HEAD_SEPARATOR_BYTES).all(axis=1)
        & ((head[:, 10] == ord("T") - 48) | (head[:, 10] == ord("t") - 48))
        & (zulu | (((tail[:, 0] == ord("+")) | (tail[:, 0] == ord("-"))) & (zone[:, [1, 2, 4, 5]] < 10).all(axis=1)))
        & (zulu | (tail[:, 3] == ord(":")))
        & (
            (fraction_digits == -1)
            | (
                (fraction_digits >= 1)
                & (fraction_digits <= MAX_FRACTION_DIGITS)
                & (data[np.minimum(start + 19, data.size - 1)] == ord("."))
                & (~in_fraction | (fraction < 10)).all(axis=1)
            )
        )
    )
    digit = head.astype(np.int64)
    year = digit[:, 0] * 1000 + digit[:, 1] * 100 + digit[:, 2] * 10 + digit[:, 3]
    month = digit[:, 5] * 10 + digit[:, 6]
    day = digit[:, 8] * 10 + digit[:, 9]
    hour, minute, second = (digit[:, i] * 10 + digit[:, i + 1] for i in (11, 14, 17))
    leap_year = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap_year)
    offset_hours = zone[:, 1].astype(np.int64) * 10 + zone[:, 2]
    offset_minutes = zone[:, 4].astype(np.int64) * 10 + zone[:, 5]
    fine = (
        shape
        & (year >= 1)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= month_days)
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
        & (zulu | ((offset_hours <= 23) & (offset_minutes <= 59)))
    )
    ok[rows] = fine
    east = np.where(tail[:, 0] == ord("-"), -1, 1)
    offset_s = np.where(zulu, 0, east * (offset_hours * 3600 + offset_minutes * 60))
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s
    first_six = np.where(in_fraction[:, :6], fraction[:, :6], 0).astype(np.int64) @ SIX_DIGIT_WEIGHTS
    micros[rows] = np.where(fine, seconds * 1_000_000 + first_six, 0)
    return ok, micros


def _present(values: pa.Array) -> np.ndarray:
    """Which values are not NULL, from the validity bitmap."""
    if values.null_count == 0:
        return np.ones(len(values), dtype=bool)
    bits = np.unpackbits(np.frombuffer(values.buffers()[0], np.uint8), bitorder="little")
    return bits[values.offset : values.offset + len(values)].astype(bool)


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm, vectorised)."""
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def utc_key(name: str) -> str:
    """Where ``Accepted.columns`` keeps the UTC microseconds of date-time property ``name``."""
    return f"{name} utc"


def raw_texts(raws: list[msgspec.Raw]) -> pa.StringArray:
    """Raw JSON texts laid end to end with their offsets (one copy, no Python object per value), NULL where absent;
    UTF-8 not checked yet (``raw_objects_ok`` and the staging do)."""
    lengths = np.fromiter(map(len, raws), np.int64, len(raws))
    offsets = np.zeros(len(raws) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    present = pa.array(lengths > 0)
    return pa.StringArray.from_buffers(
        len(raws), pa.py_buffer(offsets), pa.py_buffer(b"".join(raws)), present.buffers()[1]
    )


def raw_objects_ok(texts: pa.StringArray, raws: list[msgspec.Raw]) -> np.ndarray:
    """Which raw JSON values (``texts``, built by ``raw_texts`` from ``raws``) are objects in valid UTF-8 (true when
    absent: the property is optional)."""
    present = _present(texts)
    offsets = np.frombuffer(texts.buffers()[1], np.int32, len(texts) + 1)
    data = np.frombuffer(texts.buffers()[2], np.uint8)
    ok = ~present
    ok[present] = data[offsets[:-1][present]] == OPEN_BRACE
    try:
        texts.validate(full=True)
    except pa.ArrowInvalid:
        ok &= np.array([_utf8(bytes(raw)) for raw in raws], dtype=bool)
    return ok


def _utf8(text: bytes) -> bool:
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def extra_text(raw: bytes) -> str:
    """The top-level members the schema does not name (the caller knows there are some), as a JSON object whose
    values keep their exported text (integers beyond 64 bits, number spelling, nesting)."""
    members = decode_members(raw)
    return "{" + ",".join(_member(key, value) for key, value in members.items() if key not in KNOWN_FIELDS) + "}"


def _member(key: str, value: msgspec.Raw) -> str:
    return orjson.dumps(key).decode() + ":" + bytes(value).decode()
