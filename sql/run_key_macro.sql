-- run_key(run_id): a 64-bit key of a run id, stored with every staged record (column `run_key`).
--
-- The lower 64 bits of the id's MD5: stable across DuckDB versions (unlike `hash`), so keys written by one version
-- match keys computed by another. Finding a run's records by key reads one fixed-width column instead of every run
-- id string; two ids can share a key (about 1 in 10^7 for 10M runs), so a match by key only narrows the search
-- and exact answers still compare run ids.
create or replace temp macro run_key(run_id) as md5_number_lower(run_id);
