-- ingest_ledger_logs: the rows of the ingest_log files the ingest ledger lacks (runlens.ledger.ingest_logs).
-- Input: $paths, those ingest_log.parquet files; `new_logs`, one row per file: its path, its ingest's folder name
-- and the file's stamp (inode, size, modification time in ns) taken before it was read; $key, the key-value
-- metadata key of ingest_log.parquet that holds the sha256 of the schema its ingest validated against.
-- Returns each file's row with `schema_digest` (NULL for files written before the key) and the folder and stamp,
-- so the ledger can tell next time whether the file is still the one it read.
select
    l.* exclude (filename),
    decode(k.value) as schema_digest,
    f.folder,
    f.log_inode,
    f.log_bytes,
    f.log_mtime_ns
from read_parquet($paths, filename = true) as l
join new_logs as f on f.path = l.filename
left join parquet_kv_metadata($paths) as k on k.file_name = l.filename and k.key = encode($key)
