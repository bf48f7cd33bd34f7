-- runs_created_date_matches: runs partitions holding rows whose created_date (the date in the partition folder's
-- name) is not the UTC date of their created_at, i.e. created_at outside [created_date 00:00 UTC, the next day
-- 00:00 UTC). Expected: no rows.
-- runlens writes every run that has created_at into the folder of its UTC date, and the window macros
-- (window_runs in sql/workflow_metrics_macro.sql) bound created_date by that rule to skip partitions: a row that
-- another writer (a file added to the lake by hand, a tool using local dates) put in another folder would fall out
-- of every window without a word. Rows without created_at are not checked: their created_date comes from
-- completed_at or the ingestion, and no window selects them.
-- One row per such partition: created_date, runs (its rows that break the rule), first_created_at and
-- last_created_at (the range of their created_at). Reads only created_at, compared with the bounds of its file's
-- day (created_date is the folder's): about 0.2 s on a synthetic lake of 10M runs in 365 partitions.
select
    created_date,
    count(*) as runs,
    min(created_at) as first_created_at,
    max(created_at) as last_created_at
from read_parquet($runs, hive_partitioning = true, hive_types = {'created_date': date})
where created_at < timezone('UTC', created_date::timestamp)
    or created_at >= timezone('UTC', (created_date + 1)::timestamp)
group by created_date
order by created_date
