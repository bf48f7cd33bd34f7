-- runs_affected_days: the created_date partitions of `runs` that new staged records can change.
--
-- A new record of run X can only change X's row, and X's row moves at most from its current partition to the new
-- record's created_date. So the partitions to rebuild are the new records' days plus the current days of the runs
-- they mention. Bound: $new_staged (the new exports' staged files), $runs (the current runs partition files).
select distinct created_date as day
from read_parquet($new_staged)
union
select distinct current_runs.created_date as day
from read_parquet($runs, hive_partitioning = true, hive_types = {'created_date': date}) as current_runs
semi join read_parquet($new_staged) as new_records using (run_id)
