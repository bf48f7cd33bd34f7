-- stuck_runs: runs still queued or running whose age at $as_of exceeds their workflow's threshold.
-- age_s = $as_of - created_at in seconds. Runs without created_at have no age and are left out; runs created
-- after $as_of have a negative age and are never stuck.
--
-- threshold_s = $threshold_s when it is set, else greatest($min_age_s, $p99_multiplier * workflow_p99_s), where
-- workflow_p99_s is the workflow's exact p99 duration over its runs created in the $p99_window_days days before
-- $as_of (completed and failed runs with a usable duration_s, as in workflow_metrics); a workflow with no such
-- run gets threshold $min_age_s. Defaults: max(1 hour, 3 x p99 over the last 28 days).
--
-- Parameters:
--   $as_of            TIMESTAMPTZ: the time the lake describes (the newest export's time; refresh_metrics
--                     defaults it to the newest created_at or completed_at in runs)
--   $min_age_s        DOUBLE, default 3600
--   $p99_multiplier   DOUBLE, default 3
--   $p99_window_days  INTEGER, default 28
--   $threshold_s      DOUBLE or NULL (default): one fixed threshold for every workflow, overriding the rule
-- Columns: run_id, workflow_name, status, created_at, age_s, threshold_s, workflow_p99_s, as_of.
-- Reads: partial_in_flight_runs (the queued and running runs with created_at, of every partition) and runs for
-- the p99 window, through workflow_metrics, whose created_date bounds let DuckDB open only that window's
-- partitions (refresh_metrics gives it every partition).
-- Partition column: none (rewritten whole).
with recent_latency as (
    select
        workflow_name,
        p99_s
    from workflow_metrics(timezone('UTC', $as_of::timestamptz) - to_days($p99_window_days::integer), $as_of::timestamptz)
),

unfinished_runs as (
    select
        run_id,
        workflow_name,
        status,
        created_at,
        (epoch_us($as_of::timestamptz) - epoch_us(created_at)) / 1e6 as age_s
    from partial_in_flight_runs
),

judged_runs as (
    select
        unfinished_runs.run_id,
        unfinished_runs.workflow_name,
        unfinished_runs.status,
        unfinished_runs.created_at,
        unfinished_runs.age_s,
        coalesce(
            $threshold_s::double,
            greatest($min_age_s::double, $p99_multiplier::double * recent_latency.p99_s)
        ) as threshold_s,
        recent_latency.p99_s as workflow_p99_s
    from unfinished_runs
    left join recent_latency on unfinished_runs.workflow_name = recent_latency.workflow_name
)

select
    run_id,
    workflow_name,
    status,
    created_at,
    age_s,
    threshold_s,
    workflow_p99_s,
    $as_of::timestamptz as as_of
from judged_runs
where age_s > threshold_s
order by age_s desc, run_id
