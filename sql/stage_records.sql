-- stage_records: typed rows for the records of one batch that passed the schema.
--
-- Input: the Arrow table `batch` (record_index, line, raw = the record's JSON text exactly as in the export,
-- extra = JSON text of the top-level keys the schema does not name, or NULL). Bound parameters: $source_file,
-- $export_id, $ingest_seq, $ingested_at (TIMESTAMPTZ).
--
-- Time: RFC 3339 date-times (already validated, so the regular expression below always matches) are converted to
-- UTC with microsecond precision: the offset is subtracted, fractions beyond microseconds are truncated, lower-case
-- t/z are accepted, and a leap second (second 60) becomes the first second of the next minute, flagged
-- `leap_second`. A cast is never the validator (DuckDB's cast rejects :60 and accepts a space for T).
-- created_date is the UTC date of createdAt, else of completedAt, else of the ingestion (created_date_source says
-- which).
--
-- dup_keys: the record repeats a top-level key. Parsers disagree on which value wins (Python keeps the last, DuckDB
-- the first), so the caller quarantines such records instead of guessing.
with fields as (
    select
        record_index,
        line,
        extra,
        json_extract_string(raw, ['$.runId', '$.workflowName', '$.status', '$.createdAt', '$.completedAt', '$.error'])
            as s,
        json_extract(raw, ['$.input', '$.output']) as j,
        json_keys(raw) as keys
    from batch
),

timestamp_parts as (
    select
        *,
        regexp_extract(
            upper(s[4]),
            '^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$',
            ['y', 'mo', 'd', 'h', 'mi', 'sec', 'frac', 'sign', 'oh', 'om']
        ) as c,
        regexp_extract(
            upper(s[5]),
            '^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$',
            ['y', 'mo', 'd', 'h', 'mi', 'sec', 'frac', 'sign', 'oh', 'om']
        ) as f
    from fields
),

utc_times as (
    select
        *,
        case when s[4] is not null then
            make_timestamp(c.y::bigint, c.mo::bigint, c.d::bigint, c.h::bigint, c.mi::bigint, 0.0)
            + to_microseconds(c.sec::bigint * 1000000 + coalesce(left(rpad(c.frac, 6, '0'), 6)::bigint, 0))
            - to_minutes(
                case c.sign when '-' then -1 when '+' then 1 else 0 end
                * (coalesce(nullif(c.oh, '')::bigint, 0) * 60 + coalesce(nullif(c.om, '')::bigint, 0))
            )
        end as created_utc,
        case when s[5] is not null then
            make_timestamp(f.y::bigint, f.mo::bigint, f.d::bigint, f.h::bigint, f.mi::bigint, 0.0)
            + to_microseconds(f.sec::bigint * 1000000 + coalesce(left(rpad(f.frac, 6, '0'), 6)::bigint, 0))
            - to_minutes(
                case f.sign when '-' then -1 when '+' then 1 else 0 end
                * (coalesce(nullif(f.oh, '')::bigint, 0) * 60 + coalesce(nullif(f.om, '')::bigint, 0))
            )
        end as completed_utc,
        c.sec = '60' or f.sec = '60' as leap
    from timestamp_parts
)

select
    s[1] as run_id,
    s[2] as workflow_name,
    s[3] as status,
    timezone('UTC', created_utc) as created_at,
    timezone('UTC', completed_utc) as completed_at,
    s[6] as error,
    j[1]::varchar as input,
    j[2]::varchar as output,
    extra,
    list_filter(
        [
            case when completed_utc < created_utc then 'completed_before_created' end,
            case when s[3] in ('queued', 'running') and completed_utc is not null then 'completed_at_on_unfinished' end,
            case when s[3] = 'failed' and s[6] is null then 'failed_without_error' end,
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
    len(keys) <> len(list_distinct(keys)) as dup_keys
from utc_times
order by record_index
