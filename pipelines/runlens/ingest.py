"""Ingest one export file: cut it into records, validate each against the schema, and commit the result.

Every record ends up in exactly one place: ``staged.parquet`` (valid, typed) or ``quarantine.parquet`` (raw text
plus every reason). ``ingest_log.parquet`` holds the file's counts (records_read = valid + quarantined). The three
files are written into a hidden folder that is renamed to ``lake/ingest/<export_id>/`` in one atomic step: an
ingest is either fully in the lake or not at all, and a re-run after a crash simply does it again.

Hot path per batch (one chunk of the file, ~8 MiB): one C-speed pass finds the records nested deeper than the cap
(``readers.DepthCheck``); the fast path compiled from the schema (``runlens.fastpath``) decodes each record once and
accepts those that certainly pass the schema; the others are parsed by ``orjson`` (garbage collection paused, it
only slows allocation here) and validated by ``jsonschema-rs`` in one call, and ``msgspec`` decodes the fields of
those that pass (input and output as their raw JSON text); DuckDB types all accepted records
(``sql/stage_records.sql``: UTC timestamps, anomalies, created_date).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import math
import multiprocessing
import shutil
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from itertools import compress
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from runlens import db, lake, ledger
from runlens.config import SQL_DIR, Limits, Settings
from runlens.contracts import INGEST_LOG_SCHEMA, INGEST_LOG_SCHEMA_KEY, QUARANTINE_SCHEMA, RUN_KEY_SQL, STAGED_SCHEMA
from runlens.errors import DecompressedCapError, NotLineDelimitedError
from runlens.fastpath import (
    ABSENT,
    KNOWN_FIELDS,
    Accepted,
    FastPath,
    decode_members,
    extra_text,
    raw_texts,
    utc_key,
    utc_micros,
)
from runlens.readers import (
    TRUNCATED,
    Batch,
    ByteSource,
    DepthCheck,
    JsonSplitter,
    RawBatch,
    Readable,
    decoded_size_hint,
    export_format,
    gzipped,
    iter_ndjson,
    one_document_problem,
    records_from,
)
from runlens.validation import RecordValidator, Violation, holds_lone_surrogate, is_date_time, lone_surrogate

STAGE_SQL = (SQL_DIR / "stage_records.sql").read_text()
INSTANTS_SQL = (SQL_DIR / "rfc3339_instants.sql").read_text()
RFC3339_SQL = (SQL_DIR / "rfc3339_utc_macro.sql").read_text()
HASH_BLOCK = 4 * 2**20
SETTLED_NS = 2 * 10**9
MAX_REMEMBERED_DIGESTS = 4096
_DIGESTS: dict[tuple[int, int, int, int], str] = {}
POOL_MIN_BYTES = 256 * 2**20
QUEUED_BATCHES = 3  # submitted batches not yet taken, beyond one per worker: a worker seldom waits for work
WRITES_AHEAD = 2
# zstd level 1: most of zstd's size win at a fraction of its time; dictionaries only where values repeat.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": ["workflow_name", "status", "source_file", "export_id", "created_date_source", "anomalies"],
}


COMMITTED = ("ingested", "partial")  # the outcomes of an ingest that wrote its ingest_log row
SCHEMA_CHANGE_SQL = (SQL_DIR / "schema_change.sql").read_text()
NOT_READ = "not_read"  # ingest run metadata: its files not read now, each [name, reason]; tried again next time


@dataclass
class IngestResult:
    """What one ingest did, for summaries, metadata and the caller's next steps."""

    source_file: str
    export_id: str
    outcome: str  # ingested | partial | skipped (content already ingested) | unreadable (not read, not recorded)
    records_read: int = 0
    records_valid: int = 0
    records_quarantined: int = 0
    days: set[date] = field(default_factory=set)
    message: str = ""


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, hashed once per process: discovery and the ingest that follows ask for the same
    file. The digest is remembered under the file's identity and stat (device, inode, size, mtime) only when the
    file was last modified at least ``SETTLED_NS`` before it was read, so a write landing in the same instant as the
    read is never mistaken for the remembered content (the rule git uses for "racily clean" files)."""
    return _hashed(path, None)[0]


def checked_sha256(path: Path, limits: Limits, display: str) -> tuple[str, str | None]:
    """``file_sha256`` and ``readers.one_document_problem`` of a file from one read: the check reads the file's head
    through the hash, which then reads on (it used to read it again, 8 MiB more per NDJSON file)."""
    if export_format(path) != "ndjson":
        return file_sha256(path), None
    return _hashed(path, partial(one_document_problem, path, limits, display))


def _hashed(path: Path, peek: Callable[[Readable], str | None] | None) -> tuple[str, str | None]:
    """``file_sha256``, and what ``peek`` finds reading the start of the opened file (hashed as it reads)."""
    before = path.stat()
    key = (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns)
    if key in _DIGESTS:
        if peek is None:
            return _DIGESTS[key], None
        with open(path, "rb") as handle:
            return _DIGESTS[key], peek(handle)
    started = time.time_ns()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        hashing = _Hashing(handle, digest)
        found = None if peek is None else peek(hashing)
        while hashing.read(HASH_BLOCK):
            pass
    after = path.stat()
    settled = started - before.st_mtime_ns >= SETTLED_NS
    if settled and (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns):
        if len(_DIGESTS) >= MAX_REMEMBERED_DIGESTS:
            _DIGESTS.clear()
        _DIGESTS[key] = digest.hexdigest()
    return digest.hexdigest(), found


class _Hashing:
    """A file opened for reading that hashes every byte read from it, in order."""

    def __init__(self, handle: Readable, digest: Any) -> None:
        self.handle = handle
        self.digest = digest

    def read(self, size: int = -1) -> bytes:
        block = self.handle.read(size)
        self.digest.update(block)
        return block


def os_reason(exc: OSError) -> str:
    """An operating-system error in words, without repeating the file name the caller already shows."""
    return exc.strerror or str(exc)


class Reading(NamedTuple):
    """One committed ingest of some content: how it was read (``reading_of``), how many records it read and staged,
    and the cap it stopped at (``RUNLENS_MAX_DECOMPRESSED_BYTES``; None when it read to the end of the file)."""

    export_id: str
    reading: str
    records_read: int
    records_valid: int
    stopped_at_cap: int | None


Readings = dict[str, list[Reading]]  # sha256[:24] -> its readings, in ingest order


class Identity(NamedTuple):
    """The export id of some content as it would be read now, whether it is ingested already, and the record it is
    read from (the records before were read by earlier readings that stopped at the decompression cap)."""

    export_id: str
    done: bool
    start: int = 0


def reading_of(path: Path) -> str:
    """How a file is read: its format, and ``.gz`` when it is decompressed first (``ndjson``, ``json.gz``, ...)."""
    return (export_format(path) or "ndjson") + (".gz" if gzipped(path) else "")  # ExportReader's default format


def committed_readings(lake_dir: Path, sha256: str = "") -> Readings:
    """The committed ingests of every content (from the ingest ledger), or of the one ``sha256`` names (from the
    ingest_logs of its few folders)."""
    if sha256:
        root = lake.table_dir(lake_dir, lake.INGEST)
        logs = [str(p) for p in root.glob(f"{sha256[:24]}*/ingest_log.parquet")] if root.is_dir() else []
        if not logs:
            return {}
        with db.connect() as con:
            rows = con.sql(
                "select * from read_parquet($logs) order by ingest_seq", params={"logs": lake.literal(logs)}
            ).to_arrow_table()
    else:
        rows = ledger.ingest_logs(lake_dir)
    readings: Readings = {}
    columns = ("export_id", "format", "records_read", "records_valid", "message")
    for export_id, reading, read, valid, message in zip(*(rows.column(c).to_pylist() for c in columns), strict=True):
        stopped = DecompressedCapError.cap_in(message)
        readings.setdefault(export_id[:24], []).append(Reading(export_id, reading, read, valid, stopped))
    return readings


def export_identity(readings: Readings, sha256: str, reading: str, cap: int) -> Identity:
    """The export id of some content read as ``reading`` (``reading_of``) under the decompression cap ``cap``,
    whether it is ingested already, and where a new reading starts.

    An export is its bytes *and* the way they are read: the same bytes read otherwise give other records (a ``.jsonl``
    that really holds objects written back to back on one line is one bad record; renamed ``.json``, it is their
    runs; gzip bytes under a plain name are junk). The first reading of some bytes gets the id ``sha256[:24]``.
    Another reading is made only while no earlier one staged a record, so renaming a good file never ingests its
    records twice; it gets the id ``sha256[:24]-<reading>``.

    A reading that stopped at the cap is not final: under a larger cap the same content, read the same way, is read
    on from the first record it did not read (it read only records that lay whole before the cap), as
    ``<id of the first reading>-part<n>`` for the n-th reading; the records before are not read twice. Once a
    reading of another kind staged records, the content is done all the same (a ``.json`` stopped at the cap before
    its first record, then renamed ``.jsonl`` and read whole, then renamed back, staged its records twice)."""
    first = sha256[:24]
    earlier = readings.get(first, [])
    same = [found for found in earlier if found.reading == reading]
    staged = [found for found in earlier if found.records_valid and found.reading != reading]
    if same:
        stopped = same[-1].stopped_at_cap
        if stopped is None or cap <= stopped or staged:
            return Identity(same[0].export_id, True)
        start = sum(found.records_read for found in same)
        return Identity(f"{same[0].export_id}-part{len(same) + 1}", False, start)
    if staged:
        return Identity(staged[0].export_id, True)
    return Identity(f"{first}-{reading}" if earlier else first, False)


def next_ingest_seq(lake_dir: Path) -> int:
    """One more than the largest ingest sequence number in the lake (the caller holds the write lock)."""
    return (pc.max(ledger.ingest_logs(lake_dir).column("ingest_seq")).as_py() or 0) + 1


def schema_change_notice(lake_dir: Path, validator: RecordValidator) -> str | None:
    """What to say when the newest ingest that recorded its schema was validated against another one than
    ``validator``'s: the records quarantined under other schemas are not validated again by the new one (content
    is ingested once). None when the schema is the newest ingest's, or no ingest recorded one (lakes written before
    the record, ``INGEST_LOG_SCHEMA_KEY``)."""
    with db.connect() as con:
        con.register("ingest_ledger", ledger.ingest_logs(lake_dir))
        latest, quarantined = con.execute(SCHEMA_CHANGE_SQL, {"current": validator.digest}).fetchone() or (None, 0)
    if latest is None or latest == validator.digest or not quarantined:
        return None
    return (
        f"the schema ({validator.source}) is not the one the last ingest was validated against: the {quarantined}"
        " record(s) quarantined under another schema are not validated again (exports are ingested once); to"
        " validate every export against this one, run into a new data folder (README: Changing the schema)"
    )


@contextmanager
def gc_paused() -> Iterator[None]:
    """Parsing builds many small containers; the cyclic collector only slows that down (nothing cycles)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class BatchProcessor:
    """Parses, validates and types batches of raw records, with its own DuckDB connection (``threads``: DuckDB's
    threads, all the machine's when None)."""

    def __init__(self, validator: RecordValidator, limits: Limits, threads: int | None = None) -> None:
        self.validator = validator
        self.limits = limits
        self.con = con = db.connect(**({} if threads is None else {"threads": threads}))
        con.execute("set TimeZone = 'UTC'")
        self.depth = DepthCheck(limits.max_nesting_depth)
        self.fast = FastPath.compile(validator.schema)
        con.execute(RFC3339_SQL)
        con.execute(RUN_KEY_SQL)

    def process(self, packed: Batch, params: dict[str, Any]) -> tuple[pa.Table, list[dict[str, Any]]]:
        """Staged rows and quarantine rows of a batch; ``params``: its file's export id, sequence number, name and
        ingest time, as ``sql/stage_records.sql`` and the quarantine rows record them."""
        batch = packed.unpack()
        bad: dict[int, list[Violation]] = {i: [Violation("$", "read", msg)] for i, msg in batch.problems.items()}
        too_deep = Violation("$", "depth", f"nested deeper than {self.depth.cap} levels (RUNLENS_MAX_NESTING_DEPTH)")
        for pos in self.depth.too_deep(batch.raws):
            bad.setdefault(pos, [too_deep])
        fast = self.fast.accept(batch.raws, bad) if self.fast is not None else None
        parsed, positions = self._parse(batch, bad, None if fast is None else fast.refused)
        for i, violations in self.validator.check_batch(parsed, [batch.raws[pos] for pos in positions]).items():
            bad[positions[i]] = violations
        valid = [(pos, rec) for pos, rec in zip(positions, parsed, strict=True) if pos not in bad]
        staged = self._stage(batch, fast, valid, bad, params)
        quarantined = [self._quarantine_row(batch, pos, bad[pos], params) for pos in sorted(bad)]
        return staged, quarantined

    def _parse(
        self, batch: RawBatch, bad: dict[int, list[Violation]], only: list[int] | None
    ) -> tuple[list[Any], list[int]]:
        """Parse the records at ``only`` (every record not already bad when None) for the full validator."""
        parsed: list[Any] = []
        positions: list[int] = []
        loads = orjson.loads
        for pos in range(len(batch.raws)) if only is None else only:
            if pos in bad:
                continue
            raw = batch.raws[pos]
            try:
                parsed.append(loads(raw))
            except orjson.JSONDecodeError as exc:
                try:
                    parsed.append(_strict_loads(raw))
                except UnicodeDecodeError as undecodable:  # orjson's message names another cause
                    where = f"byte {undecodable.start + 1} of the record"
                    bad[pos] = [Violation("$", "json", f"not valid JSON: not valid UTF-8 at {where}")]
                    continue
                except (ValueError, RecursionError):
                    bad[pos] = [Violation("$", "json", f"not valid JSON: {exc}")]
                    continue
            positions.append(pos)
        return parsed, positions

    def _stage(
        self,
        batch: RawBatch,
        fast: Accepted | None,
        valid: list[tuple[int, Any]],
        bad: dict[int, list[Violation]],
        params: dict[str, Any],
    ) -> pa.Table:
        """Typed rows for the records the fast path accepted and those the full validator passed, in file order."""
        kept, fields, extras = self._decode_valid(batch, valid, bad)
        columns: dict[str, pa.Array] = {}
        if fast is not None and fast.positions:
            if kept:  # both paths (rare: a leap second, a repeated key): file order, columns built from the fields
                merged = sorted(
                    zip(fast.positions + kept, fast.fields + fields, fast.extras + extras, strict=True),
                    key=itemgetter(0),
                )
                kept, fields, extras = (list(part) for part in zip(*merged, strict=True))
            else:
                kept, fields, extras, columns = fast.positions, fast.fields, fast.extras, fast.columns
        if not kept:
            return STAGED_SCHEMA.empty_table()
        unreadable: dict[int, list[Violation]] = {}
        typed = self._run_stage_sql(
            _stage_input(batch, kept, fields, extras, columns, self._exact_instants, unreadable), params
        )
        unstorable = _unstorable(typed, unreadable)
        if unstorable:
            for row, violations in unstorable.items():
                bad[kept[row]] = violations
            typed = typed.filter(pa.array([row not in unstorable for row in range(typed.num_rows)]))
        return typed.drop_columns(["storable"]).cast(STAGED_SCHEMA)

    def _decode_valid(
        self, batch: RawBatch, valid: list[tuple[int, Any]], bad: dict[int, list[Violation]]
    ) -> tuple[list[int], list[Any], list[str | None]]:
        """The stored fields and unknown members of the records the full validator passed."""
        if not valid:
            return [], [], []
        kept = [pos for pos, _ in valid]
        raws = [batch.raws[pos] for pos in kept]
        fields = _decode_batch(raws)
        if fields is None:
            return self._decode_one_by_one(batch, valid, bad)
        plain = list(map(KNOWN_FIELDS.issuperset, (rec for _, rec in valid)))
        extras = [None if ok else extra_text(raw) for ok, raw in zip(plain, raws, strict=True)]
        return kept, list(fields), extras

    @staticmethod
    def _decode_one_by_one(
        batch: RawBatch, valid: list[tuple[int, Any]], bad: dict[int, list[Violation]]
    ) -> tuple[list[int], list[RunFields], list[str | None]]:
        """Decode record by record, quarantining those that pass the schema but cannot be decoded for storage."""
        fields: list[RunFields] = []
        extras: list[str | None] = []
        kept: list[int] = []
        for pos, rec in valid:
            raw = batch.raws[pos]
            try:
                decoded = _decode_run_fields(raw)
                extra = None if KNOWN_FIELDS.issuperset(rec) else extra_text(raw)
            except (msgspec.DecodeError, RecursionError) as exc:
                if holds_lone_surrogate(rec):  # in a string the schema does not read: said as where it reads one
                    bad[pos] = [lone_surrogate(rec)]
                else:
                    bad[pos] = [Violation("$", "storage", NOT_A_RUN.format(reason=" ".join(str(exc).split())))]
                continue
            fields.append(decoded)
            extras.append(extra)
            kept.append(pos)
        return kept, fields, extras

    def _exact_instants(self, stamps: pa.Array) -> tuple[pa.Array, np.ndarray]:
        """UTC microseconds and leap-second flags of date-times numpy leaves over (``sql/rfc3339_instants.sql``)."""
        self.con.register("stamps", pa.table({"s": stamps}))
        try:
            result = self.con.sql(INSTANTS_SQL).to_arrow_table()
        finally:
            self.con.unregister("stamps")
        return result.column("micros").combine_chunks(), result.column("leap").to_numpy()

    def _run_stage_sql(self, table: pa.Table, params: dict[str, Any]) -> pa.Table:
        self.con.register("batch", table)
        try:
            return self.con.sql(STAGE_SQL, params=params).to_arrow_table()
        finally:
            self.con.unregister("batch")

    def _quarantine_row(
        self, batch: RawBatch, pos: int, violations: list[Violation], params: dict[str, Any]
    ) -> dict[str, Any]:
        problem = batch.problems.get(pos)
        return {
            "source_file": params["source_file"],
            "export_id": params["export_id"],
            "record_index": batch.first_index + pos,
            "line": batch.lines[pos],
            "raw": batch.raws[pos].decode("utf-8", "backslashreplace"),
            "raw_truncated": problem is not None and TRUNCATED in problem,
            "errors": [v.as_row() for v in violations],
            "ingested_at": params["ingested_at"],
        }


