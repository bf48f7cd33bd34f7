"""Arrow schemas of the lake tables: the column contract that the warehouse views, SQL and tests rely on.

Timestamps are UTC with microsecond precision; ``input``, ``output`` and ``extra`` hold JSON text (the warehouse
views cast them to DuckDB's JSON type). ``anomalies`` lists the names in ``ANOMALIES`` that apply to a row.
"""

from __future__ import annotations

import pyarrow as pa

from runlens.config import SQL_DIR

UTC_US = pa.timestamp("us", tz="UTC")

# Why a row that passed the schema is still suspicious. Rows keep their anomalies; latency figures skip
# rows whose duration is unusable (duration_s is NULL for them).
ANOMALIES = {
    "completed_before_created": "completedAt is earlier than createdAt: duration_s is NULL",
    "completed_at_on_unfinished": "a queued or running run carries completedAt",
    "failed_without_error": "a failed run has no error message",
    "missing_created_at": "no createdAt: created_date comes from completedAt or the ingestion time",
    "leap_second": "a timestamp had second 60; it was read as the last microsecond of its minute (hh:mm:59.999999)",
    "status_conflict": "the run was seen both completed and failed; the later record was kept",
    "after_ingest": "createdAt or completedAt is more than an hour after runlens ingested the record (a wrong clock or"
    " a mistyped date in the export): the run is left out of the default as_of of stuck runs and regressions",
}

# The state of a run as one record reported it; staged rows and runs rows share these columns.
_RUN_STATE = [
    ("run_id", pa.string()),
    ("workflow_name", pa.string()),
    ("status", pa.string()),
    ("created_at", UTC_US),
    ("completed_at", UTC_US),
]
_RUN_PAYLOAD = [
    ("error", pa.string()),
    ("input", pa.string()),
    ("output", pa.string()),
    ("extra", pa.string()),
    ("anomalies", pa.list_(pa.string())),
]

# One row per valid record of one export file version (lake/ingest/<export_id>/staged.parquet).
STAGED_SCHEMA = pa.schema(
    [
        *_RUN_STATE,
        *_RUN_PAYLOAD,
        ("created_date", pa.date32()),
        ("created_date_source", pa.string()),
        ("source_file", pa.string()),
        ("export_id", pa.string()),
        ("record_index", pa.int64()),
        ("ingest_seq", pa.int64()),
        ("ingested_at", UTC_US),
        ("run_key", pa.uint64()),  # RUN_KEY_SQL; staged files written before it lack this column
    ]
)
# The macro run_key(run_id) that computes the staged column run_key (load it into a connection before use).
RUN_KEY_SQL = (SQL_DIR / "run_key_macro.sql").read_text()

ERROR_TYPE = pa.struct([("path", pa.string()), ("keyword", pa.string()), ("message", pa.string())])

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("export_id", pa.string()),
        ("record_index", pa.int64()),
        ("line", pa.int64()),
        ("raw", pa.string()),
        ("raw_truncated", pa.bool_()),
        ("errors", pa.list_(ERROR_TYPE)),
        ("ingested_at", UTC_US),
    ]
)

INGEST_LOG_SCHEMA_KEY = "runlens.schema_sha256"  # ingest_log.parquet metadata: the schema its ingest validated against
INGEST_LOG_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("export_id", pa.string()),
        ("sha256", pa.string()),
        ("bytes", pa.int64()),
        ("format", pa.string()),
        ("records_read", pa.int64()),
        ("records_valid", pa.int64()),
        ("records_quarantined", pa.int64()),
        ("ingest_seq", pa.int64()),
        ("ingested_at", UTC_US),
        ("outcome", pa.string()),
        ("message", pa.string()),
    ]
)

# lake/runs/created_date=YYYY-MM-DD/data.parquet; created_date itself comes from the folder name.
RUNS_PARTITION_COLUMN = "created_date"
RUNS_SCHEMA = pa.schema(
    [
        *_RUN_STATE,
        ("duration_s", pa.float64()),
        *_RUN_PAYLOAD,
        ("created_date_source", pa.string()),
        ("source_file", pa.string()),
        ("ingested_at", UTC_US),
    ]
)
