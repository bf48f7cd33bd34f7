"""An independent, deliberately simple reference for what runlens must compute from export files.

Nothing here imports runlens. It reads exports with plain ``json`` and ``gzip`` (whole files in memory), validates
with Python ``jsonschema`` (Draft 2020-12, formats asserted) corrected for its two documented deviations (it rejects
RFC 3339 leap seconds and its ``$`` matches before a trailing newline), converts timestamps to UTC with
``datetime.fromisoformat`` and applies the latest-state rules of DESIGN.md in straightforward Python.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "pipelines/runlens/schema/restack-workflow-run-schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)

WRAPPER_KEYS = ("runs", "data", "items")
RUN_KEYS = frozenset({"runId", "workflowName", "status"})  # an object with one before its list is a run
KNOWN_FIELDS = frozenset({"runId", "workflowName", "status", "input", "output", "error", "createdAt", "completedAt"})
RANK = {"queued": 0, "running": 1, "completed": 2, "failed": 2}
PARSE_ERROR = "<not json>"  # keyword the reference gives a record it cannot parse (runlens names it its own way)

_WS = " \t\r\n"
_DECODER = json.JSONDecoder()
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$")


# ---------------------------------------------------------------------------------------------------------------
# reading files into raw records


@dataclass(frozen=True)
class RawItem:
    """One record as it appears in a file: 0-based position among the file's records, 1-based line, exact text."""

    index: int
    line: int
    raw: str


def is_gzip(name: str) -> bool:
    return name.lower().endswith(".gz")


def base_name(name: str) -> str:
    lower = name.lower()
    return lower[:-3] if lower.endswith(".gz") else lower


def is_ndjson(name: str) -> bool:
    return base_name(name).endswith((".jsonl", ".ndjson"))


def is_export(name: str) -> bool:
    return is_ndjson(name) or base_name(name).endswith(".json")


def file_text(path: Path) -> str:
    data = path.read_bytes()
    if is_gzip(path.name):
        data = gzip.decompress(data)
    return data.decode("utf-8-sig")


def split_ndjson(text: str) -> list[RawItem]:
    """One record per non-blank line. Lines end in \\n (and \\r\\n), unless they end in \\r alone (old Mac line
    endings, ``_lone_cr_lines``): then \\r\\n, \\r and \\n each end a line."""
    lines = re.split(r"\r\n|\r|\n", text) if _lone_cr_lines(text) else text.split("\n")
    items: list[RawItem] = []
    for number, line in enumerate(lines, start=1):
        if line.strip(_WS):  # blank is JSON's white space only: a line of form feeds is a (bad) record
            items.append(RawItem(len(items), number, line))
    return items


def _lone_cr_lines(text: str) -> bool:
    """Whether the first non-blank line ends in one or more \\r with no \\n after them, and either holds one whole
    array or object before them (a \\r after a part of one is white space inside a record) or the file has no \\n."""
    start = len(text) - len(text.lstrip(" \t\n\r\x0b\x0c"))
    end = re.compile(r"\r+\n?|\n").search(text, start)
    if end is None or end.group().endswith("\n"):
        return False
    return _whole_container(text[start : end.start()]) or "\n" not in text


def _whole_container(line: str) -> bool:
    """Whether ``line`` is one JSON array or object as far as its brackets outside strings show."""
    line = line.strip(_WS)
    if line[:1] not in ("[", "{"):
        return False
    depth, in_string, escaped = 0, False, False
    for pos, char in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return pos == len(line) - 1
    return False


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _value_end(text: str, pos: int) -> int:
    return _DECODER.raw_decode(text, pos)[1]


def _array_spans(text: str, pos: int) -> tuple[list[tuple[int, int]], int]:
    """Spans of the items of the array opening at ``pos``, and the position after its ``]``."""
    spans: list[tuple[int, int]] = []
    pos = _skip_ws(text, pos + 1)
    if text[pos] == "]":
        return spans, pos + 1
    while True:
        end = _value_end(text, pos)
        spans.append((pos, end))
        pos = _skip_ws(text, end)
        if text[pos] == "]":
            return spans, pos + 1
        if text[pos] != ",":
            raise ValueError(f"reference splitter: expected , or ] at {pos}")
        pos = _skip_ws(text, pos + 1)


