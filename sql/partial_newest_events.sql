-- partial_newest_events: per created_date partition of runs, the newest created_at or completed_at of its runs
-- (whatever their status; NULL when none has either), leaving out the runs flagged `after_ingest` (a timestamp more
-- than an hour after the record was ingested: one mistyped year would otherwise move the as-of time decades ahead,
-- list every in-flight run as stuck and empty both regression windows). refresh_metrics keeps them in
-- lake/metrics/_partial/partial_newest_events.parquet, recomputes only the rows of the created_date partitions
-- that changed, and takes the maximum as the default $as_of of stuck_runs and workflow_regressions.
--
-- Columns: created_date (the runs partition); newest_event (TIMESTAMPTZ, UTC).
-- Parameters: none; it reads whatever `runs` holds (refresh_metrics points it at the changed partitions).
select
    created_date,
    max(greatest(created_at, completed_at)) filter (where not list_contains(anomalies, 'after_ingest')) as newest_event
from runs
group by created_date
