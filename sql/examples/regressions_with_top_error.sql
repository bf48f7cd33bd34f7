-- Regressed workflows, how much worse they got, and their most frequent error signature.
with top_signatures as (
    select
        workflow_name,
        signature
    from error_signatures
    qualify row_number() over (partition by workflow_name order by runs desc, signature) = 1
)

select
    workflow_regressions.workflow_name,
    workflow_regressions.failure_rate_regressed,
    workflow_regressions.p95_regressed,
    round(100 * workflow_regressions.previous_failure_rate, 1) as previous_failure_pct,
    round(100 * workflow_regressions.latest_failure_rate, 1) as latest_failure_pct,
    round(workflow_regressions.previous_p95_s, 1) as previous_p95_s,
    round(workflow_regressions.latest_p95_s, 1) as latest_p95_s,
    round(workflow_regressions.p95_ratio, 2) as p95_ratio,
    top_signatures.signature as top_error_signature
from workflow_regressions
left join top_signatures on workflow_regressions.workflow_name = top_signatures.workflow_name
order by workflow_regressions.workflow_name;
