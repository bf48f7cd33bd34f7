-- partial_newest_events: per created_date partition of runs, the newest created_at or completed_at of its runs
-- (whatever their status; NULL when none has either). refresh_metrics keeps them in
-- lake/metrics/_partial/partial_newest_events.parquet, recomputes only the rows of the created_date partitions
-- that changed, and takes the maximum as the default $as_of of stuck_runs and workflow_regressions.
--
-- Columns: created_date (the runs partition); newest_event (TIMESTAMPTZ, UTC).
-- Parameters: none; it reads whatever `runs` holds (refresh_metrics points it at the changed partitions).
select
    created_date,
    max(greatest(created_at, completed_at)) as newest_event
from runs
group by created_date