class RunFields(msgspec.Struct):
    """The schema's top-level properties as the runs table stores them; input and output stay raw JSON text,
    byte for byte as exported. Decoded only from records that already passed the schema (repeated keys: the last
    one wins, as in orjson, so the stored row is the object that was validated)."""

    runId: str
    workflowName: str
    status: str
    createdAt: str | None = None
    completedAt: str | None = None
    error: str | None = None
    input: msgspec.Raw = ABSENT
    output: msgspec.Raw = ABSENT


_decode_fields = msgspec.json.Decoder(RunFields).decode
_decode_list = msgspec.json.Decoder(list[RunFields]).decode
NOT_A_RUN = (
    "passes the schema but cannot be stored in runs, which needs runId, workflowName and status in every record, "
    "each a string, and error, createdAt and completedAt a string or null where present: {reason}"
)
UNSTORABLE = (
    "valid JSON that DuckDB's JSON type cannot hold (for example a lone UTF-16 surrogate escape); kept here with "
    "its raw text"
)
OUT_OF_RANGE = "a valid date-time whose UTC time falls outside the years 0001-9999, which runs cannot hold"
# The UTC instants runs can hold (Python's datetime range: the pipeline reads created_date back as a date), as the
# naive UTC timestamps the typing SQL returns.
UTC_RANGE = (
    pa.scalar(datetime(1, 1, 1), pa.timestamp("us")),
    pa.scalar(datetime(9999, 12, 31, 23, 59, 59, 999999), pa.timestamp("us")),
)


