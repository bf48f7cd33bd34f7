-- Exact failure rate (with its Wilson 95 % interval) and latency percentiles per workflow over the last 7 UTC
-- days of data: the UTC day of the newest created_at (newest_created_at(), which leaves out runs dated more than an
-- hour after their ingest) and the 6 before it. Computed from the runs of the whole window, not averaged over
-- daily rows.
select
    workflow_name,
    runs,
    failed,
    in_flight,
    round(100 * failure_rate, 1) as failure_pct,
    round(100 * failure_rate_low, 1) as failure_pct_low,
    round(100 * failure_rate_high, 1) as failure_pct_high,
    round(p50_s, 1) as p50_s,
    round(p95_s, 1) as p95_s,
    round(p99_s, 1) as p99_s
from workflow_metrics(
    timezone('UTC', newest_created_at())::date - 6, timezone('UTC', newest_created_at())::date + 1
)
order by failure_rate desc nulls last, workflow_name;
