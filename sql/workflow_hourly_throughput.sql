-- workflow_hourly_throughput: one row per workflow_name and UTC hour in which at least one of its runs finished.
-- A run finished when its status is completed or failed and it has completed_at; it counts in the hour that
-- contains completed_at (UTC, whatever the session's TimeZone), regardless of when it was created. Runs whose
-- completed_at is before created_at (anomaly completed_before_created) still count here: they did finish then.
--
-- Columns: workflow_name; hour (TIMESTAMPTZ, start of the UTC hour); finished = completed + failed; completed;
-- failed; day = the UTC date of hour (the partition column).
--
-- Parameters:
--   $days  DATE[] or NULL: the UTC completion days to compute; NULL = every day.
-- Partition column: day (lake/metrics/workflow_hourly_throughput/day=YYYY-MM-DD/data.parquet).
with finished_runs as (
    select
        workflow_name,
        status,
        date_trunc('hour', timezone('UTC', completed_at)) as utc_hour
    from runs
    where status in ('completed', 'failed') and completed_at is not null
),

selected_runs as (
    select
        workflow_name,
        status,
        utc_hour
    from finished_runs
    where $days::date[] is null or list_contains($days::date[], utc_hour::date)
)

select
    workflow_name,
    timezone('UTC', utc_hour) as hour,
    count(*) as finished,
    count(*) filter (where status = 'completed') as completed,
    count(*) filter (where status = 'failed') as failed,
    utc_hour::date as day
from selected_runs
group by workflow_name, utc_hour
order by day, hour, workflow_name
