-- runs_candidate_files: the staged files that can hold a record of a run that has a record on one of the days
-- being rebuilt, found by run_key (sql/run_key_macro.sql) when every staged file has that column.
--
-- Session variables (set by runlens.runs): `staged`, every committed staged file; `days`, the days being rebuilt.
-- sql/runs_latest.sql then reads the records of those runs from these files only; matching on run_key reads one
-- 64-bit column instead of every run id, and a key shared by two runs only adds a file to read.
select distinct filename
from read_parquet(getvariable('staged'), filename = true)
semi join (
    select distinct run_key
    from read_parquet(getvariable('staged'))
    where list_contains(getvariable('days'), created_date)
) using (run_key)
