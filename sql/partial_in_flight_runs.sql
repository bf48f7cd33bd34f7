-- partial_in_flight_runs: the runs still queued or running (as of the export that last updated them) that have
-- created_at, i.e. every candidate of stuck_runs.sql, per created_date partition of runs. refresh_metrics keeps
-- them in lake/metrics/_partial/partial_in_flight_runs.parquet and recomputes only the rows of the created_date
-- partitions that changed. Runs without created_at have no age and are left out.
--
-- Columns: created_date (the runs partition); run_id; workflow_name; status; created_at (TIMESTAMPTZ, UTC).
-- Parameters: none; it reads whatever `runs` holds (refresh_metrics points it at the changed partitions).
select
    created_date,
    run_id,
    workflow_name,
    status,
    created_at
from runs
where status in ('queued', 'running') and created_at is not null