def _unstorable(typed: pa.Table, unreadable: dict[int, list[Violation]]) -> dict[int, list[Violation]]:
    """Rows of a typed batch that passed the schema but cannot be stored, by row number, with the reasons: those
    ``unreadable`` holds already (a date-time runlens cannot read, ``_stage_input``) and those the typing found."""
    checks = [(typed.column("storable"), Violation("$", "storage", UNSTORABLE))]
    for column, name in (("created_at", "createdAt"), ("completed_at", "completedAt")):
        values = typed.column(column)
        in_range = pc.and_(pc.greater_equal(values, UTC_RANGE[0]), pc.less_equal(values, UTC_RANGE[1]))
        checks.append((pc.fill_null(in_range, True), Violation(f"$.{name}", "storage", OUT_OF_RANGE)))
    if all(pc.all(ok).as_py() for ok, _ in checks):
        return unreadable
    bad = unreadable
    for ok, violation in checks:
        for row in pc.indices_nonzero(pc.invert(ok)).to_pylist():
            bad.setdefault(row, []).append(violation)
    return bad


def _stage_input(
    batch: RawBatch,
    kept: list[int],
    fields: list[Any],
    extras: list[str | None],
    built: dict[str, pa.Array],
    exact: Callable[[pa.Array], tuple[pa.Array, np.ndarray]],
    unreadable: dict[int, list[Violation]],
) -> pa.Table:
    """The typing SQL's input. ``built``: columns the fast path already made from these fields (``Accepted.columns``;
    the others are made here); ``exact`` converts the date-times numpy leaves over (leap seconds, long fractions).

    A createdAt or completedAt that passed the schema but is no date-time (a schema without ``"format":
    "date-time"`` there lets any string through) has no UTC instant: its row is added to ``unreadable`` (by row,
    keyword ``storage``, the field and its value in the message) and the caller quarantines the record. Only the
    stamps numpy leaves over are checked, one by one; with the bundled schema they are the rare leap seconds and
    long fractions."""
    text = pa.string()

    def column(name: str) -> pa.Array:
        return built[name] if name in built else pa.array(list(map(attrgetter(name), fields)), text)

    def raw_column(name: str) -> pa.Array:
        """The raw JSON texts, NULL where absent; valid UTF-8: the fast path validated the columns it built, and
        the texts of records orjson (or the strict fallback) parsed are checked here again."""
        if name in built:
            return built[name]
        array = raw_texts(list(map(attrgetter(name), fields)))
        array.validate(full=True)
        return array

    leap = np.zeros(len(fields), dtype=bool)

    def utc(name: str) -> pa.Array:
        stamps = column(name)
        micros = built[utc_key(name)] if utc_key(name) in built else utc_micros(stamps)
        if micros.null_count == stamps.null_count:  # every present stamp converted (NULL only where absent)
            return micros
        left = np.flatnonzero(pc.and_(micros.is_null(), stamps.is_valid()).to_numpy(zero_copy_only=False))
        values = micros.fill_null(0).to_numpy().copy()
        absent = stamps.is_null().to_numpy(zero_copy_only=False)
        texts = stamps.take(pa.array(left)).to_pylist()
        readable = np.fromiter(map(is_date_time, texts), bool, len(texts))
        for row, text in zip(left[~readable].tolist(), compress(texts, ~readable), strict=True):
            unreadable.setdefault(row, []).append(Violation(f"$.{name}", "storage", _not_a_date_time(name, text)))
        absent[left[~readable]] = True
        left = left[readable]
        if left.size:
            exact_micros, leaps = exact(stamps.take(pa.array(left)))
            values[left] = exact_micros.fill_null(0).to_numpy()
            absent[left] = exact_micros.is_null().to_numpy(zero_copy_only=False)  # NULL as the SQL conversion gives
            leap[left] |= leaps
        return pa.array(values, pa.int64(), mask=absent)

    first = batch.first_index
    created, completed = utc("createdAt"), utc("completedAt")
    return pa.table(
        {
            "record_index": pa.array(np.asarray(kept, dtype=np.int64) + first),
            "run_id": column("runId"),
            "workflow_name": column("workflowName"),
            "status": column("status"),
            "created_us": created,
            "completed_us": completed,
            "leap": leap,
            "error": column("error"),
            "input": raw_column("input"),
            "output": raw_column("output"),
            "extra": pa.array(extras, text),
        }
    )


