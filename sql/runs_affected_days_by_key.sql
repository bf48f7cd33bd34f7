-- runs_affected_days_by_key: the created_date partitions of `runs` that new staged records can change, found by
-- run_key (sql/run_key_macro.sql) when every staged file has that column, in groups that must be rebuilt together.
--
-- A new record of run X can only change X's row, and X's row moves at most from its current partition (the
-- created_date of one of X's staged records) to the new record's created_date. So the days of every staged record
-- of the runs the new records mention hold all partitions to rebuild. Matching on run_key reads one 64-bit column
-- instead of every run id; a key shared by two runs only adds a day that is rebuilt for nothing.
-- One row per distinct set of days: `days` = the created_dates of one run_key's staged records, in order. A run
-- whose records lie on several days may move between them, so those days are rebuilt in one pass (refresh.py).
-- Bound: $new_staged (the new exports' staged files), $staged (every staged file, the new ones included).
select distinct days
from (
    select list(distinct created_date order by created_date) as days
    from read_parquet($staged)
    semi join (select distinct run_key from read_parquet($new_staged)) using (run_key)
    group by run_key
)
