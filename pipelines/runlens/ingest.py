"""Ingest one export file: cut it into records, validate each against the schema, and commit the result.

Every record ends up in exactly one place: ``staged.parquet`` (valid, typed) or ``quarantine.parquet`` (raw text
plus every reason). ``ingest_log.parquet`` holds the file's counts (records_read = valid + quarantined). The three
files are written into a hidden folder that is renamed to ``lake/ingest/<export_id>/`` in one atomic step: an
ingest is either fully in the lake or not at all, and a re-run after a crash simply does it again.

Hot path per batch (one chunk of the file, ~8 MiB): ``orjson`` parses each record (garbage collection paused, it
only slows allocation here), ``jsonschema-rs`` validates the whole batch in one call, and DuckDB turns the raw JSON
text of the valid records into typed columns (``sql/stage_records.sql``).
"""

from __future__ import annotations

import gc
import hashlib
import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from runlens import lake
from runlens.config import SQL_DIR, Settings
from runlens.contracts import INGEST_LOG_SCHEMA, QUARANTINE_SCHEMA, STAGED_SCHEMA
from runlens.readers import ByteSource, JsonSplitter, RawBatch, export_format, iter_ndjson
from runlens.validation import RecordValidator, Violation

KNOWN_FIELDS = frozenset({"runId", "workflowName", "status", "input", "output", "error", "createdAt", "completedAt"})
STAGE_SQL = (SQL_DIR / "stage_records.sql").read_text()
HASH_BLOCK = 4 * 2**20


@dataclass
class IngestResult:
    """What one ingest did, for summaries, metadata and the caller's next steps."""

    source_file: str
    export_id: str
    outcome: str  # ingested | partial | skipped (content already ingested)
    records_read: int = 0
    records_valid: int = 0
    records_quarantined: int = 0
    days: set[date] = field(default_factory=set)
    message: str = ""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def export_id_for(sha256: str) -> str:
    return sha256[:24]


