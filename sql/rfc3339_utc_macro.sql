-- rfc3339_utc(s): an RFC 3339 date-time string (already validated by the schema's `date-time` format) as a naive
-- UTC TIMESTAMP with microsecond precision; NULL for NULL.
-- The ingest converts most date-times in numpy (runlens.fastpath.parse_date_times); sql/rfc3339_instants.sql calls
-- this macro for the others (leap seconds, long fractions) and the tests compare both on the same stamps.
-- Validated strings are YYYY-MM-DDTHH:MM:SS, an optional fraction, then Z or +HH:MM / -HH:MM, so fixed positions
-- are safe. Lower-case t/z are accepted, the offset is subtracted, fraction digits beyond microseconds are
-- truncated, and a leap second (second 60) becomes the first second of the next minute (rfc3339_leap flags it).
-- A cast is never the validator: DuckDB's cast rejects :60 and accepts a space for T. After validation it is the
-- fast converter for the common shape (upper-case T, no lower-case z, no leap second, at most 6 fraction digits),
-- about 6x cheaper than the exact expression, which every other string (or a failed cast) goes through. Both agree
-- with an independent Python conversion in tests/test_time.py.
create or replace temp macro rfc3339_leap(s) as substr(s, 18, 2) = '60';

create or replace temp macro rfc3339_utc_exact(s) as
    strptime(upper(substr(s, 1, 17)) || if(rfc3339_leap(s), '59', substr(s, 18, 2)), '%Y-%m-%dT%H:%M:%S')
    + to_microseconds(
        if(rfc3339_leap(s), 1000000, 0)
        + coalesce(left(rpad(regexp_extract(substr(s, 20), '^\.(\d+)', 1), 6, '0'), 6)::bigint, 0)
    )
    - to_minutes(
        if(upper(right(s, 1)) = 'Z', 0,
            if(substr(right(s, 6), 1, 1) = '-', -1, 1)
            * (substr(right(s, 5), 1, 2)::bigint * 60 + substr(right(s, 2), 1, 2)::bigint))
    );

create or replace temp macro rfc3339_utc(s) as
    coalesce(
        case
            when s[11] = 'T' and s[-1] <> 'z' and not rfc3339_leap(s) and length(s) <= if(s[-1] = 'Z', 27, 32)
                then timezone('UTC', try_cast(s as timestamptz))
        end,
        rfc3339_utc_exact(s)
    );
