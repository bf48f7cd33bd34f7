-- summary_top_workflows: per workflow over every run in the warehouse (created_at from the start of the UTC day
-- $first_day to the end of the UTC day $last_day), the failure rate with its Wilson 95% interval and the exact p95
-- of duration_s (see workflow_metrics in workflow_metrics_macro.sql). Only workflows with at least $min_finished
-- finished runs are ranked. The day after $last_day is computed here, in DuckDB: when $last_day is 9999-12-31, the
-- last day the lake can hold, that is 10000-01-01, which DuckDB holds and Python's date cannot.
select workflow_name, runs, completed + failed as finished, failed, failure_rate, failure_rate_low,
    failure_rate_high, p50_s, p95_s, p99_s
from workflow_metrics($first_day::date, $last_day::date + 1)
where completed + failed >= $min_finished
