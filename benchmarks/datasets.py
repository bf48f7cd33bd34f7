"""Benchmark inputs: export files made by ``runlens.generate`` (cached), and synthetic lakes for scenario 4.

A synthetic lake is made of real ingests: a template of ``runs_per_day`` runs over two days is generated and
ingested with ``runlens.ingest.ingest_file``; its staged (and quarantined) records are then copied, one copy per
day, with run ids made unique (``<runId>_<copy>``), timestamps, created_date, source file, export id and ingest
sequence shifted, and written with the ingest's own ``IngestWriter`` as ``lake/ingest/<export_id>/{staged,
quarantine,ingest_log}.parquet``. Export ``d`` holds copy ``d``'s first template day (runs created that day, in
their state at the end of it) and copy ``d - 1``'s second (the next day's runs, the final state of yesterday's runs
that were still in flight, stale re-exports), like a daily export does.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from runlens import db, generate, lake
from runlens.config import Settings
from runlens.contracts import STAGED_SCHEMA
from runlens.ingest import RUN_KEY_SQL, IngestWriter, ingest_file
from runlens.readers import export_format
from runlens.validation import RecordValidator

from benchmarks.scales import SEED

LAYOUTS = {"jsonl": "lines", "json": "array", "jsonl.gz": "lines"}
TEMPLATE_START = datetime(2026, 11, 1, tzinfo=UTC)
ROW_GROUP_ROWS = 16_384  # about what one 8 MiB ingest batch holds
SHIFT_SQL = """
select
    run_id || '_' || $copy::varchar as run_id, workflow_name, status,
    created_at + to_days($shift) as created_at, completed_at + to_days($shift) as completed_at,
    error, input, output, extra, anomalies,
    created_date + $shift::integer as created_date, created_date_source,
    $source_file as source_file, $export_id as export_id, record_index + $offset as record_index,
    $ingest_seq::bigint as ingest_seq, $ingested_at::timestamptz as ingested_at,
    run_key(run_id || '_' || $copy::varchar) as run_key
from part
"""


@dataclass(frozen=True)
class Export:
    """One generated export file: its format, records (valid + invalid), runs and size after decompression."""

    path: Path
    fmt: str
    records: int
    runs: int
    decoded_bytes: int

    @property
    def layout(self) -> str:
        return LAYOUTS[self.fmt]


def generator_version() -> str:
    """A hash of the generator's source: cached exports are made again when the generator changes."""
    return hashlib.sha256(Path(generate.__file__).read_bytes()).hexdigest()[:10]


def decoded_size(path: Path) -> int:
    if not path.name.endswith(".gz"):
        return path.stat().st_size
    size = 0
    with gzip.open(path, "rb") as handle:
        while block := handle.read(2**24):
            size += len(block)
    return size


def export_file(data_dir: Path, runs: int, fmt: str, seed: int = SEED) -> Export:
    """A one-file export of ``runs`` runs over one day in format ``fmt``, generated once (per seed) and then reused."""
    folder = data_dir / "exports" / f"{fmt.replace('.', '_')}-{runs}-seed{seed}-gen{generator_version()}"
    summary_path = folder / "summary.json"
    if not summary_path.exists():
        shutil.rmtree(folder, ignore_errors=True)
        files = folder / "files"
        summary = generate.generate_exports(files, runs=runs, days=1, seed=seed, fmt=fmt, snapshots_per_day=1)
        [path] = files.iterdir()
        info = {"file": path.name, "records": summary.records, "runs": runs, "decoded_bytes": decoded_size(path)}
        summary_path.write_text(json.dumps(info))
    info = json.loads(summary_path.read_text())
    return Export(folder / "files" / info["file"], fmt, info["records"], info["runs"], info["decoded_bytes"])


def tree_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


@dataclass(frozen=True)
class Template:
    """The staged and quarantined records of the template's two daily exports, those exports' sizes, and the digest
    of the schema they were validated against (what each synthetic ingest records)."""

    staged: tuple[pa.Table, ...]
    quarantine: tuple[pa.Table, ...]
    source_bytes: tuple[int, ...]
    schema_digest: str