NOT_A_DATE_TIME = (
    "{value} passes the schema but is not an RFC 3339 date-time (such as 2026-03-01T10:00:00Z), so runs cannot store "
    '{name} as an instant; a schema with "format": "date-time" on {name} quarantines it as format instead'
)
MAX_SHOWN_STAMP_CHARS = 200


def _not_a_date_time(name: str, text: str) -> str:
    """The message of a createdAt/completedAt the schema let through that is no date-time, naming the value (its
    start when long; a lone surrogate as its escape: the text is stored)."""
    shown = json.dumps(text[:MAX_SHOWN_STAMP_CHARS], ensure_ascii=False)
    if len(text) > MAX_SHOWN_STAMP_CHARS:
        shown += f" …[{len(text) - MAX_SHOWN_STAMP_CHARS} more characters]"
    return NOT_A_DATE_TIME.format(value=shown, name=name).encode("utf-8", "backslashreplace").decode()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _strict_loads(raw: bytes) -> Any:
    """Standard-library parse for what orjson refuses but JSON allows (integers beyond 64 bits, numbers beyond a
    double). The bytes are decoded as strict UTF-8 first: given bytes, ``json.loads`` would let UTF-8-encoded
    surrogates through."""
    return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_int=_parse_int)


def _parse_int(text: str) -> int | float:
    """An integer, or infinity for one longer than Python converts from text (``sys.get_int_max_str_digits``, 4300
    digits, a guard against quadratic conversion): far beyond a double, it is read as a number beyond a double is,
    ``1E400``, so its record meets the same fate, valid where any value passes and named as written in a message
    (``validation.py``), instead of being refused as not JSON."""
    try:
        return int(text)
    except ValueError:
        return -math.inf if text.startswith("-") else math.inf


