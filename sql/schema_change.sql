-- schema_change: the schemas the ingests in the lake were validated against, for the notice `runlens run` gives
-- when the schema changed (runlens.ingest.schema_change_notice).
-- Input: $logs, the ingest_log files (one row each); $key, the key-value metadata key of ingest_log.parquet that
-- holds the sha256 of the schema its ingest validated against (ingests written before the key have none);
-- $current, the sha256 of the schema in use now (runlens.validation.schema_digest).
-- Returns one row: the digest of the newest ingest (highest ingest_seq) that has one, NULL when none has (then
-- nothing says whether the schema changed); and the records quarantined by the ingests whose digest is not $current,
-- those without one included (written before the key: validated against a schema not known to be this one).
with logs as (
    select l.ingest_seq, l.records_quarantined, decode(k.value) as digest
    from read_parquet($logs, filename = true) as l
    left join parquet_kv_metadata($logs) as k on k.file_name = l.filename and k.key = encode($key)
)

select
    (select digest from logs where digest is not null order by ingest_seq desc limit 1) as latest,
    coalesce(sum(records_quarantined) filter (where digest is distinct from $current), 0) as quarantined_elsewhere
from logs
