-- Stuck runs per workflow: how many, in which status, the oldest one, and the threshold they crossed.
select
    workflow_name,
    count(*) as stuck,
    count(*) filter (where status = 'queued') as queued,
    count(*) filter (where status = 'running') as running,
    round(max(age_s) / 3600, 1) as oldest_age_h,
    arg_max(run_id, age_s) as oldest_run_id,
    round(min(threshold_s) / 3600, 2) as threshold_h
from stuck_runs
group by workflow_name
order by stuck desc, workflow_name;
