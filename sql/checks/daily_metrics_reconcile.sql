-- daily_metrics_reconcile: days on which workflow_daily_metrics disagrees with runs, and workflows in the metrics
-- that runs does not have. Expected: no rows. Compares per day: total runs, completed, failed, in flight.
with metric_days as (
    select day, sum(runs) as runs, sum(completed) as completed, sum(failed) as failed, sum(in_flight) as in_flight
    from read_parquet($daily, hive_partitioning = true, hive_types = {'day': date})
    group by day
),

run_days as (
    select
        created_date as day,
        count(*) as runs,
        count(*) filter (where status = 'completed') as completed,
        count(*) filter (where status = 'failed') as failed,
        count(*) filter (where status in ('queued', 'running')) as in_flight
    from read_parquet($runs, hive_partitioning = true, hive_types = {'created_date': date})
    group by created_date
),

unknown_workflows as (
    select distinct workflow_name
    from read_parquet($daily, hive_partitioning = true, hive_types = {'day': date})
    where workflow_name not in (
        select workflow_name from read_parquet($runs, hive_partitioning = true, hive_types = {'created_date': date})
    )
)

select 'day ' || coalesce(m.day, r.day)::varchar as problem, m.runs as metric_runs, r.runs as lake_runs
from metric_days as m
full outer join run_days as r using (day)
where m.runs is distinct from r.runs or m.completed is distinct from r.completed
    or m.failed is distinct from r.failed or m.in_flight is distinct from r.in_flight
union all
select 'workflow not in runs: ' || workflow_name, null, null
from unknown_workflows
order by problem