def make_template(work: Path, runs: int, seed: int = SEED) -> Template:
    """Generate ``runs`` runs over two days (one export a day) and ingest both exports with runlens.

    A synthetic day holds the template's first day of one copy and its second day of the copy before, so it has
    about ``runs`` runs."""
    exports_dir = work / "exports"
    generate.generate_exports(exports_dir, runs=runs, days=2, seed=seed, fmt="jsonl", snapshots_per_day=1)
    settings = Settings.from_env(work).with_overrides(lake_dir=work / "lake")
    validator = RecordValidator.from_file(settings.schema_path)
    files = sorted(p for p in exports_dir.iterdir() if export_format(p))
    ingest_root = lake.table_dir(settings.lake_dir, lake.INGEST)
    folders = [ingest_root / ingest_file(path, settings, validator).export_id for path in files]
    staged = tuple(pq.read_table(folder / "staged.parquet") for folder in folders)
    quarantine = tuple(pq.read_table(folder / "quarantine.parquet") for folder in folders)
    return Template(staged, quarantine, tuple(path.stat().st_size for path in files), validator.digest)


class SyntheticLake:
    """Writes daily exports into ``lake_dir`` made of shifted copies of a template (see the module docstring)."""

    def __init__(self, lake_dir: Path, template: Template, days: int) -> None:
        self.lake_dir = lake_dir
        self.template = template
        self.days = days
        self.con = db.connect()
        self.con.execute("set TimeZone = 'UTC'")
        self.con.execute(RUN_KEY_SQL)

    def close(self) -> None:
        self.con.close()

    def write_year(self) -> None:
        for day in range(self.days):
            self.write_export(day)

    def write_export(self, day: int) -> str:
        """Commit export ``day`` (0-based; ``days`` is the first day after the year) and return its export id."""
        export_id = hashlib.sha256(f"synthetic-export-{day}".encode()).hexdigest()[:24]
        exported_at = TEMPLATE_START + timedelta(days=1 + day - self.days)
        meta = {
            "source_file": f"runs-{exported_at:%Y-%m-%dT%H}.jsonl",
            "export_id": export_id,
            "ingest_seq": day + 1,
            "ingested_at": exported_at + timedelta(minutes=5),
        }
        offset = self.template.staged[0].num_rows + self.template.quarantine[0].num_rows
        pieces = [(0, day, 0)] + ([(1, day - 1, offset)] if day > 0 else [])
        staged = pa.concat_tables([self._shift(self.template.staged[k], copy, off, meta) for k, copy, off in pieces])
        quarantined = [
            self._quarantine_row(row, off, meta)
            for k, _, off in pieces
            for row in self.template.quarantine[k].to_pylist()
        ]
        writer = IngestWriter(self.lake_dir, export_id)
        for batch in staged.to_batches(max_chunksize=ROW_GROUP_ROWS):
            writer.write(pa.Table.from_batches([batch]), [])
        writer.write(STAGED_SCHEMA.empty_table(), quarantined)
        log_row = self._log_row(meta, staged.num_rows, len(quarantined), [k for k, _, _ in pieces])
        writer.commit(log_row, self.template.schema_digest)
        return export_id

    def _shift(self, part: pa.Table, copy: int, offset: int, meta: dict[str, Any]) -> pa.Table:
        self.con.register("part", part)
        try:
            params = {**meta, "copy": copy, "shift": copy - self.days, "offset": offset}
            return self.con.sql(SHIFT_SQL, params=params).to_arrow_table().cast(STAGED_SCHEMA)
        finally:
            self.con.unregister("part")

    @staticmethod
    def _quarantine_row(row: dict[str, Any], offset: int, meta: dict[str, Any]) -> dict[str, Any]:
        return {
            **row,
            "source_file": meta["source_file"],
            "export_id": meta["export_id"],
            "record_index": row["record_index"] + offset,
            "ingested_at": meta["ingested_at"],
        }

    def _log_row(self, meta: dict[str, Any], valid: int, quarantined: int, parts: list[int]) -> dict[str, Any]:
        return {
            "source_file": meta["source_file"],
            "export_id": meta["export_id"],
            "sha256": hashlib.sha256(meta["export_id"].encode()).hexdigest(),
            "bytes": sum(self.template.source_bytes[k] for k in parts),
            "format": "ndjson",
            "records_read": valid + quarantined,
            "records_valid": valid,
            "records_quarantined": quarantined,
            "ingest_seq": meta["ingest_seq"],
            "ingested_at": meta["ingested_at"],
            "outcome": "ingested",
            "message": None,
        }


def hardlink_or_copy(source: Path, target: Path) -> None:
    """Put ``source`` at ``target`` (runlens ignores symbolic links in exports/, so a hard link or a copy)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
