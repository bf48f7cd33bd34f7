-- Fleet-wide runs and failure rate per created_date cohort over the last 14 days. Counts add up across
-- workflows; percentiles do not (take those from fleet_metrics over a window).
select
    day,
    sum(runs) as runs,
    sum(failed) as failed,
    sum(in_flight) as in_flight,
    round(100 * sum(failed) / nullif(sum(completed + failed), 0), 1) as failure_pct
from workflow_daily_metrics
where day > (select max(day) from workflow_daily_metrics) - 14
group by day
order by day;
