-- partial_hourly_throughput: the finished runs of each created_date partition of runs, counted per workflow_name
-- and UTC hour of completion. workflow_hourly_throughput.sql adds these rows up over created_date; refresh_metrics
-- keeps them in lake/metrics/_partial/partial_hourly_throughput.parquet and recomputes only the rows of the
-- created_date partitions that changed.
-- A run finished when its status is completed or failed and it has completed_at; it counts in the hour that
-- contains completed_at (UTC, whatever the session's TimeZone), regardless of when it was created. Runs whose
-- completed_at is before created_at (anomaly completed_before_created) still count: they did finish then.
--
-- Columns: created_date (the runs partition the counts come from); workflow_name; hour (TIMESTAMPTZ, start of the
-- UTC hour); day = the UTC date of hour; finished = completed + failed; completed; failed.
-- Parameters: none; it reads whatever `runs` holds (refresh_metrics points it at the changed partitions).
-- The hour is grouped as a whole number, hours since 1970-01-01 00:00 UTC, floored: `%` and `//` round toward zero,
-- so the remainder is made positive before it is taken off, and a time before 1970 falls in the hour that starts at
-- or before it. About half the cost of `date_trunc` on a timestamp.
with finished_runs as (
    select
        created_date,
        workflow_name,
        status,
        epoch_us(completed_at) as completed_us,
        (completed_us - (completed_us % 3600000000 + 3600000000) % 3600000000) // 3600000000 as utc_hour
    from runs
    where status in ('completed', 'failed') and completed_at is not null
)

select
    created_date,
    workflow_name,
    make_timestamptz(utc_hour * 3600000000) as hour,
    make_timestamp(utc_hour * 3600000000)::date as day,
    count(*) as finished,
    count(*) filter (where status = 'completed') as completed,
    count(*) filter (where status = 'failed') as failed
from finished_runs
group by created_date, workflow_name, utc_hour
