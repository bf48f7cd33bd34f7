-- Macros shared by the metric SQL and by ad-hoc users of the warehouse. All of them read the `runs` relation
-- (a view over lake/runs) when they are called, so they are created once per connection or warehouse.
--
-- Time: every window is UTC whatever the session's TimeZone. `since` and `until` are read by utc_instant (below):
-- TIMESTAMPTZ as it is; a DATE, TIMESTAMP or string without a zone as UTC; a string with `Z`, an offset or a time
-- zone name in that zone (only unambiguous spellings; abbreviations are refused). Windows are half-open: since <=
-- created_at < until. Runs without created_at (anomaly `missing_created_at`) fall in no window; they still count in
-- the created_date cohort of `workflow_daily_metrics`.
--
-- Counting: runs = every run; completed / failed by status; in_flight = queued + running.
-- failure_rate = failed / (completed + failed), NULL when neither. failure_rate_low / failure_rate_high = the
-- Wilson score 95 % interval (z = 1.959963984540054) of that rate, which always holds the rate: exactly 0
-- and exactly 1 at the ends (no failure, every run failed), never beyond the rate from rounding.
-- p50_s, p90_s, p95_s, p99_s = exact `quantile_cont` (linear interpolation between order statistics) and max_s =
-- maximum, over duration_s of the completed and failed runs whose duration_s is not NULL (a missing timestamp
-- or completed_at before created_at leaves it NULL); NULL when there is none.

