-- Finished runs and failure rate by UTC hour of the day over the last 7 days of completions: the UTC day of the
-- newest created_at (newest_created_at(), which leaves out runs dated more than an hour after their ingest) and
-- the 6 before it.
select
    hour(timezone('UTC', hour)) as utc_hour_of_day,
    sum(finished) as finished,
    sum(failed) as failed,
    round(100 * sum(failed) / sum(finished), 1) as failure_pct
from workflow_hourly_throughput
where day between timezone('UTC', newest_created_at())::date - 6 and timezone('UTC', newest_created_at())::date
group by utc_hour_of_day
order by utc_hour_of_day;
