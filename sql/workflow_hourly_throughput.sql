-- workflow_hourly_throughput: one row per workflow_name and UTC hour in which at least one of its runs finished.
-- A run finished when its status is completed or failed and it has completed_at; it counts in the hour that
-- contains completed_at (UTC, whatever the session's TimeZone), regardless of when it was created. Runs whose
-- completed_at is before created_at (anomaly completed_before_created) still count here: they did finish then.
-- The counting is done per created_date partition in partial_hourly_throughput.sql (same rules); this query adds
-- those partial counts up over created_date, which gives exactly the counts over all runs.
--
-- Columns: workflow_name; hour (TIMESTAMPTZ, start of the UTC hour); finished = completed + failed; completed;
-- failed; day = the UTC date of hour (the partition column).
--
-- Parameters:
--   $days  DATE[] or NULL: the UTC completion days to compute; NULL = every day.
-- Reads: partial_hourly_throughput. Partition column: day
-- (lake/metrics/workflow_hourly_throughput/day=YYYY-MM-DD/data.parquet).
select
    workflow_name,
    hour,
    sum(finished)::bigint as finished,
    sum(completed)::bigint as completed,
    sum(failed)::bigint as failed,
    day
from partial_hourly_throughput
where $days::date[] is null or list_contains($days::date[], day)
group by workflow_name, hour, day
order by day, hour, workflow_name
