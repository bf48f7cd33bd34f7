-- The three most frequent error signatures of each workflow, with their share of its failed runs.
select
    workflow_name,
    signature,
    runs,
    round(100 * runs / sum(runs) over (partition by workflow_name), 1) as pct_of_failed,
    first_seen,
    last_seen,
    example
from error_signatures
qualify row_number() over (partition by workflow_name order by runs desc, signature) <= 3
order by workflow_name, runs desc, signature;
