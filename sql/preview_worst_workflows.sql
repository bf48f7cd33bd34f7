-- preview_worst_workflows: the Dagster metadata preview of workflow_daily_metrics for the days just refreshed:
-- per workflow over those created_date cohorts, finished runs, failed and failure rate; worst rate first.
-- Percentiles are not re-aggregated here (daily percentiles cannot be averaged); see workflow_metrics().
select
    workflow_name,
    sum(completed + failed) as finished,
    sum(failed) as failed,
    sum(failed) / nullif(sum(completed + failed), 0) as failure_rate
from read_parquet($daily, hive_partitioning = true, hive_types = {'day': date})
where list_contains($days, day)
group by workflow_name
order by failure_rate desc nulls last, workflow_name
limit 5
