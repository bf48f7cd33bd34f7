-- schema_change: the schemas the ingests in the lake were validated against, for the notice `runlens run` gives
-- when the schema changed (runlens.ingest.schema_change_notice).
-- Input: `ingest_ledger`, the ingest_log row of every committed ingest (runlens.ledger.ingest_logs), whose
-- `schema_digest` is the sha256 of the schema that ingest validated against (NULL for ingests written before
-- ingest_log.parquet recorded it); $current, the sha256 of the schema in use now (runlens.validation.schema_digest).
-- Returns one row: the digest of the newest ingest (highest ingest_seq) that has one, NULL when none has (then
-- nothing says whether the schema changed); and the records quarantined by the ingests whose digest is not $current,
-- those without one included (written before the key: validated against a schema not known to be this one).
select
    (select schema_digest from ingest_ledger where schema_digest is not null order by ingest_seq desc limit 1)
        as latest,
    coalesce(sum(records_quarantined) filter (where schema_digest is distinct from $current), 0)
        as quarantined_elsewhere
from ingest_ledger
