-- error_signatures: the failed runs of each workflow grouped by the shape of their error message.
-- Cohort: every run with status failed, all time. Time zone: first_seen / last_seen are TIMESTAMPTZ (UTC).
-- The signature (the error text with URLs, UUIDs, quoted values, paths, timestamps, ids, hex and numbers
-- replaced; a failed run without a message gets '<no error>') is defined in partial_error_signatures.sql, which
-- groups the failed runs per created_date partition; this query rolls those groups up over created_date, which
-- gives exactly the groups over all failed runs.
--
-- Columns: workflow_name; signature; runs (failed runs with it); first_seen / last_seen = min / max created_at;
-- example = the error text of the earliest of those runs (by created_at, NULLs last, then run_id).
-- Parameters: none. Reads: partial_error_signatures. Partition column: none (rewritten whole, from the partials).
select
    workflow_name,
    signature,
    sum(runs)::bigint as runs,
    min(first_seen) as first_seen,
    max(last_seen) as last_seen,
    first(example order by first_seen nulls last, example_run_id) as example
from partial_error_signatures
group by workflow_name, signature
order by workflow_name, runs desc, signature
