-- stage_records: typed rows for the records of one batch that passed the schema.
--
-- Input: the Arrow table `batch`: record_index, run_id, workflow_name, status, error, created_raw and
-- completed_raw (the date-time strings as exported), input and output (their raw JSON text), extra (JSON text of
-- the top-level keys the schema does not name, or NULL). Bound: $source_file, $export_id, $ingest_seq,
-- $ingested_at (TIMESTAMPTZ).
--
-- Time: RFC 3339 date-times (already validated: YYYY-MM-DDTHH:MM:SS, an optional fraction, then Z or +HH:MM /
-- -HH:MM, so fixed positions are safe) are converted to UTC with microsecond precision: the offset is subtracted, fraction digits beyond microseconds are truncated,
-- lower-case t/z are accepted, and a leap second (second 60) becomes the first second of the next minute, flagged
-- `leap_second`. A cast is never the validator (DuckDB's cast rejects :60 and accepts a space for T).
-- created_date is the UTC date of createdAt, else of completedAt, else of the ingestion; created_date_source says
-- which. `storable` is false for JSON text DuckDB's JSON type cannot hold; the caller quarantines those records.
with parts as (
    select
        *,
        upper(created_raw) as c,
        upper(completed_raw) as f
    from batch
),

utc_times as (
    select
        *,
        strptime(substr(c, 1, 17) || if(substr(c, 18, 2) = '60', '59', substr(c, 18, 2)), '%Y-%m-%dT%H:%M:%S')
            + to_microseconds(
                if(substr(c, 18, 2) = '60', 1000000, 0)
                + coalesce(left(rpad(regexp_extract(substr(c, 20), '^\.(\d+)', 1), 6, '0'), 6)::bigint, 0)
            )
            - to_minutes(
                if(right(c, 1) = 'Z', 0,
                    if(substr(right(c, 6), 1, 1) = '-', -1, 1)
                    * (substr(right(c, 5), 1, 2)::bigint * 60 + substr(right(c, 2), 1, 2)::bigint))
            ) as created_utc,
        strptime(substr(f, 1, 17) || if(substr(f, 18, 2) = '60', '59', substr(f, 18, 2)), '%Y-%m-%dT%H:%M:%S')
            + to_microseconds(
                if(substr(f, 18, 2) = '60', 1000000, 0)
                + coalesce(left(rpad(regexp_extract(substr(f, 20), '^\.(\d+)', 1), 6, '0'), 6)::bigint, 0)
            )
            - to_minutes(
                if(right(f, 1) = 'Z', 0,
                    if(substr(right(f, 6), 1, 1) = '-', -1, 1)
                    * (substr(right(f, 5), 1, 2)::bigint * 60 + substr(right(f, 2), 1, 2)::bigint))
            ) as completed_utc,
        substr(c, 18, 2) = '60' or substr(f, 18, 2) = '60' as leap
    from parts
)

select
    run_id,
    workflow_name,
    status,
    timezone('UTC', created_utc) as created_at,
    timezone('UTC', completed_utc) as completed_at,
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
            case when leap then 'leap_second' end
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
    coalesce(json_valid(input), true) and coalesce(json_valid(output), true) and coalesce(json_valid(extra), true)
        as storable
from utc_times