def _decode_batch(raws: list[bytes]) -> list[RunFields] | None:
    """All records' fields in one decoder call; None when some record needs the one-by-one path (a repeated key
    whose occurrences differ in type, or a record msgspec cannot decode)."""
    try:
        return _decode_list(b"[" + b",".join(raws) + b"]")
    except (msgspec.DecodeError, RecursionError):
        return None


def _decode_run_fields(raw: bytes) -> RunFields:
    try:
        return _decode_fields(raw)
    except msgspec.ValidationError:
        # msgspec type-checks every occurrence of a repeated key, orjson keeps the last one (the object that was
        # validated): decode the record again with each key once, holding its last value
        members = decode_members(raw)
        return _decode_fields(
            b"{" + b",".join(orjson.dumps(key) + b":" + bytes(v) for key, v in members.items()) + b"}"
        )


class IngestWriter:
    """Writes one ingest into a hidden folder and commits it with a single rename.

    Parquet encoding runs on a writer thread (pyarrow releases the GIL while it compresses), so the reading process
    goes on cutting and handing out batches meanwhile; at most ``WRITES_AHEAD`` batches wait to be written, and
    they are written in the order they came."""

    def __init__(self, lake_dir: Path, export_id: str) -> None:
        self.final = lake.table_dir(lake_dir, lake.INGEST) / export_id
        self.work = lake_dir / lake.TMP / f"{export_id}.{uuid.uuid4().hex}"
        self.work.mkdir(parents=True)
        self.staged = pq.ParquetWriter(self.work / "staged.parquet", STAGED_SCHEMA, **PARQUET_OPTIONS)
        self.quarantine = pq.ParquetWriter(self.work / "quarantine.parquet", QUARANTINE_SCHEMA, **PARQUET_OPTIONS)
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="ingest-writer")
        self.pending: deque[Future[None]] = deque()

    def write(self, staged: pa.Table, quarantined: list[dict[str, Any]]) -> None:
        while len(self.pending) >= WRITES_AHEAD:
            self.pending.popleft().result()
        self.pending.append(self.thread.submit(self._write, staged, quarantined))

    def _write(self, staged: pa.Table, quarantined: list[dict[str, Any]]) -> None:
        if staged.num_rows:
            self.staged.write_table(staged)
        if quarantined:
            self.quarantine.write_table(pa.Table.from_pylist(quarantined, schema=QUARANTINE_SCHEMA))

    def _finish_writes(self) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.thread.shutdown(cancel_futures=True)
            self.staged.close()
            self.quarantine.close()

    def commit(self, log_row: dict[str, Any], schema_digest: str) -> None:
        """Write the ingest_log row (with the digest of the schema the records were validated against, as key-value
        metadata ``INGEST_LOG_SCHEMA_KEY``), fsync, and rename the folder into the lake."""
        self._finish_writes()
        log = pa.Table.from_pylist(
            [log_row], schema=INGEST_LOG_SCHEMA.with_metadata({INGEST_LOG_SCHEMA_KEY: schema_digest})
        )
        pq.write_table(log, self.work / "ingest_log.parquet")
        for path in self.work.iterdir():
            with open(path, "rb+") as handle:
                lake.fsync_file(handle)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.work.rename(self.final)
        lake.fsync_dir(self.final.parent)

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # the ingest is abandoned: its folder goes, whatever the writes did
            self._finish_writes()
        shutil.rmtree(self.work, ignore_errors=True)


