-- runs_affected_days: the created_date partitions of `runs` that new staged records can change, in groups that
-- must be rebuilt together (used when some staged file predates run_key: see runs_affected_days_by_key.sql).
--
-- A new record of run X can only change X's row, and X's row moves at most from its current partition to the new
-- record's created_date. So the partitions to rebuild are the new records' days plus the current days of the runs
-- they mention. One row per distinct set of days: `days` = a new record's created_date and, when its run is in
-- runs already on another day, that day too, in order (the run may move between them: they are rebuilt in one
-- pass, refresh.py). Bound: $new_staged (the new exports' staged files), $runs (the current runs partition files).
select distinct list_sort(list_distinct([new_records.created_date, current_runs.created_date])) as days
from read_parquet($new_staged) as new_records
left join (
    select run_id, created_date
    from read_parquet($runs, hive_partitioning = true, hive_types = {'created_date': date})
) as current_runs using (run_id)