def _members(text: str, pos: int) -> tuple[list[tuple[str, int]], int]:
    """(key, value start) of the object opening at ``pos``, and the position after its ``}``."""
    members: list[tuple[str, int]] = []
    pos = _skip_ws(text, pos + 1)
    if text[pos] == "}":
        return members, pos + 1
    while True:
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if text[pos] != ":":
            raise ValueError(f"reference splitter: expected : at {pos}")
        start = _skip_ws(text, pos + 1)
        members.append((key, start))
        pos = _skip_ws(text, _value_end(text, start))
        if text[pos] == "}":
            return members, pos + 1
        if text[pos] != ",":
            raise ValueError(f"reference splitter: expected , or }} at {pos}")
        pos = _skip_ws(text, pos + 1)


def split_json(text: str) -> list[RawItem]:
    """Records of a well-formed ``.json`` document: array items, the items of every list under a wrapper key
    (runs, data, items, ...) of a wrapper object, or each top-level object (several may follow one another). An
    object with a run's member (runId, workflowName, status) before its first list under a wrapper key is a run
    with a list field, not a wrapper."""
    spans: list[tuple[int, int]] = []
    pos = _skip_ws(text, 0)
    while pos < len(text):
        if text[pos] == "[":
            found, end = _array_spans(text, pos)
        elif text[pos] == "{":
            members, end = _members(text, pos)
            lists = [i for i, (key, start) in enumerate(members) if key in WRAPPER_KEYS and text[start] == "["]
            if lists and RUN_KEYS.isdisjoint(key for key, _ in members[: lists[0]]):
                found = [span for i in lists for span in _array_spans(text, members[i][1])[0]]
            else:
                found = [(pos, end)]
        else:
            end = _value_end(text, pos)
            found = [(pos, end)]
        spans.extend(found)
        pos = _skip_ws(text, end)
    items: list[RawItem] = []
    line, counted = 1, 0
    first_end = re.search(r"\r+\n?|\n", text)  # lines end in \r alone when the first line end is \r alone
    line_end = "\r" if first_end and not first_end.group().endswith("\n") else "\n"
    for start, end in spans:
        line += text.count(line_end, counted, start)
        counted = start
        items.append(RawItem(len(items), line, text[start:end]))
    return items


def split_file(path: Path) -> list[RawItem]:
    text = file_text(path)
    return split_ndjson(text) if is_ndjson(path.name) else split_json(text)


# ---------------------------------------------------------------------------------------------------------------
# parsing and validation


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse(raw: str) -> Any:
    """The parsed value; a repeated key keeps its last value (runlens' documented decision)."""
    return json.loads(raw, parse_constant=_reject_constant)


def json_path(parts: Iterable[str | int]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def is_leap_second(stamp: str) -> bool:
    """RFC 3339 allows second 60 only on the last minute of a UTC day."""
    match = _STAMP.match(stamp)
    if not match or match.group(4) != "60":
        return False
    zone = match.group(6)
    offset = 0 if zone in "Zz" else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 60 + int(zone[4:6]))
    minute_of_day = (int(match.group(2)) * 60 + int(match.group(3)) - offset) % 1440
    return minute_of_day == 23 * 60 + 59


def violations(value: Any) -> list[tuple[str, str]]:
    """(JSON path, keyword) of every schema violation, per the JSON Schema specification."""
    probe = value
    if isinstance(value, dict):
        probe = dict(value)
        for key, spec in SCHEMA["properties"].items():
            # jsonschema deviation 1: it rejects valid leap seconds; check the same instant one second earlier.
            if spec.get("format") == "date-time" and isinstance(probe.get(key), str) and is_leap_second(probe[key]):
                probe[key] = probe[key][:17] + "59" + probe[key][19:]
    found = [(json_path(e.absolute_path), str(e.validator)) for e in VALIDATOR.iter_errors(probe)]
    if isinstance(value, dict):
        for key, spec in SCHEMA["properties"].items():
            text = value.get(key)
            # jsonschema deviation 2: Python's `$` also matches before a final newline; ECMA-262's does not.
            if "pattern" in spec and isinstance(text, str) and text.endswith("\n") and re.search(spec["pattern"], text):
                found.append((json_path([key]), "pattern"))
    return found


