-- summary_top_workflows: per workflow over every run in the warehouse (created_at from $since to $until, UTC),
-- the failure rate with its Wilson 95% interval and the exact p95 of duration_s (see workflow_metrics in
-- workflow_metrics_macro.sql). Only workflows with at least $min_finished finished runs are ranked.
select workflow_name, runs, completed + failed as finished, failed, failure_rate, failure_rate_low,
    failure_rate_high, p50_s, p95_s, p99_s
from workflow_metrics($since, $until)
where completed + failed >= $min_finished
