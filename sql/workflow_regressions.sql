-- workflow_regressions: workflows that got significantly worse in the latest $window_days days (default 7) than in
-- the $window_days days before. Windows (UTC, by created_at, half-open): latest = [$as_of - $window_days days,
-- $as_of), previous = [$as_of - 2 * $window_days days, $as_of - $window_days days). Metrics per window are
-- workflow_metrics over it (exact, see workflow_metrics_macro.sql). A window start before 0001-01-01 00:00 UTC,
-- the first instant the lake can hold (an $as_of early in year 1), is that instant instead: the window has the same
-- runs, and previous_start / latest_start stay readable as Python datetimes, which stop at year 1 (a start in year
-- 0 or before failed every program that read the row into Python).
-- Only workflows with runs in both windows are compared.
--
-- failure_rate_regressed: the Wilson 95 % intervals do not overlap and the latest is above:
--   latest failure_rate_low > previous failure_rate_high (the interval width already accounts for few runs).
-- p95_regressed: both windows have at least $min_runs finished (completed + failed) runs and
--   latest p95_s > $p95_ratio * previous p95_s.
-- A row is returned when either flag is set. Runs created shortly before $as_of may still be in flight; they
-- are not in the failure rate or the durations yet. That can only hide a p95 regression (the slow runs are left
-- out), but it can invent a failure-rate one: fast failures finish first (docs/metrics.md).
--
-- Parameters:
--   $as_of      TIMESTAMPTZ: end of the latest window (refresh_metrics defaults it to the newest created_at or
--               completed_at in runs)
--   $p95_ratio  DOUBLE, default 1.5
--   $min_runs   INTEGER, default 20
--   $window_days INTEGER, default 7: the length of each window
-- Columns: workflow_name; previous_start, latest_start, latest_end; previous_finished, latest_finished;
--   previous_/latest_failure_rate with their _low / _high bounds; failure_rate_change = latest - previous
--   failure_rate; previous_p95_s, latest_p95_s; p95_ratio = latest / previous p95_s; failure_rate_regressed,
--   p95_regressed.
-- Reads: runs, through workflow_metrics, whose created_date bounds let DuckDB open only the partitions of the two
-- windows (refresh_metrics gives it every partition). Partition column: none (recomputed whole).
with windows as (
    select
        greatest(
            timezone('UTC', timezone('UTC', $as_of::timestamptz) - to_days(2 * $window_days::integer)),
            timestamptz '0001-01-01 00:00:00+00'
        ) as previous_start,
        greatest(
            timezone('UTC', timezone('UTC', $as_of::timestamptz) - to_days($window_days::integer)),
            timestamptz '0001-01-01 00:00:00+00'
        ) as latest_start,
        $as_of::timestamptz as latest_end
),

-- Both windows' metrics from the same macro; `finished` = completed + failed.
window_metrics as (
    select 'latest' as period, completed + failed as finished, *
    from workflow_metrics((select latest_start from windows), (select latest_end from windows))
    union all
    select 'previous' as period, completed + failed as finished, *
    from workflow_metrics((select previous_start from windows), (select latest_start from windows))
),

latest as (select * from window_metrics where period = 'latest'),

previous as (select * from window_metrics where period = 'previous'),

compared as (
    select
        latest.workflow_name,
        previous.finished as previous_finished,
        latest.finished as latest_finished,
        previous.failure_rate as previous_failure_rate,
        previous.failure_rate_low as previous_failure_rate_low,
        previous.failure_rate_high as previous_failure_rate_high,
        latest.failure_rate as latest_failure_rate,
        latest.failure_rate_low as latest_failure_rate_low,
        latest.failure_rate_high as latest_failure_rate_high,
        latest.failure_rate - previous.failure_rate as failure_rate_change,
        previous.p95_s as previous_p95_s,
        latest.p95_s as latest_p95_s,
        latest.p95_s / nullif(previous.p95_s, 0) as p95_ratio,
        coalesce(latest.failure_rate_low > previous.failure_rate_high, false) as failure_rate_regressed,
        coalesce(
            previous.finished >= $min_runs::integer
            and latest.finished >= $min_runs::integer
            and latest.p95_s > $p95_ratio::double * previous.p95_s,
            false
        ) as p95_regressed
    from latest
    inner join previous on latest.workflow_name = previous.workflow_name
)

select
    workflow_name,
    windows.previous_start,
    windows.latest_start,
    windows.latest_end,
    previous_finished,
    latest_finished,
    previous_failure_rate,
    previous_failure_rate_low,
    previous_failure_rate_high,
    latest_failure_rate,
    latest_failure_rate_low,
    latest_failure_rate_high,
    failure_rate_change,
    previous_p95_s,
    latest_p95_s,
    p95_ratio,
    failure_rate_regressed,
    p95_regressed
from compared
cross join windows
where failure_rate_regressed or p95_regressed
order by workflow_name