# ---------------------------------------------------------------------------------------------------------------
# typing valid records


def to_utc(stamp: str) -> tuple[datetime, bool]:
    """A valid RFC 3339 date-time as an aware UTC datetime truncated to microseconds, and whether it was a leap
    second (read as the last microsecond of its minute, ``hh:mm:59.999999``, whatever its fraction)."""
    match = _STAMP.match(stamp)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time: {stamp!r}")
    day, hh, mm, ss, frac, zone = match.groups()
    leap = ss == "60"
    second, micro = ("59", "999999") if leap else (ss, (frac or "")[:6].ljust(6, "0"))
    zone = "+00:00" if zone in "Zz" else zone
    moment = datetime.fromisoformat(f"{day}T{hh}:{mm}:{second}.{micro}{zone}")
    return moment.astimezone(UTC), leap


@dataclass(frozen=True)
class RunState:
    """What a valid record says about its run, typed as the contract says (shared by ``Record`` and ``Run``)."""

    run_id: str
    workflow_name: str
    status: str
    created_at: datetime | None
    completed_at: datetime | None
    error: str | None
    input: Any
    output: Any
    extra: dict[str, Any] | None
    anomalies: tuple[str, ...]
    created_date: date
    created_date_source: str
    source_file: str


@dataclass(frozen=True)
class Record(RunState):
    """A valid record: its run's state, and where it was read (ingest sequence, record index)."""

    seq: int
    index: int


def type_record(value: dict[str, Any], source_file: str, seq: int, index: int, ingested_at: datetime) -> Record:
    created = to_utc(value["createdAt"]) if "createdAt" in value else None
    completed = to_utc(value["completedAt"]) if "completedAt" in value else None
    created_at = created[0] if created else None
    completed_at = completed[0] if completed else None
    status = value["status"]
    anomalies: set[str] = set()
    if created_at and completed_at and completed_at < created_at:
        anomalies.add("completed_before_created")
    if status in ("queued", "running") and completed_at is not None:
        anomalies.add("completed_at_on_unfinished")
    if status == "failed" and "error" not in value:
        anomalies.add("failed_without_error")
    if created_at is None:
        anomalies.add("missing_created_at")
    if (created and created[1]) or (completed and completed[1]):
        anomalies.add("leap_second")
    if any(stamp > ingested_at + timedelta(hours=1) for stamp in (created_at, completed_at) if stamp is not None):
        anomalies.add("after_ingest")
    if created_at is not None:
        created_date, source = created_at.date(), "createdAt"
    elif completed_at is not None:
        created_date, source = completed_at.date(), "completedAt"
    else:
        created_date, source = ingested_at.astimezone(UTC).date(), "ingested_at"
    extra = {k: v for k, v in value.items() if k not in KNOWN_FIELDS} or None
    return Record(
        run_id=value["runId"],
        workflow_name=value["workflowName"],
        status=status,
        created_at=created_at,
        completed_at=completed_at,
        error=value.get("error"),
        input=value.get("input"),
        output=value.get("output"),
        extra=extra,
        anomalies=tuple(sorted(anomalies)),
        created_date=created_date,
        created_date_source=source,
        source_file=source_file,
        seq=seq,
        index=index,
    )


# ---------------------------------------------------------------------------------------------------------------
# ingest of files


@dataclass(frozen=True)
class Quarantined:
    source_file: str
    index: int
    line: int
    raw: str
    errors: frozenset[tuple[str, str]]  # (path, keyword); {("$", PARSE_ERROR)} when the text is not JSON


@dataclass
class FileResult:
    name: str
    sha256: str
    size: int
    seq: int
    items: list[RawItem] = field(default_factory=list)
    valid: list[Record] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)


def error_key(errors: Iterable[Mapping[str, Any]]) -> frozenset[tuple[str, str]]:
    """A quarantine row's errors as (path, keyword); rows whose reasons are not schema keywords (the record could
    not be read as JSON) map to the reference's parse marker."""
    pairs = frozenset((e["path"], e["keyword"]) for e in errors)
    if any(k in VALIDATOR.VALIDATORS for _, k in pairs):
        return pairs
    return frozenset({("$", PARSE_ERROR)})


