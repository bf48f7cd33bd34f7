-- run_ids_unique: run ids that appear in more than one row of runs (across all partitions). Expected: no rows.
select run_id, count(*) as copies
from read_parquet($runs)
group by run_id
having count(*) > 1
order by run_id
