"""Record validation driven by the schema file (JSON Schema draft 2020-12, formats asserted).

The fast path is ``jsonschema-rs``: one call validates a whole batch of parsed records against
``{"type": "array", "items": {"$ref": <the schema's URI>}}``; when the batch fails, a second call over the batch
collects every violation, each found under its record's index. The schema stays a document of its own (a resource in
a ``jsonschema_rs.Registry``, under its ``$id``, else under the schema file's ``file:`` URI), so its references
(``#``, ``#/$defs/...``, its own ``$id``) resolve in it exactly as they do when it is used alone. Nothing is fetched:
a reference to another document is refused when the schema is loaded. Python ``jsonschema`` is the second opinion in
the tests (see tests/test_validation.py for where the two differ and why).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs

from runlens.errors import SchemaFileError

ErrorKind = jsonschema_rs.ValidationErrorKind
SURROGATE = re.compile("[\\ud800-\\udfff]")
MAX_MESSAGE_CHARS = 1000


@dataclass(frozen=True)
class Violation:
    """One reason a record is quarantined: where (JSON path), which rule (keyword), and a message."""

    path: str
    keyword: str
    message: str

    def as_row(self) -> dict[str, str]:
        return {"path": self.path, "keyword": self.keyword, "message": self.message}


def json_path(parts: list[str | int]) -> str:
    """``["input", 0, "a b"]`` -> ``$.input[0]["a b"]``: member names that are identifiers after a dot, others as
    JSON strings."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += "[" + json.dumps(part, ensure_ascii=False) + "]"
    return out.encode("utf-8", "backslashreplace").decode()  # a lone surrogate as its escape: the text is stored


def load_schema(path: Path) -> dict[str, Any]:
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SchemaFileError(f"{path}: schema file not found (set RUNLENS_SCHEMA to another file)") from exc
    except (OSError, ValueError) as exc:
        raise SchemaFileError(f"{path}: schema file is not readable JSON: {exc}") from exc
    if not isinstance(schema, dict):
        raise SchemaFileError(f"{path}: a JSON Schema must be an object")
    return schema


