-- quarantine_rate: files ingested since runs last took in new ingests (ingest_seq above $applied_seq, the
-- applied_ingest_seq of lake/state/runs.json: the ingests of the run being checked, and any an interrupted run left
-- for the next refresh) whose share of quarantined records is above $threshold. Expected: no rows. An older file
-- above the threshold was named by the run that ingested it; its records stay in quarantine (query ingest_log for
-- every file's rate).
select
    source_file,
    records_read,
    records_quarantined,
    records_quarantined / records_read as quarantine_rate
from read_parquet($ingest_log)
where ingest_seq > $applied_seq and records_read > 0 and records_quarantined / records_read > $threshold
order by quarantine_rate desc, source_file