class ExportReader:
    """Reads one export file as processed batches: (raw batch, staged rows, quarantine rows), in file order.

    Files that decode to more than ``POOL_MIN_BYTES`` (for gzip: the size its trailer records) are processed by a
    pool of worker processes (``Limits.ingest_workers``), a few batches in flight at a time so memory stays bounded;
    the reading, splitting and writing stay here.
    """

    def __init__(
        self,
        path: Path,
        settings: Settings,
        validator: RecordValidator,
        params: dict[str, Any],
        pool: ProcessPoolExecutor | None = None,
        start: int = 0,
    ) -> None:
        self.path = path
        self.pool = pool
        self.start = start  # the first record read (``export_identity``: the records before were read already)
        self.read_to = start  # one more than the index of the last record read so far
        self.source = ByteSource(path, settings.limits, params["source_file"])
        self.splitter = JsonSplitter(settings.limits) if export_format(path) == "json" else None
        self.validator = validator
        self.params = params
        self.limits = settings.limits

    def __iter__(self) -> Iterator[tuple[Batch, pa.Table, list[dict[str, Any]]]]:
        source, stopped = self.source, self.source.stopped_at_cap
        split = self.splitter.split(source, stopped) if self.splitter else iter_ndjson(source, self.limits, stopped)
        batches = records_from(split, self.start) if self.start else split
        if self.pool is not None:
            processed = self._in_pool(batches, self.pool, self.limits.ingest_workers)
        else:
            processed = self._in_process(batches)
        for batch, staged, quarantined in processed:
            self.read_to = batch.first_index + batch.size
            yield batch, staged, quarantined

    def _in_process(self, batches: Iterator[Batch]) -> Iterator[tuple[Batch, pa.Table, list[dict[str, Any]]]]:
        processor = _processors.of(self.validator, self.limits)
        with gc_paused():
            for batch in batches:
                staged, quarantined = processor.process(batch, self.params)
                yield batch, staged, quarantined

    def _in_pool(
        self, batches: Iterator[Batch], pool: ProcessPoolExecutor, workers: int
    ) -> Iterator[tuple[Batch, pa.Table, list[dict[str, Any]]]]:
        in_flight: deque[tuple[Batch, Future[tuple[pa.Table, list[dict[str, Any]]]]]] = deque()
        for batch in batches:
            in_flight.append((batch, pool.submit(_process_in_worker, batch, self.params)))
            if len(in_flight) > workers + QUEUED_BATCHES:
                done, future = in_flight.popleft()
                yield done, *future.result()
        while in_flight:
            done, future = in_flight.popleft()
            yield done, *future.result()

    @property
    def notes(self) -> list[str]:
        """File-level problems, after iteration: a read error first, then the splitter's warnings."""
        notes = list(self.splitter.warnings if self.splitter else [])
        error = self.source.error
        if isinstance(error, DecompressedCapError):
            notes.insert(
                0,
                f"{error.reason}: the records after the first {self.read_to} were not read; raise the cap to read "
                "them (runlens run then reads on from there, without reading the others again)",
            )
        elif error is not None:
            notes.insert(0, error.reason if error.offset is None else f"{error.reason} (after {error.offset} bytes)")
        return notes


