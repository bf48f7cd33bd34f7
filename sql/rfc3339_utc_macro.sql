-- rfc3339_utc(s): an RFC 3339 date-time string (already validated by the schema's `date-time` format) as a naive
-- UTC TIMESTAMP with microsecond precision; NULL for NULL.
-- The ingest converts most date-times in numpy (runlens.fastpath.parse_date_times); sql/rfc3339_instants.sql calls
-- this macro for the others (leap seconds, long fractions) and the tests compare both on the same stamps.
-- Validated strings are YYYY-MM-DDTHH:MM:SS, an optional fraction, then Z or +HH:MM / -HH:MM, so fixed positions
-- are safe. Lower-case t/z are accepted, the offset is subtracted and fraction digits beyond microseconds are
-- truncated.
-- Leap seconds: second 60 (the schema allows it only where the UTC time is 23:59) reads as the last microsecond
-- of its minute, HH:MM:59.999999, whatever its fraction; rfc3339_leap flags it. The stored time scale has no second
-- 60; this mapping keeps the order of every pair of stamps (never reversed, at worst equal) and the stamp's UTC
-- date: a run created at 23:59:60.2 and finished 0.9 s later, at 00:00:00.1, lasts 0.100001 s, where reading the
-- leap second as the next second (00:00:00.2) made it finish before it started. A duration across a leap second is
-- short by up to a second, as in any time scale without leap seconds.
-- No cast: DuckDB's cast rejects :60 and accepts a space for T. tests/test_time.py compares this expression with an
-- independent Python conversion.
create or replace temp macro rfc3339_leap(s) as substr(s, 18, 2) = '60';

create or replace temp macro rfc3339_utc(s) as
    strptime(upper(substr(s, 1, 17)) || if(rfc3339_leap(s), '59', substr(s, 18, 2)), '%Y-%m-%dT%H:%M:%S')
    + to_microseconds(
        if(rfc3339_leap(s), 999999,
            coalesce(left(rpad(regexp_extract(substr(s, 20), '^\.(\d+)', 1), 6, '0'), 6)::bigint, 0))
    )
    - to_minutes(
        if(upper(right(s, 1)) = 'Z', 0,
            if(substr(right(s, 6), 1, 1) = '-', -1, 1)
            * (substr(right(s, 5), 1, 2)::bigint * 60 + substr(right(s, 2), 1, 2)::bigint))
    );
