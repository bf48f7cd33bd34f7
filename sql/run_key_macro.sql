-- run_key(run_id): a 64-bit key of a run id, stored with every staged record (column `run_key`).
--
-- The lower 64 bits of the id's MD5: stable across DuckDB versions (unlike `hash`), so keys written by one version
-- match keys computed by another. Finding a run's records by key reads one fixed-width column instead of every run
-- id string. Two ids can share a key (that any two of 10M run ids do has a chance of about 3 in a million, n^2 / 2^65),
-- so a match by key only narrows the search and exact answers still compare run ids.
create or replace temp macro run_key(run_id) as md5_number_lower(run_id);
