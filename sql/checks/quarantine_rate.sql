-- quarantine_rate: ingested files whose share of quarantined records is above $threshold. Expected: no rows.
select
    source_file,
    records_read,
    records_quarantined,
    records_quarantined / records_read as quarantine_rate
from read_parquet($ingest_log)
where records_read > 0 and records_quarantined / records_read > $threshold
order by quarantine_rate desc, source_file
