-- stage_records: typed rows for the records of one batch that passed the schema.
--
-- Input: the Arrow table `batch`: record_index, run_id, workflow_name, status, error, created_us and completed_us
-- (the UTC instants of createdAt and completedAt in microseconds since 1970, NULL when absent: converted by
-- runlens.fastpath.parse_date_times, the rest by sql/rfc3339_instants.sql; fraction digits beyond the sixth
-- truncated, a leap second read as HH:MM:59.999999), leap (whether either was a leap second), input and output
-- (their raw JSON text), extra (JSON text of the top-level keys the schema does not name, or NULL).
-- Bound: $source_file, $export_id, $ingest_seq, $ingested_at (TIMESTAMPTZ).
--
-- run_key: sql/run_key_macro.sql.
-- created_at and completed_at come out as naive UTC timestamps; the caller marks them UTC (a cast in Arrow that
-- keeps the values).
-- created_date is the UTC date of createdAt, else of completedAt, else of the ingestion; created_date_source says
-- which. `storable` is false for JSON text DuckDB's JSON type cannot hold; the caller quarantines those records.
with utc_times as (
    select *, make_timestamp(created_us) as created_utc, make_timestamp(completed_us) as completed_utc
    from batch
)

select
    run_id,
    workflow_name,
    status,
    created_utc as created_at,
    completed_utc as completed_at,
    error,
    input,
    output,
    extra,
    list_filter(
        [
            case when completed_utc < created_utc then 'completed_before_created' end,
            case when status in ('queued', 'running') and completed_utc is not null then 'completed_at_on_unfinished' end,
            case when status = 'failed' and error is null then 'failed_without_error' end,
            case when created_utc is null then 'missing_created_at' end,
            case when leap then 'leap_second' end,
            -- an export cannot describe what happened after it was read: an hour allows for clock skew between the
            -- exporting server and this machine, a mistyped year (2062) is caught
            case
                when greatest(created_utc, completed_utc) > timezone('UTC', $ingested_at::timestamptz) + interval 1 hour
                    then 'after_ingest'
            end
        ],
        lambda a: a is not null
    ) as anomalies,
    coalesce(created_utc::date, completed_utc::date, timezone('UTC', $ingested_at::timestamptz)::date) as created_date,
    case
        when created_utc is not null then 'createdAt'
        when completed_utc is not null then 'completedAt'
        else 'ingested_at'
    end as created_date_source,
    $source_file as source_file,
    $export_id as export_id,
    record_index,
    $ingest_seq::bigint as ingest_seq,
    $ingested_at::timestamptz as ingested_at,
    run_key(run_id) as run_key,
    coalesce(json_valid(input), true) and coalesce(json_valid(output), true) and coalesce(json_valid(extra), true)
        as storable
from utc_times