def ingested_ids(lake_dir: Path) -> set[str]:
    """Export ids whose ingest has been committed."""
    root = lake.table_dir(lake_dir, lake.INGEST)
    return {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


def next_ingest_seq(lake_dir: Path) -> int:
    """One more than the largest ingest sequence number in the lake (the caller holds the write lock)."""
    if not lake.has_files(lake_dir, lake.INGEST, partitioned=True):
        return 1
    with duckdb.connect() as con:
        row = con.execute(
            "select coalesce(max(ingest_seq), 0) + 1 from read_parquet($glob)",
            {"glob": lake.ingest_glob(lake_dir, "ingest_log")},
        ).fetchone()
    return int(row[0]) if row else 1


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
    """Parses, validates and types one batch of raw records."""

    def __init__(self, validator: RecordValidator, con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> None:
        self.validator = validator
        self.con = con
        self.params = params

    def process(self, batch: RawBatch) -> tuple[pa.Table, list[dict[str, Any]]]:
        with gc_paused():
            bad: dict[int, list[Violation]] = {i: [Violation("$", "read", msg)] for i, msg in batch.problems.items()}
            parsed, positions = self._parse(batch, bad)
            for i, violations in self.validator.check_batch(parsed).items():
                bad[positions[i]] = violations
            valid = [(pos, rec) for pos, rec in zip(positions, parsed, strict=True) if pos not in bad]
            staged = self._stage(batch, valid, bad)
        quarantined = [self._quarantine_row(batch, pos, bad[pos]) for pos in sorted(bad)]
        return staged, quarantined

    def _parse(self, batch: RawBatch, bad: dict[int, list[Violation]]) -> tuple[list[Any], list[int]]:
        parsed: list[Any] = []
        positions: list[int] = []
        loads = orjson.loads
        for pos, raw in enumerate(batch.raws):
            if pos in bad:
                continue
            try:
                parsed.append(loads(raw))
            except orjson.JSONDecodeError as exc:
                try:
                    parsed.append(_strict_loads(raw))
                except (ValueError, RecursionError):
                    bad[pos] = [Violation("$", "json", f"not valid JSON: {exc}")]
                    continue
            positions.append(pos)
        return parsed, positions

    def _stage(self, batch: RawBatch, valid: list[tuple[int, Any]], bad: dict[int, list[Violation]]) -> pa.Table:
        if not valid:
            return STAGED_SCHEMA.empty_table()
        try:
            typed = self._run_stage_sql(_stage_input(batch, valid))
        except duckdb.Error:
            return self._stage_one_by_one(batch, valid, bad)
        dup = typed.column("dup_keys").to_pylist()
        if any(dup):
            for (pos, _), is_dup in zip(valid, dup, strict=True):
                if is_dup:
                    bad[pos] = [_duplicate_key_violation(batch.raws[pos])]
            typed = typed.filter(pa.array([not d for d in dup]))
        return typed.drop_columns(["dup_keys"]).cast(STAGED_SCHEMA)

    def _run_stage_sql(self, table: pa.Table) -> pa.Table:
        self.con.register("batch", table)
        try:
            return self.con.sql(STAGE_SQL, params=self.params).to_arrow_table()
        finally:
            self.con.unregister("batch")

    def _stage_one_by_one(
        self, batch: RawBatch, valid: list[tuple[int, Any]], bad: dict[int, list[Violation]]
    ) -> pa.Table:
        """Slow path for a batch DuckDB's JSON reader refused: find the records it cannot read, keep the rest."""
        kept: list[tuple[int, Any]] = []
        for pos, rec in valid:
            try:
                self._run_stage_sql(_stage_input(batch, [(pos, rec)]))
                kept.append((pos, rec))
            except duckdb.Error as exc:
                bad[pos] = [Violation("$", "json", f"JSON that DuckDB cannot read: {exc}".splitlines()[0])]
        return self._stage(batch, kept, bad) if kept else STAGED_SCHEMA.empty_table()

    def _quarantine_row(self, batch: RawBatch, pos: int, violations: list[Violation]) -> dict[str, Any]:
        problem = batch.problems.get(pos)
        return {
            "source_file": self.params["source_file"],
            "export_id": self.params["export_id"],
            "record_index": batch.first_index + pos,
            "line": batch.lines[pos],
            "raw": batch.raws[pos].decode("utf-8", "backslashreplace"),
            "raw_truncated": problem is not None and "only its start is kept" in problem,
            "errors": [v.as_row() for v in violations],
            "ingested_at": self.params["ingested_at"],
        }


def _stage_input(batch: RawBatch, valid: list[tuple[int, Any]]) -> pa.Table:
    return pa.table(
        {
            "record_index": pa.array([batch.first_index + pos for pos, _ in valid], pa.int64()),
            "line": pa.array([batch.lines[pos] for pos, _ in valid], pa.int64()),
            "raw": pa.array([batch.raws[pos] for pos, _ in valid], pa.binary()).cast(pa.string()),
            "extra": pa.array([_extra(rec) for _, rec in valid], pa.string()),
        }
    )


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _strict_loads(raw: bytes) -> Any:
    """Standard-library parse for what orjson refuses but JSON allows (integers beyond 64 bits)."""
    return json.loads(raw, parse_constant=_reject_constant)


def _extra(record: Any) -> str | None:
    if not isinstance(record, dict) or (len(record) <= len(KNOWN_FIELDS) and record.keys() <= KNOWN_FIELDS):
        return None
    extra = {k: v for k, v in record.items() if k not in KNOWN_FIELDS}
    return orjson.dumps(extra).decode() if extra else None


def _duplicate_key_violation(raw: bytes) -> Violation:
    seen: set[str] = set()
    repeated: list[str] = []

    for key, _ in json.loads(raw, object_pairs_hook=lambda pairs: pairs):
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    names = ", ".join(repeated)
    return Violation(
        "$", "duplicateKey", f"top-level key repeated ({names}): parsers disagree on which value wins; fix the export"
    )


class IngestWriter:
    """Writes one ingest into a hidden folder and commits it with a single rename."""

    def __init__(self, lake_dir: Path, export_id: str) -> None:
        self.final = lake.table_dir(lake_dir, lake.INGEST) / export_id
        self.work = lake_dir / lake.TMP / f"{export_id}.{uuid.uuid4().hex}"
        self.work.mkdir(parents=True)
        self.staged = pq.ParquetWriter(self.work / "staged.parquet", STAGED_SCHEMA, compression="zstd")
        self.quarantine = pq.ParquetWriter(self.work / "quarantine.parquet", QUARANTINE_SCHEMA, compression="zstd")

    def write(self, staged: pa.Table, quarantined: list[dict[str, Any]]) -> None:
        if staged.num_rows:
            self.staged.write_table(staged)
        if quarantined:
            self.quarantine.write_table(pa.Table.from_pylist(quarantined, schema=QUARANTINE_SCHEMA))

    def commit(self, log_row: dict[str, Any]) -> None:
        self.staged.close()
        self.quarantine.close()
        pq.write_table(pa.Table.from_pylist([log_row], schema=INGEST_LOG_SCHEMA), self.work / "ingest_log.parquet")
        for path in self.work.iterdir():
            with open(path, "rb+") as handle:
                lake.fsync_file(handle)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.work.rename(self.final)
        lake.fsync_dir(self.final.parent)

    def abort(self) -> None:
        self.staged.close()
        self.quarantine.close()
        shutil.rmtree(self.work, ignore_errors=True)


class ExportReader:
    """Reads one export file as processed batches: (raw batch, staged rows, quarantine rows)."""

    def __init__(self, path: Path, settings: Settings, validator: RecordValidator, params: dict[str, Any]) -> None:
        self.source = ByteSource(path, settings.limits, params["source_file"])
        self.splitter = JsonSplitter(settings.limits) if export_format(path) == "json" else None
        self.validator = validator
        self.params = params
        self.limits = settings.limits

    def __iter__(self) -> Iterator[tuple[RawBatch, pa.Table, list[dict[str, Any]]]]:
        batches = self.splitter.split(self.source) if self.splitter else iter_ndjson(self.source, self.limits)
        with duckdb.connect() as con:
            con.execute("set TimeZone = 'UTC'")
            processor = BatchProcessor(self.validator, con, self.params)
            for batch in batches:
                staged, quarantined = processor.process(batch)
                yield batch, staged, quarantined

    @property
    def notes(self) -> list[str]:
        """File-level problems, after iteration: a read error first, then the splitter's warnings."""
        notes = list(self.splitter.warnings if self.splitter else [])
        if self.source.error is not None:
            notes.insert(0, f"{self.source.error.reason} (after {self.source.error.offset} bytes)")
        return notes


def ingest_file(path: Path, settings: Settings, validator: RecordValidator, display: str | None = None) -> IngestResult:
    """Ingest one export file version (the caller holds the lake's write lock)."""
    name = display or path.name
    sha = file_sha256(path)
    export_id = export_id_for(sha)
    if export_id in ingested_ids(settings.lake_dir):
        return IngestResult(name, export_id, "skipped", message="content already ingested")
    ingested_at = datetime.now(UTC)
    seq = next_ingest_seq(settings.lake_dir)
    params = {"source_file": name, "export_id": export_id, "ingest_seq": seq, "ingested_at": ingested_at}
    result = IngestResult(name, export_id, "ingested")
    reader = ExportReader(path, settings, validator, params)
    writer = IngestWriter(settings.lake_dir, export_id)
    try:
        for batch, staged, quarantined in reader:
            writer.write(staged, quarantined)
            result.records_read += len(batch.raws)
            result.records_valid += staged.num_rows
            result.records_quarantined += len(quarantined)
            if staged.num_rows:
                result.days.update(staged.column("created_date").unique().to_pylist())
        if reader.source.error is not None:
            result.outcome = "partial"
        result.message = "; ".join(reader.notes)
        writer.commit(
            {
                "source_file": name,
                "export_id": export_id,
                "sha256": sha,
                "bytes": path.stat().st_size,
                "format": export_format(path),
                "records_read": result.records_read,
                "records_valid": result.records_valid,
                "records_quarantined": result.records_quarantined,
                "ingest_seq": seq,
                "ingested_at": ingested_at,
                "outcome": result.outcome,
                "message": result.message or None,
            }
        )
    except BaseException:
        writer.abort()
        raise
    return result