def check_item(item: RawItem) -> tuple[Any, frozenset[tuple[str, str]]]:
    """The parsed value of one raw record and its violations (empty: valid)."""
    try:
        value = parse(item.raw)
    except (ValueError, RecursionError):
        return None, frozenset({("$", PARSE_ERROR)})
    return value, frozenset(violations(value))


def ingest_file(path: Path, name: str, seq: int, ingested_at: datetime | None = None) -> FileResult:
    data = path.read_bytes()
    result = FileResult(name, hashlib.sha256(data).hexdigest(), len(data), seq, split_file(path))
    for item in result.items:
        value, errors = check_item(item)
        if errors:
            result.quarantined.append(Quarantined(name, item.index, item.line, item.raw, errors))
        else:
            when = ingested_at or datetime.now(UTC)
            result.valid.append(type_record(value, name, seq, item.index, when))
    return result


def export_names(exports_dir: Path) -> list[str]:
    """Export files under ``exports_dir`` (relative, forward slashes), in path order; hidden ones skipped."""
    names = []
    for path in exports_dir.rglob("*"):
        relative = path.relative_to(exports_dir)
        if path.is_file() and not any(p.startswith(".") for p in relative.parts) and is_export(path.name):
            names.append(relative.as_posix())
    return sorted(names)


def ingest_batch(
    exports_dir: Path,
    seen_sha: set[str],
    first_seq: int,
    ingested_at: Mapping[str, datetime] | None = None,
) -> list[FileResult]:
    """Ingest every export whose content was not ingested before (path order; identical content only once)."""
    results: list[FileResult] = []
    seq = first_seq
    for name in export_names(exports_dir):
        path = exports_dir / name
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        if sha in seen_sha:
            continue
        seen_sha.add(sha)
        results.append(ingest_file(path, name, seq, (ingested_at or {}).get(name)))
        seq += 1
    return results


# ---------------------------------------------------------------------------------------------------------------
# latest state per run


@dataclass(frozen=True)
class Run(RunState):
    """One row of ``runs``: the winning record's state, its duration, and the anomalies of the run."""

    duration_s: float | None


def _json_or_none(value: Any) -> Any:
    return None if value is None else json.loads(value)


def run_from_row(row: Mapping[str, Any]) -> Run:
    """A row of the ``runs`` contract (JSON columns as text) in the reference's terms, for comparison."""
    return Run(
        run_id=row["run_id"],
        workflow_name=row["workflow_name"],
        status=row["status"],
        created_at=row["created_at"],
        completed_at=row["completed_at"],
        duration_s=row["duration_s"],
        error=row["error"],
        input=_json_or_none(row["input"]),
        output=_json_or_none(row["output"]),
        extra=_json_or_none(row["extra"]),
        anomalies=tuple(sorted(row["anomalies"])),
        created_date=row["created_date"],
        created_date_source=row["created_date_source"],
        source_file=row["source_file"],
    )


def duration(status: str, created_at: datetime | None, completed_at: datetime | None) -> float | None:
    if status not in ("completed", "failed") or created_at is None or completed_at is None:
        return None
    micros = (completed_at - created_at) // timedelta(microseconds=1)
    return micros / 1_000_000 if micros >= 0 else None


def latest(records: Iterable[Record]) -> dict[str, Run]:
    """One row per run id: highest status rank, then the later ingest, then the later record in the file."""
    best: dict[str, Record] = {}
    statuses: dict[str, set[str]] = {}
    for rec in records:
        statuses.setdefault(rec.run_id, set()).add(rec.status)
        current = best.get(rec.run_id)
        if current is None or (RANK[rec.status], rec.seq, rec.index) > (
            RANK[current.status],
            current.seq,
            current.index,
        ):
            best[rec.run_id] = rec
    out: dict[str, Run] = {}
    for run_id, rec in best.items():
        anomalies = set(rec.anomalies)
        if {"completed", "failed"} <= statuses[run_id]:
            anomalies.add("status_conflict")
        state = {f.name: getattr(rec, f.name) for f in fields(RunState)}
        out[run_id] = Run(
            **(state | {"anomalies": tuple(sorted(anomalies))}),
            duration_s=duration(rec.status, rec.created_at, rec.completed_at),
        )
    return out


def all_valid(files: Iterable[FileResult]) -> list[Record]:
    return [rec for f in files for rec in f.valid]
