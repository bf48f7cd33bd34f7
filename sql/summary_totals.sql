-- summary_totals: the headline numbers `runlens run` prints, over the whole warehouse.
-- files: the export contents ingested (distinct sha256: ingest_log has a row per reading, and a file read on under a
-- larger decompression cap, or read again under another format, has several); records: from ingest_log (every record
-- read, valid or quarantined); runs: one row per run id (latest state);
-- in_flight = queued + running; conflicts = runs flagged status_conflict; after_ingest = runs flagged after_ingest
-- (dated more than an hour after their ingest); window = created_date range (UTC).
select
    (select count(distinct sha256) from ingest_log) as files,
    (select coalesce(sum(records_read), 0) from ingest_log) as records_read,
    (select coalesce(sum(records_valid), 0) from ingest_log) as records_valid,
    (select coalesce(sum(records_quarantined), 0) from ingest_log) as records_quarantined,
    count(*) as runs,
    count(*) filter (where status = 'completed') as completed,
    count(*) filter (where status = 'failed') as failed,
    count(*) filter (where status in ('queued', 'running')) as in_flight,
    count(*) filter (where list_contains(anomalies, 'status_conflict')) as conflicts,
    count(*) filter (where list_contains(anomalies, 'after_ingest')) as after_ingest,
    min(created_date) as first_day,
    max(created_date) as last_day
from runs
