"""The ingest ledger: the ingest_log rows of every committed ingest, kept together in one Parquet file.

Each committed ingest has its own ``lake/ingest/<export_id>/ingest_log.parquet`` (one row), written into its folder
before the folder is renamed into the lake: that file records the commit and stays the source of truth. The lake's
bookkeeping needs every row (which contents are ingested, the next ingest sequence number, the ingests the runs
table does not reflect yet, the schema of the newest ingest), and with one Parquet file per export that was a read
of every file, four times in each ``runlens run`` and once on every sensor tick: with 3,000 exports (four months
of hourly exports) about a second each time, growing with the lake.

``lake/state/ingest_ledger.parquet`` holds those rows, each with what identifies the file it came from (inode, size,
modification time). ``ingest_logs`` lists the ingest folders, keeps the ledger's rows whose file is still the same,
reads only the logs that are new or changed, and writes the ledger back when it found any. The ledger is a cache:
a missing, unreadable, older-format or stale ledger costs a read of the logs it lacks, never a wrong or a missing
row. Writing it back needs no lock and may fail (a read-only lake): the file is replaced by one atomic rename, and a
reader whose ledger was written from an older listing reads the difference again.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from runlens import db, lake
from runlens.config import SQL_DIR
from runlens.contracts import INGEST_LOG_SCHEMA, INGEST_LOG_SCHEMA_KEY
from runlens.errors import RunlensError

LOG_FILE = "ingest_log.parquet"
STAMP_COLUMNS = ("folder", "log_inode", "log_bytes", "log_mtime_ns")
LEDGER_SCHEMA = pa.schema(
    [
        *INGEST_LOG_SCHEMA,
        pa.field("schema_digest", pa.string()),  # INGEST_LOG_SCHEMA_KEY of the log file; NULL in logs written before it
        pa.field("folder", pa.string()),  # the ingest's folder under lake/ingest/
        pa.field("log_inode", pa.uint64()),  # unsigned: network and FUSE file systems use all 64 bits
        pa.field("log_bytes", pa.int64()),
        pa.field("log_mtime_ns", pa.int64()),
    ]
)
STAMPS_SCHEMA = pa.schema([pa.field("path", pa.string()), *(LEDGER_SCHEMA.field(name) for name in STAMP_COLUMNS)])

READ_LOGS_SQL = (SQL_DIR / "ingest_ledger_logs.sql").read_text()


def ledger_file(lake_dir: Path) -> Path:
    return lake_dir / "state" / "ingest_ledger.parquet"


def ingest_logs(lake_dir: Path) -> pa.Table:
    """The ingest_log row of every committed ingest (``LEDGER_SCHEMA``: the log's columns, the schema digest its file
    records, its folder and file stamp), in ingest_seq order."""
    stamps = _stamps(lake_dir)
    if stamps.num_rows == 0:
        return LEDGER_SCHEMA.empty_table()
    old = _read_ledger(lake_dir)
    kept = old.join(stamps.drop_columns(["path"]), keys=list(STAMP_COLUMNS), join_type="left semi")
    new = stamps.join(kept.select(list(STAMP_COLUMNS)), keys=list(STAMP_COLUMNS), join_type="left anti")
    if new.num_rows == 0 and kept.num_rows == old.num_rows:
        return kept.sort_by("ingest_seq")
    ledger = pa.concat_tables([kept, _read_logs(new)]).sort_by("ingest_seq")
    with contextlib.suppress(OSError), lake.atomic_target(ledger_file(lake_dir)) as tmp:
        pq.write_table(ledger, tmp)
    return ledger


def _read_logs(new: pa.Table) -> pa.Table:
    """The rows of the logs ``new`` lists (``STAMPS_SCHEMA``), as ledger rows (none when it lists none: the ledger
    only lost the rows of folders that are gone)."""
    if new.num_rows == 0:
        return LEDGER_SCHEMA.empty_table()
    with db.connect() as con:
        con.register("new_logs", new)
        params = {"paths": lake.literal(new.column("path").to_pylist()), "key": INGEST_LOG_SCHEMA_KEY}
        try:
            read = con.sql(READ_LOGS_SQL, params=params).to_arrow_table()
        except duckdb.Error as exc:  # DuckDB's message names the file
            raise RunlensError(
                f"a committed ingest's log cannot be read ({str(exc).splitlines()[0]}): the lake was damaged outside"
                " runlens; move that ingest's folder out of lake/ingest and run again, which ingests its export again"
            ) from None
    return read.select(LEDGER_SCHEMA.names).cast(LEDGER_SCHEMA)


def _stamps(lake_dir: Path) -> pa.Table:
    """Every committed ingest's log file: its path, folder and stamp (folders without a log are not committed)."""
    root = lake.table_dir(lake_dir, lake.INGEST)
    columns: dict[str, list[object]] = {name: [] for name in ("path", *STAMP_COLUMNS)}
    with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(root) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = os.path.join(entry.path, LOG_FILE)
            try:
                stat = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name, value in zip(
                columns, (path, entry.name, stat.st_ino, stat.st_size, stat.st_mtime_ns), strict=True
            ):
                columns[name].append(value)
    return pa.table(columns, schema=STAMPS_SCHEMA)


def _read_ledger(lake_dir: Path) -> pa.Table:
    """The ledger's rows; none when it is missing, unreadable or of another format (then every log is read)."""
    try:
        table = pq.read_table(ledger_file(lake_dir))
    except (OSError, pa.ArrowException):
        return LEDGER_SCHEMA.empty_table()
    return table if table.schema.equals(LEDGER_SCHEMA) else LEDGER_SCHEMA.empty_table()