class Processors(threading.local):
    """This thread's in-process BatchProcessor, kept from file to file while the validator and limits stay the same:
    opening its DuckDB connection and preparing it took about 20 ms, most of a small file's ingest (an ingest run
    calls ``ingest_file`` once per file with one validator)."""

    def __init__(self) -> None:
        self.processor: BatchProcessor | None = None

    def of(self, validator: RecordValidator, limits: Limits) -> BatchProcessor:
        kept = self.processor
        if kept is None or kept.validator is not validator or kept.limits != limits:
            self.processor = None  # were the new one not made (Ctrl-C while it connects), not the closed one
            if kept is not None:
                kept.con.close()
            self.processor = kept = BatchProcessor(validator, limits)
        return kept


_processors = Processors()
_worker: BatchProcessor | None = None


@contextmanager
def worker_pool(path: Path, limits: Limits, validator: RecordValidator) -> Iterator[ProcessPoolExecutor | None]:
    """The worker processes for a file that decodes to more than ``POOL_MIN_BYTES`` (None for a smaller file, or
    with one worker). They are started at once, so they import and set up while the caller hashes the file."""
    try:
        pooled = limits.ingest_workers > 1 and decoded_size_hint(path) >= POOL_MIN_BYTES
    except OSError:  # gone or unreadable: the caller reports it when it hashes the file
        pooled = False
    if not pooled:
        yield None
        return
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        limits.ingest_workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(validator.schema, validator.source, limits),
    ) as pool:
        for _ in range(limits.ingest_workers):
            pool.submit(int)  # each submit to an idle-less pool starts one process
        yield pool


