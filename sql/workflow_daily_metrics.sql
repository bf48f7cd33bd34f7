-- workflow_daily_metrics: one row per workflow_name and day, where day is the created_date cohort (the UTC date
-- of created_at; for a run without created_at, of completed_at, else of its ingestion; see runs.created_date_source).
-- A run counts in its creation day even if it finished on a later day or is still in flight.
--
-- Columns (defined once, in run_stats of workflow_metrics_macro.sql):
--   runs; completed; failed; in_flight = queued + running (at the time of the export that last updated the run);
--   failure_rate = failed / (completed + failed), NULL when the cohort has no finished run;
--   failure_rate_low, failure_rate_high = Wilson score 95 % interval of failure_rate (z = 1.959963984540054);
--   p50_s, p90_s, p95_s, p99_s = exact quantile_cont (linear interpolation), max_s = maximum, over duration_s of
--   the cohort's completed and failed runs; runs without a usable duration (a timestamp missing, or completed_at
--   before created_at: anomaly completed_before_created) are left out; NULL when no duration is left.
--
-- Parameters:
--   $days  DATE[] or NULL: the cohorts to compute (the created_date partitions that changed); NULL = every day.
--          Only the matching lake partitions are read.
-- Partition column: day (lake/metrics/workflow_daily_metrics/day=YYYY-MM-DD/data.parquet).
with cohort_runs as (
    select
        workflow_name,
        created_date as day,
        status,
        duration_s
    from runs
    where $days::date[] is null or list_contains($days::date[], created_date)
)

select
    workflow_name,
    day,
    unnest(run_stats(status, duration_s))
from cohort_runs
group by workflow_name, day
order by day, workflow_name
