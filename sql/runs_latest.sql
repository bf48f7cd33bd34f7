-- runs_latest: the latest known state of every run whose row belongs to one of the days being rebuilt.
--
-- Input (session variables, set by runlens.runs): `staged`, every committed staged file (VARCHAR[]); `days`,
-- the created_date partitions being rebuilt (DATE[]). A run's state across exports is resolved by one ordering key:
--   1. status rank: queued 0 < running 1 < completed = failed 2 (a stale export never moves a run backwards);
--   2. then the record ingested last: higher ingest_seq (files are ingested in path order within a batch);
--   3. then, within one file, the later record (higher record_index).
-- A run seen both completed and failed keeps the later record and gets the anomaly `status_conflict`.
-- Every record of a run is considered, so a run whose created_date changed between exports (for example queued
-- without createdAt, later exported with it) lands in exactly one partition: its winner's created_date.
-- The winner is chosen on narrow columns (run id and the ordering key) and its full row fetched once, so memory
-- does not grow with the payload columns.
--
-- duration_s = completed_at - created_at in seconds, for completed and failed runs with both timestamps and a
-- non-negative difference; otherwise NULL (negative ones are flagged `completed_before_created` at staging).
with touched_ids as (
    select distinct run_id
    from read_parquet(getvariable('staged'))
    where list_contains(getvariable('days'), created_date)
),

states as (
    select
        s.run_id,
        s.status,
        s.created_date,
        (case s.status when 'queued' then 0 when 'running' then 1 else 2 end)::bigint * (1::bigint << 61)
        + s.ingest_seq * (1::bigint << 33)
        + s.record_index as state_order
    from read_parquet(getvariable('staged')) as s
    semi join touched_ids using (run_id)
),

winners as (
    select
        max(state_order) % (1::bigint << 61) // (1::bigint << 33) as ingest_seq,
        max(state_order) % (1::bigint << 33) as record_index,
        bool_or(status = 'completed') and bool_or(status = 'failed') as conflict
    from states
    group by run_id
    having list_contains(getvariable('days'), arg_max(created_date, state_order))
),

-- (ingest_seq, record_index) names one staged record: joining on two integers is cheaper than on run ids.
winning_rows as (
    select s.*, w.conflict
    from read_parquet(getvariable('staged')) as s
    inner join winners as w using (ingest_seq, record_index)
)

select
    run_id,
    workflow_name,
    status,
    created_at,
    completed_at,
    case
        when status in ('completed', 'failed') and completed_at >= created_at
            then (epoch_us(completed_at) - epoch_us(created_at)) / 1000000.0
    end as duration_s,
    error,
    input,
    output,
    extra,
    case when conflict then list_append(anomalies, 'status_conflict') else anomalies end as anomalies,
    created_date_source,
    source_file,
    ingested_at,
    created_date
from winning_rows
