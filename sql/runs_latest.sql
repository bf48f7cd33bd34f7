-- runs_latest: the latest known state of every run whose row belongs to one of the days being rebuilt.
--
-- Input (session variables, set by runlens.runs): `days`, the created_date partitions being rebuilt (DATE[]);
-- `every_day`, true when `days` holds every day of a staged record (a full rebuild: every run is a candidate, so
-- the runs touching `days` need not be looked up); `candidates`, the committed staged files that can hold a
-- record of those runs (VARCHAR[]: sql/runs_candidate_files.sql, which includes every file with a record on one
-- of the days; every staged file in a full rebuild or when some file predates run_key); `keyed`, whether every
-- staged file has the run_key column. Only the candidates are read.
-- A run's state across exports is resolved by one ordering key:
--   1. status rank: queued 0 < running 1 < completed = failed 2 (a stale export never moves a run backwards);
--   2. then the record ingested last: higher ingest_seq (files are ingested in path order within a batch);
--   3. then, within one file, the later record (higher record_index).
-- A run seen both completed and failed keeps the later record and gets the anomaly `status_conflict`.
-- Every record of a run is considered, so a run whose created_date changed between exports (for example queued
-- without createdAt, later exported with it) lands in exactly one partition: its winner's created_date.
-- Most runs have one record, which is their winner. So only runs with several records are resolved (on narrow
-- columns: run id and the ordering key), and the result is every staged record of the days minus the records
-- they supersede: the wide payload columns are read once and no join is as large as the table.
-- The runs that can compete are found by their 64-bit run_key (the macro of sql/run_key_macro.sql computes it
-- from run_id when `keyed` is false: some staged file predates the column). Grouping integers instead of id
-- strings cut this resolution's CPU by a third at 10M runs. A key shared by two runs only adds a candidate, and
-- contests group by run_id.
--
-- duration_s = completed_at - created_at in seconds, for completed and failed runs with both timestamps and a
-- non-negative difference; otherwise NULL (negative ones are flagged `completed_before_created` at staging).
with records as not materialized (
    select
        run_id,
        case when getvariable('keyed') then run_key else run_key(run_id) end as run_key,
        status,
        (case status when 'queued' then 0 when 'running' then 1 else 2 end)::bigint * (1::bigint << 61)
        + ingest_seq * (1::bigint << 33)
        + record_index as state_order
    from read_parquet(getvariable('candidates'), union_by_name = true)
),

touched_keys as (
    select distinct case when getvariable('keyed') then run_key else run_key(run_id) end as run_key
    from read_parquet(getvariable('candidates'), union_by_name = true)
    where list_contains(getvariable('days'), created_date)
),

repeated_keys as (
    select case when getvariable('keyed') then run_key else run_key(run_id) end as run_key
    from read_parquet(getvariable('candidates'), union_by_name = true)
    group by all
    having count(*) > 1
),

-- The records that can compete: in a full rebuild those of the runs with several records, otherwise every record
-- of the runs that have a record on one of the days (the branch not taken is planned away).
candidates as (
    select * from records semi join repeated_keys using (run_key) where getvariable('every_day')
    union all
    select * from records semi join touched_keys using (run_key) where not getvariable('every_day')
),

contests as (
    select
        max(state_order) as best,
        list(state_order) as orders,
        bool_or(status = 'completed') and bool_or(status = 'failed') as conflict
    from candidates
    group by run_id
    having count(*) > 1
),

-- The records that lost to a later or more final record of the same run ((ingest_seq, record_index) names one).
superseded as (
    select o % (1::bigint << 61) // (1::bigint << 33) as ingest_seq, o % (1::bigint << 33) as record_index
    from (select unnest(list_filter(orders, lambda o: o <> best)) as o from contests)
),

conflicted as (
    select best % (1::bigint << 61) // (1::bigint << 33) as ingest_seq, best % (1::bigint << 33) as record_index
    from contests
    where conflict
)

select
    s.run_id,
    s.workflow_name,
    s.status,
    s.created_at,
    s.completed_at,
    case
        when s.status in ('completed', 'failed') and s.completed_at >= s.created_at
            then (epoch_us(s.completed_at) - epoch_us(s.created_at)) / 1000000.0
    end as duration_s,
    s.error,
    s.input,
    s.output,
    s.extra,
    case when c.ingest_seq is not null then list_append(s.anomalies, 'status_conflict') else s.anomalies end
        as anomalies,
    s.created_date_source,
    s.source_file,
    s.ingested_at,
    s.created_date
from read_parquet(getvariable('candidates')) as s
anti join superseded as l using (ingest_seq, record_index)
left join conflicted as c using (ingest_seq, record_index)
where list_contains(getvariable('days'), s.created_date)