-- A moment as TIMESTAMPTZ, the same in any session TimeZone:
-- * a TIMESTAMPTZ: itself;
-- * a DATE, a TIMESTAMP (TIMESTAMP_NS rounded to microseconds), or a string `YYYY-MM-DD` or
--   `YYYY-MM-DD hh:mm[:ss[.fraction]]` (`T` or a space before the time; hh 00-23, mm and ss 00-59; fraction digits
--   beyond microseconds truncated): read as UTC. Hour 24 (DuckDB's cast reads `24:00:00` as the next midnight) and
--   a leap second `:60` are refused: the lake keeps no second 60 (it stores one as :59.999999), so a window bound
--   inside one could not tell its runs apart;
-- * that string followed by `Z`, an offset (`+hh`, `+hhmm`, `+hh:mm`, or `-`; hh 00-23, mm 00-59) or a space and a
--   time zone name: `UTC`, `GMT`, or an IANA name Area/Location as the tz database spells it, with Area one of
--   Africa, America, Antarctica, Arctic, Asia, Atlantic, Australia, Europe, Indian, Pacific, Etc (`Etc/GMT+5`, whose
--   POSIX sign makes it UTC-5) or the backward-compatible US, Canada, Mexico, Brazil, Chile (`US/Eastern`): read in
--   that zone, with its summer time. A local time that a switch repeats is the later of its two instants
--   (2026-11-01 01:30 in New York is 06:30 UTC); one that a switch skips is read with the offset in force before it
--   (2026-03-08 02:30 in New York is 07:30 UTC);
-- * any other string is an error naming it: a day that does not exist (`2026-02-30`, month 13, year 0000), a
--   name of that shape the time zone data does not know (`Mars/Olympus`), a date with a zone but no time, another
--   layout, an offset beyond ±23:59, and every other zone spelling, which DuckDB's ICU would read its own way:
--   abbreviations (`BST` is Asia/Dhaka there, not British Summer Time; `IST` is India), `GMT+5` / `UTC+5` (+5
--   hours there, the opposite of `Etc/GMT+5`), `EST5EDT`, ICU's `SystemV/...` and `Etc/Unknown` (read as UTC). A
--   cast alone would misread some: to TIMESTAMP it drops whatever zone follows the time, to TIMESTAMPTZ it reads a
--   string without one in the session's zone.
-- tests/test_time.py checks each form against instants computed with Python's zoneinfo, in three session zones.
create or replace macro utc_instant(t) as
    case
        when typeof(t) = 'TIMESTAMP WITH TIME ZONE' then t::timestamptz
        when typeof(t) <> 'VARCHAR' then timezone('UTC', t::timestamp)
        else coalesce(
            -- try_cast: NULL for a day that does not exist or a zone name the time zone data does not know
            case
                when starts_with(t::varchar, '0000') then null  -- year 0000, as the ingest's date-time refuses it
                when regexp_full_match(t::varchar, '\d{4}-\d\d-\d\d([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?)?')
                    then timezone('UTC', try_cast(t::varchar as timestamp))
                when regexp_full_match(
                    t::varchar,
                    '\d{4}-\d\d-\d\d[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?| (UTC|GMT|'
                    || '(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc|US|Canada'
                    || '|Mexico|Brazil|Chile)(/[A-Za-z0-9_+-]+)+))'
                ) and not ends_with(t::varchar, ' Etc/Unknown') then try_cast(t::varchar as timestamptz)
            end,
            case when t is not null then error(
                'utc_instant cannot read ''' || t::varchar || ''': expected YYYY-MM-DD or YYYY-MM-DD'
                || ' hh:mm[:ss[.fraction]] (UTC; a day that exists, hh <= 23, mm and ss <= 59), the latter optionally'
                || ' followed by Z, an offset (+hh[:mm], hh <= 23, mm <= 59) or a space and UTC, GMT or an IANA time'
                || ' zone name the time zone data knows (Area/Location, such as Europe/London; not an abbreviation)'
            ) end
        )
    end;

-- One bound of the Wilson score interval for failed out of finished: z < 0 gives the low bound, z > 0 the high.
-- The interval always holds the rate itself, so the low bound is capped at the rate and the high bound floored at
-- it: in floating point the formula gives 1e-17 instead of 0 for no failures and 1 - 2e-16 instead of 1 for all.
-- (wilson_score_bound is the textbook formula; wilson_bound is the one to use.)
create or replace macro wilson_score_bound(rate, finished, z) as
    (rate + z * z / (2 * finished) + z * sqrt(rate * (1 - rate) / finished + z * z / (4 * finished * finished)))
    / (1 + z * z / finished);

create or replace macro wilson_bound(failed, finished, z) as
    case
        when finished > 0 and z < 0 then greatest(0.0, least(failed / finished, wilson_score_bound(failed / finished, finished, z)))
        when finished > 0 then least(1.0, greatest(failed / finished, wilson_score_bound(failed / finished, finished, z)))
    end;

-- The metric columns of one cohort from its counts, duration quantiles ([p50, p90, p95, p99]) and max.
create or replace macro cohort_stats(runs, completed, failed, in_flight, quantiles, longest) as struct_pack(
    runs := runs,
    completed := completed,
    failed := failed,
    in_flight := in_flight,
    failure_rate := failed / nullif(completed + failed, 0),
    failure_rate_low := wilson_bound(failed, completed + failed, -1.959963984540054),
    failure_rate_high := wilson_bound(failed, completed + failed, 1.959963984540054),
    p50_s := quantiles[1],
    p90_s := quantiles[2],
    p95_s := quantiles[3],
    p99_s := quantiles[4],
    max_s := longest
);

-- Aggregate: the metric columns of the runs in the current group (expand with `unnest(run_stats(...))`).
create or replace macro run_stats(status, duration_s) as cohort_stats(
    count(*),
    count(*) filter (where status = 'completed'),
    count(*) filter (where status = 'failed'),
    count(*) filter (where status in ('queued', 'running')),
    quantile_cont(duration_s, [0.5, 0.9, 0.95, 0.99]) filter (where status in ('completed', 'failed')),
    max(duration_s) filter (where status in ('completed', 'failed'))
);

-- The runs created in [since, until). created_date is the UTC date of created_at whenever created_at is set (the
-- asset check sql/checks/runs_created_date_matches.sql fails on a lake where another writer broke that), so the
-- created_date bounds select no other rows; they let DuckDB skip the runs partitions outside the window without
-- opening them (a week's metrics over a year's lake read 8 partitions, not 365).
create or replace macro window_runs(since, until) as table
    select run_id, workflow_name, status, created_at, completed_at, duration_s, error
    from runs
    where created_at >= utc_instant(since) and created_at < utc_instant(until)
        and created_date between timezone('UTC', utc_instant(since))::date and timezone('UTC', utc_instant(until))::date;

-- Per workflow over [since, until): workflow_name, runs, completed, failed, in_flight, failure_rate,
-- failure_rate_low, failure_rate_high, p50_s, p90_s, p95_s, p99_s, max_s. Exact over the whole window.
create or replace macro workflow_metrics(since, until) as table
    select workflow_name, unnest(run_stats(status, duration_s))
    from window_runs(since, until)
    group by workflow_name
    order by workflow_name;

-- All workflows together over [since, until): one row, the columns of workflow_metrics without workflow_name.
create or replace macro fleet_metrics(since, until) as table
    select unnest(run_stats(status, duration_s))
    from window_runs(since, until);

-- The newest created_at of the runs not flagged `after_ingest` (created or completed more than an hour after
-- runlens ingested them: a wrong clock or a mistyped year in the export), or of all runs when every run with a
-- created_at is so flagged; NULL when no run has one. Where a review ends by default: the report's window ends
-- just after it, and sql/examples count their last days back from its UTC day. One run dated 2099 by a typo would
-- otherwise move every "last 7 days" into 2099, where it holds that run alone.
create or replace macro newest_created_at() as (
    select coalesce(max(created_at) filter (where not list_contains(anomalies, 'after_ingest')), max(created_at))
    from runs
);