def schema_digest(schema: dict[str, Any]) -> str:
    """The sha256 of a schema as canonical JSON (keys sorted, no whitespace): which schema an ingest was validated
    against, whatever file it came from and however it was laid out."""
    return hashlib.sha256(json.dumps(schema, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


class RecordValidator:
    """Validates parsed records against one schema (a dict, usually from ``load_schema``; ``source``: its file, for
    error messages and as the base URI of a schema without ``$id``)."""

    def __init__(self, schema: dict[str, Any], source: Path | None = None) -> None:
        self.schema = schema
        self.source = source
        self.digest = schema_digest(schema)
        self._batch = _compile(schema, source)
        self._date_times = '"date-time"' in json.dumps(schema)  # a schema that never asks for one skips the recheck
        self._strict: jsonschema_rs.Draft202012Validator | None = None

    @classmethod
    def from_file(cls, path: Path) -> RecordValidator:
        return cls(load_schema(path), path)

    def violations(self, record: Any) -> list[Violation]:
        """The violations of one record (empty when it is valid)."""
        return self.check_batch([record]).get(0, [])

    def check_batch(self, records: list[Any], raws: Sequence[bytes] | None = None) -> dict[int, list[Violation]]:
        """Violations of the invalid records in ``records``, by position; empty when all are valid. ``raws``: the
        records' JSON texts, for messages that name a number beyond a double's range as written.

        jsonschema-rs takes year 0000 for a date-time; runlens does not (nor does Python ``jsonschema``: RFC 3339's
        years are 0001-9999 in the proleptic Gregorian calendar, and no instant runs can hold has it). The records
        that may hold such a string (``_year_zero_suspects``, a search of the batch's text) are checked again by a
        validator whose ``date-time`` also refuses it, and that verdict is theirs."""
        found = _check(self._batch, records, raws)
        suspects = _year_zero_suspects(records, raws) if self._date_times else []
        if suspects:
            if self._strict is None:
                self._strict = _compile(self.schema, self.source, {"date-time": is_date_time})
            picked = None if raws is None else [raws[i] for i in suspects]
            strict = _check(self._strict, [records[i] for i in suspects], picked)
            for j, i in enumerate(suspects):
                if j in strict:
                    found[i] = strict[j]
        return found


def _check(
    validator: jsonschema_rs.Draft202012Validator, records: list[Any], raws: Sequence[bytes] | None
) -> dict[int, list[Violation]]:
    try:
        if validator.is_valid(records):
            return {}
        return _errors(validator, records, raws)
    except UnicodeEncodeError:  # a string jsonschema-rs reads holds a lone surrogate: find which records do
        return _one_by_one(validator, records, raws)


def _errors(
    validator: jsonschema_rs.Draft202012Validator, records: list[Any], raws: Sequence[bytes] | None
) -> dict[int, list[Violation]]:
    found: dict[int, list[Violation]] = {}
    for err in validator.iter_errors(records):
        first, *path = err.instance_path
        index = int(first)
        message = err.message
        if raws is not None and (err.instance is None or isinstance(err.instance, (list, dict, float))):
            # maybe a number jsonschema-rs could only read as null, an integer orjson read as a float, or a container
            # holding one
            message = _out_of_range(err, records[index], raws[index], path) or message
        found.setdefault(index, []).append(Violation(json_path(path), _keyword(err), _bounded(message)))
    return found


def _one_by_one(
    validator: jsonschema_rs.Draft202012Validator, records: list[Any], raws: Sequence[bytes] | None
) -> dict[int, list[Violation]]:
    """``_check`` record by record, for a batch jsonschema-rs raised on: a record it raises on is quarantined with
    the first lone surrogate it holds (jsonschema-rs encodes the strings it reads as UTF-8, which cannot hold one;
    JSON's ``\\ud800`` escape gives one, and no Unicode text holds it)."""
    found: dict[int, list[Violation]] = {}
    for index, record in enumerate(records):
        try:
            violations = _errors(validator, [record], None if raws is None else [raws[index]]).get(0)
        except UnicodeEncodeError:
            violations = [lone_surrogate(record)]
        if violations:
            found[index] = violations
    return found


_DATE_TIME = jsonschema_rs.Draft202012Validator({"format": "date-time"}, validate_formats=True)


def is_date_time(text: str) -> bool:
    """Whether ``text`` is a date-time as runlens reads the ``date-time`` format: jsonschema-rs's check (RFC 3339,
    a leap second only where the UTC time is 23:59) without year 0000."""
    return not text.startswith("0000") and _DATE_TIME.is_valid(text)


# Raw JSON text that may decode to a string starting "0000-": the four zeros and the dash written out, or with an
# escape among them (``\u0030`` for a zero, ``\u002d`` for the dash).
_YEAR_ZERO_TEXTS = (b"0000-", b"\\u0030", b"0000\\u002")


def _year_zero_suspects(records: list[Any], raws: Sequence[bytes] | None) -> list[int]:
    """Positions of the records that may hold a string starting with year 0000: one search of the batch's text
    finds none in nearly every batch."""
    if raws is None:  # single records (``violations``): their decoded text
        texts = [json.dumps(record, ensure_ascii=False) for record in records]
        return [i for i, text in enumerate(texts) if "0000-" in text]
    joined = b"\n".join(raws)
    if not any(text in joined for text in _YEAR_ZERO_TEXTS):
        return []
    return [i for i, raw in enumerate(raws) if any(text in raw for text in _YEAR_ZERO_TEXTS)]


SCHEMA_URI = "urn:runlens:record-schema"  # the base URI of a schema without ``$id`` or file


def _compile(
    schema: Any, source: Path | None, formats: dict[str, Any] | None = None
) -> jsonschema_rs.Draft202012Validator:
    """The batch validator: an array whose items are ``schema``, referred to as a resource of its own.

    ``$schema`` is left out of the resource: the schema is read as draft 2020-12 whatever it names (a meta-schema of
    its own would be fetched). Errors are one line naming the schema file."""
    where = f"{source}: " if source is not None else ""
    asked: list[str] = []

    def refuse(uri: str) -> Any:  # jsonschema-rs asks for every document the schema refers to but does not hold
        asked.append(uri)
        raise ValueError(f"{uri} is not fetched")

    resource = {k: v for k, v in schema.items() if k != "$schema"} if isinstance(schema, dict) else schema
    own_id = resource.get("$id") if isinstance(resource, dict) else None
    uri = own_id if isinstance(own_id, str) else source.resolve().as_uri() if source is not None else SCHEMA_URI
    try:
        jsonschema_rs.meta.validate(resource)
        registry = jsonschema_rs.Registry([(uri, resource)], draft=jsonschema_rs.Draft202012, retriever=refuse)
        return jsonschema_rs.Draft202012Validator(
            {"type": "array", "items": {"$ref": uri}},
            validate_formats=True,
            formats=formats,
            registry=registry,
            retriever=refuse,
        )
    except (ValueError, jsonschema_rs.ReferencingError) as exc:
        if asked:
            reason = (
                f"it refers to {asked[0]}, which is not in the schema file (runlens never fetches a schema: put what "
                "it refers to under $defs)"
            )
        elif isinstance(exc, jsonschema_rs.ValidationError) and isinstance(exc.kind, ErrorKind.Referencing):
            reason = f"a $ref it holds does not resolve: {exc.message}"
        elif isinstance(exc, jsonschema_rs.ValidationError):  # the meta-schema: where in the file, as a JSON Pointer
            steps = [str(step).replace("~", "~0").replace("/", "~1") for step in exc.instance_path]
            reason = _first_line(exc.message) + (f" (at /{'/'.join(steps)})" if steps else "")
        else:
            reason = _first_line(str(exc)) or type(exc).__name__
        raise SchemaFileError(f"{where}not a valid JSON Schema (draft 2020-12): {reason}") from exc


def holds_lone_surrogate(record: Any) -> bool:
    """Whether a member name or string of the record holds a lone surrogate (a ``\ud800`` escape)."""
    return SURROGATE.search(json.dumps(record, ensure_ascii=False)) is not None


def lone_surrogate(record: Any) -> Violation:
    """The violation of a record holding a lone surrogate (``holds_lone_surrogate``): the path of the first such
    member name or string, in file order, and the surrogate as its JSON escape."""
    pending: list[tuple[list[str | int], Any]] = [([], record)]
    while True:
        path, value = pending.pop()
        if isinstance(value, str) and (found := SURROGATE.search(value)):
            escape = f"\\u{ord(found.group()):04x}"
            return Violation(
                json_path(path),
                "json",
                f"not valid JSON text: a lone surrogate escape ({escape}) is not a Unicode character",
            )
        if isinstance(value, dict):  # each member name before its value
            for key in reversed(list(value)):
                pending += [([*path, key], value[key]), ([*path, key], key)]
        elif isinstance(value, list):
            pending += [([*path, i], value[i]) for i in reversed(range(len(value)))]


def _out_of_range(err: jsonschema_rs.ValidationError, record: Any, raw: bytes, path: list[str | int]) -> str | None:
    """The message of an error on a number beyond a double's range (``1E400``), or on an array or object holding
    one, naming it as written; None when the error is on something else, or is a rule on member names or sizes
    (``required``, ``maxItems``, ...) whose message does not show the value. Such a number parses to infinity, which
    jsonschema-rs reads as null, so its own message would name a null the file does not hold: ``null is not of type
    "string"``, ``[null] is not of type "string"``."""
    value = record
    for part in path:
        value = value[part]
    if not _holds(value, _lossy):
        return None
    written = json.loads(raw.decode("utf-8"), parse_float=_Number, parse_int=_Number)  # numbers as written
    for part in path:
        written = written[part]
    text = _as_written(written)
    number = isinstance(value, float)
    kind = err.kind
    numbers_allowed = number and isinstance(kind, ErrorKind.Type) and bool({"number", "integer"} & set(kind.types))
    shown = next(_FALSE_SCHEMA.iter_errors(err.instance)).message.removeprefix(_NOT_ALLOWED)  # "null" for infinity
    settled = isinstance(kind, _SHAPE_KINDS) or (
        isinstance(kind, (ErrorKind.Type, ErrorKind.Enum)) and not numbers_allowed
    )
    if settled and err.message.startswith(shown):
        # "null is not of type ...", "[null] is not one of ...", "[null,2] has more than 1 item": true of what the file
        # holds too, whatever the size
        return text + err.message.removeprefix(shown)
    if isinstance(kind, _SHAPE_KINDS):  # "status" is a required property: the number has nothing to do with it
        return None
    # a number where numbers are allowed, or another rule (const, a false schema, uniqueItems): it may have failed on
    # the null the number was read as, so the rule's own message stands, with what the file holds
    holds = "a number" if number else "it holds a number"
    if _holds(value, _infinite):
        return f"{err.message} (the value is {text}, {holds} beyond what a 64-bit float holds, read as null)"
    holds = "an integer" if number else "it holds an integer"
    return f"{err.message} (the value is {text}, {holds} beyond 64 bits, read as the nearest 64-bit float)"


# Rules on an object's member names or an array's or object's size: their verdict is the same whatever the values, so
# a number read as null in them takes no part in it.
_SHAPE_KINDS = (
    ErrorKind.Required,
    ErrorKind.AdditionalProperties,
    ErrorKind.PropertyNames,
    ErrorKind.MaxProperties,
    ErrorKind.MinProperties,
    ErrorKind.MaxItems,
    ErrorKind.MinItems,
    ErrorKind.AdditionalItems,
)


class _Number(str):
    """A JSON number as written."""


def _lossy(item: Any) -> bool:
    """A float parsed to infinity, or a whole float beyond 64-bit integers (orjson reads an integer literal beyond
    64 bits as the nearest float: ``12345678901234567777777`` became ``12345678901234567741440.0`` in messages)."""
    return isinstance(item, float) and (math.isinf(item) or (abs(item) >= 2.0**63 and item.is_integer()))


def _infinite(item: Any) -> bool:
    return isinstance(item, float) and math.isinf(item)


def _holds(value: Any, found: Callable[[Any], bool]) -> bool:
    """Whether ``value`` is, or an array or object in it holds, an item ``found`` picks out."""
    pending = [value]
    while pending:
        item = pending.pop()
        if found(item):
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _as_written(value: Any) -> str:
    """Compact JSON text of a value parsed with ``parse_float=_Number``: its numbers as written, members in order."""
    if isinstance(value, _Number):
        return value
    if isinstance(value, dict):
        return "{" + ",".join(f"{_as_written(key)}:{_as_written(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(_as_written, value)) + "]"
    return json.dumps(value, ensure_ascii=False)


# How jsonschema-rs writes a value in its messages, read from the message of a schema that allows nothing.
_FALSE_SCHEMA = jsonschema_rs.Draft202012Validator(False)
_NOT_ALLOWED = "False schema does not allow "


def _bounded(message: str) -> str:
    """``message`` cut in its middle when longer than ``MAX_MESSAGE_CHARS``: jsonschema-rs writes out the value a
    rule rejects, a whole record for a record that is no object, and the record's raw text is kept beside it."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    cut = len(message) - MAX_MESSAGE_CHARS
    return f"{message[: MAX_MESSAGE_CHARS - 200]} …[{cut} characters left out]… {message[-200:]}"


def _keyword(err: jsonschema_rs.ValidationError) -> str:
    path = list(err.schema_path)
    return str(path[-1]) if path else "schema"
