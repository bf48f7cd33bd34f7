-- runs_latest: the latest known state of every run whose row belongs to one of the days being rebuilt.
--
-- Input: every committed staged record (bound $staged: a list of Parquet files) and $days (DATE[]), the
-- created_date partitions being rebuilt. A run's state across exports is resolved by one ordering key:
--   1. status rank: queued 0 < running 1 < completed = failed 2 (a stale export never moves a run backwards);
--   2. then the record ingested last: higher ingest_seq (files are ingested in path order within a batch);
--   3. then, within one file, the later record (higher record_index).
-- A run seen both completed and failed keeps the later record and gets the anomaly `status_conflict`.
-- Every record of a run is considered, so a run whose created_date changed between exports (for example queued
-- without createdAt, later exported with it) lands in exactly one partition: its winner's created_date.
--
-- duration_s = completed_at - created_at in seconds, for completed and failed runs with both timestamps and a
-- non-negative difference; otherwise NULL (negative ones are flagged `completed_before_created` at staging).
with touched_ids as (
    select distinct run_id
    from read_parquet($staged)
    where list_contains($days, created_date)
),

candidates as (
    select
        s.*,
        (case s.status when 'queued' then 0 when 'running' then 1 else 2 end)::bigint * (1::bigint << 61)
        + s.ingest_seq * (1::bigint << 33)
        + s.record_index as state_order
    from read_parquet($staged) as s
    semi join touched_ids using (run_id)
),

latest as (
    select
        run_id,
        max_by(candidates, state_order) as r,
        bool_or(status = 'completed') and bool_or(status = 'failed') as conflict
    from candidates
    group by run_id
)

select
    run_id,
    r.workflow_name,
    r.status,
    r.created_at,
    r.completed_at,
    case
        when r.status in ('completed', 'failed') and r.completed_at >= r.created_at
            then (epoch_us(r.completed_at) - epoch_us(r.created_at)) / 1000000.0
    end as duration_s,
    r.error,
    r.input,
    r.output,
    r.extra,
    case when conflict then list_append(r.anomalies, 'status_conflict') else r.anomalies end as anomalies,
    r.created_date_source,
    r.source_file,
    r.ingested_at,
    r.created_date
from latest
where list_contains($days, r.created_date)
order by r.created_date, r.workflow_name, r.created_at, run_id