def _init_worker(schema: dict[str, Any], source: Path | None, limits: Limits) -> None:
    global _worker
    # Ctrl-C in a terminal reaches every process of its group, and a worker that took it printed a KeyboardInterrupt
    # traceback. The owner is interrupted too and stops the pool; a worker that died of the signal instead could die
    # while sending a result, and the owner then waited for the rest of it for ever.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()  # see gc_paused; the worker only ever parses
    _worker = BatchProcessor(RecordValidator(schema, source), limits, threads=1)


def _process_in_worker(batch: Batch, params: dict[str, Any]) -> tuple[pa.Table, list[dict[str, Any]]]:
    assert _worker is not None, "worker not initialised"
    return _worker.process(batch, params)


def ingest_file(
    path: Path, settings: Settings, validator: RecordValidator, display: str | None = None, seq: int | None = None
) -> IngestResult:
    """Ingest one export file version (the caller holds the lake's write lock). ``seq``: its ingest sequence number
    when the caller knows it (one more than the last committed ingest's; default: looked up in the lake, which reads
    every ingest log, so a caller ingesting many files counts up instead)."""
    with worker_pool(path, settings.limits, validator) as pool:
        return _ingest_file(path, settings, validator, display or path.name, pool, seq)


CHANGED_WHILE_READ = "changed while it was read (written to or replaced): nothing recorded, read again next time"


def _changed_since(path: Path, identity: tuple[int, ...]) -> bool:
    try:
        return _identity(path) != identity
    except OSError:  # removed or replaced by something unreadable
        return True


def _identity(path: Path) -> tuple[int, ...]:
    """What changes when a file's bytes may have: its identity, size, and modification and change times (the change
    time cannot be set back by a writer)."""
    stat = path.stat()
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _ingest_file(
    path: Path,
    settings: Settings,
    validator: RecordValidator,
    name: str,
    pool: ProcessPoolExecutor | None,
    seq: int | None,
) -> IngestResult:
    try:
        identity = _identity(path)
        sha = file_sha256(path)
    except OSError as exc:  # removed or made unreadable since discovery: nothing read, so nothing to record
        return IngestResult(name, "", "unreadable", message=f"could not be read: {os_reason(exc)}")
    reading = reading_of(path)
    cap = settings.limits.max_decompressed_bytes
    export_id, done, start = export_identity(committed_readings(settings.lake_dir, sha), sha, reading, cap)
    if done:
        return IngestResult(name, export_id, "skipped", message="content already ingested")
    ingested_at = datetime.now(UTC)
    seq = next_ingest_seq(settings.lake_dir) if seq is None else seq
    params = {"source_file": name, "export_id": export_id, "ingest_seq": seq, "ingested_at": ingested_at}
    result = IngestResult(name, export_id, "ingested")
    reader = ExportReader(path, settings, validator, params, pool, start)
    writer = IngestWriter(settings.lake_dir, export_id)
    try:
        for batch, staged, quarantined in reader:
            writer.write(staged, quarantined)
            result.records_read += batch.size
            result.records_valid += staged.num_rows
            result.records_quarantined += len(quarantined)
            if staged.num_rows:
                result.days.update(staged.column("created_date").unique().to_pylist())
        if isinstance(reader.source.error, NotLineDelimitedError):  # none of it read: not recorded, so it can be fixed
            writer.abort()
            return IngestResult(name, export_id, "unreadable", message=reader.source.error.reason)
        if _changed_since(path, identity):  # the records read may not be the bytes hashed: recorded, they would be
            writer.abort()  # taken for that content, whose other records would then never be read
            return IngestResult(name, export_id, "unreadable", message=CHANGED_WHILE_READ)
        if reader.source.error is not None:
            result.outcome = "partial"
        result.message = "; ".join(reader.notes)
        writer.commit(
            {
                "source_file": name,
                "export_id": export_id,
                "sha256": sha,
                "bytes": path.stat().st_size,
                "format": reading,
                "records_read": result.records_read,
                "records_valid": result.records_valid,
                "records_quarantined": result.records_quarantined,
                "ingest_seq": seq,
                "ingested_at": ingested_at,
                "outcome": result.outcome,
                "message": result.message or None,
            },
            validator.digest,
        )
    except BaseException:
        writer.abort()
        raise
    return result
