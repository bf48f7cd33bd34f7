-- Finished runs and failure rate by UTC hour of the day over the last 7 days of completions.
select
    hour(timezone('UTC', hour)) as utc_hour_of_day,
    sum(finished) as finished,
    sum(failed) as failed,
    round(100 * sum(failed) / sum(finished), 1) as failure_pct
from workflow_hourly_throughput
where day > (select max(day) from workflow_hourly_throughput) - 7
group by utc_hour_of_day
order by utc_hour_of_day;
