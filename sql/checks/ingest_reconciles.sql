-- ingest_reconciles: ingested files whose counts do not add up. Expected: no rows.
-- For each file version: records_read = records_valid + records_quarantined, records_valid = rows in its staged
-- file, records_quarantined = rows in its quarantine file.
with staged as (
    select export_id, count(*) as n from read_parquet($staged) group by export_id
),

quarantined as (
    select export_id, count(*) as n from read_parquet($quarantine) group by export_id
)

select
    log.source_file,
    log.records_read,
    log.records_valid,
    log.records_quarantined,
    coalesce(staged.n, 0) as staged_rows,
    coalesce(quarantined.n, 0) as quarantine_rows
from read_parquet($ingest_log) as log
left join staged using (export_id)
left join quarantined using (export_id)
where log.records_read <> log.records_valid + log.records_quarantined
    or log.records_valid <> coalesce(staged.n, 0)
    or log.records_quarantined <> coalesce(quarantined.n, 0)
order by log.source_file
