-- Fleet-wide runs and failure rate per created_date cohort over the last 14 days: the UTC day of the newest
-- created_at (newest_created_at(), which leaves out runs dated more than an hour after their ingest) and the 13
-- before it. Counts add up across workflows; percentiles do not (take those from fleet_metrics over a window).
select
    day,
    sum(runs) as runs,
    sum(failed) as failed,
    sum(in_flight) as in_flight,
    round(100 * sum(failed) / nullif(sum(completed + failed), 0), 1) as failure_pct
from workflow_daily_metrics
where day between timezone('UTC', newest_created_at())::date - 13 and timezone('UTC', newest_created_at())::date
group by day
order by day;
