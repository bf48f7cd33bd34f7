-- daily_metrics_valid: workflow_daily_metrics rows that break an invariant. Expected: no rows.
-- Rates and interval bounds lie in [0, 1] with low <= rate <= high; p50 <= p90 <= p95 <= p99 <= max;
-- runs = completed + failed + in_flight.
select workflow_name, day, runs, completed, failed, in_flight, failure_rate, failure_rate_low, failure_rate_high,
    p50_s, p90_s, p95_s, p99_s, max_s
from read_parquet($daily, hive_partitioning = true, hive_types = {'day': date})
where not (failure_rate_low between 0 and 1) or not (failure_rate_high between 0 and 1)
    or not (failure_rate between failure_rate_low and failure_rate_high)
    or not (p50_s <= p90_s and p90_s <= p95_s and p95_s <= p99_s and p99_s <= max_s)
    or runs <> completed + failed + in_flight
order by workflow_name, day
