-- partial_error_signatures: the failed runs of each created_date partition of runs, grouped per workflow_name by
-- the shape of their error message. error_signatures.sql rolls these rows up over created_date; refresh_metrics
-- keeps them in lake/metrics/_partial/partial_error_signatures.parquet and recomputes only the rows of the
-- created_date partitions that changed.
-- Cohort: the runs with status failed. Time zone: first_seen / last_seen are TIMESTAMPTZ (UTC).
--
-- signature = the error text with its variable parts replaced, in this order (RE2 regexes, ASCII \w and \b):
--   1. whitespace runs (newlines included) -> one space, trimmed
--   2. URLs (scheme://...)                                  -> <url>
--   3. UUIDs (8-4-4-4-12 hex digits)                        -> <uuid>
--   4. quoted values 'x' and "x" (opening quote not inside a word, so "can't" stays) -> '<str>' and "<str>"
--   5. paths: /abs, ~/x, ./x, ../x, relative ones with two or more slashes (a/b/c), C:\x -> <path>
--   6. ISO 8601 dates and date-times, not inside a word (not preceded by a letter, digit, _, . or -):
--      YYYY-MM-DD (month 01-12, day 01-31), optionally followed by T, t or a space and hh:mm[:ss] (hour 00-23,
--      minute 00-59, second 00-60), a fraction after . or , and then Z, z or an offset +hh[[:]mm] / -hh[[:]mm]
--      (2026-03-01, 2026-03-01T12:00:00Z, 2026-03-01 12:00:00.123+02:00, 2026-03-01 12:00:00,123); also the basic
--      form with a time: YYYYMMDD, T or t, hhmm[ss], fraction and zone as above (20260301T120000Z; a basic date
--      alone, 20260301, is a number) -> <ts>
--      (after paths, so a dated file name stays inside its <path>; before ids and numbers, which would take its
--      digits apart)
--   7. ids: run ids (run_...) and words joined by _ or - that contain a digit (req-42, job_7f3a) -> <id>
--   8. hex: 0x... and words of 8 or more hex digits with at least one letter a-f (trace ids, hashes), except
--      digits followed by one letter and nothing else, which is a number with a unit (4194304B) -> <hex>
--      (before numbers, so a hex id that starts with digits, 123456ab, is not read as a number with a unit; a hex
--      id that is digits and one final letter, 0000001e, is read as one: <n>e; scientific notation that is such a
--      word, 12345e10, is <hex> too)
--   9. numbers, decimals included, at a word start, each with an exponent if it has one (1e10, 1.5e-3, 2E+7), and
--      with the numbers and letters before the word's last number (a Go duration 1h2m3.5s, 1920x1080, 1_000_000)
--      -> <n>; the letters after it stay, however many: the unit (30s -> <n>s, 4194304B -> <n>B, 512MiB -> <n>MiB,
--      1.5GiB -> <n>GiB, 4096bytes -> <n>bytes, 1m30s / 2m0s / 5m0.5s -> <n>s like 59.5s, so a timeout reads the
--      same above and below a minute). Digits after letters belong to the word: v2, sha256, http2, ipv4, utf8
--      stay. A word of digits only, however long, is a number; a time of day alone, 12:00:00, is three; 1.2.3 and
--      10.0.1.2 are <n>.<n>.
-- tests/test_metrics.py::test_error_signature_rules_on_hand_written_cases checks these rules on hand-written cases.
-- A failed run without an error message (NULL, anomaly failed_without_error; or blank) gets signature
-- '<no error>', so per workflow the runs of all signatures add up to its failed runs.
--
-- Columns: created_date (the runs partition); workflow_name; signature; runs (failed runs with it);
-- first_seen / last_seen = min / max created_at; example = the error text of the earliest of those runs (by
-- created_at, NULLs last, then run_id) and example_run_id = its run_id (first_seen is its created_at, or NULL
-- when no run of the group has one), so the roll-up can pick the earliest run over all partitions.
-- Parameters: none; it reads whatever `runs` holds (refresh_metrics points it at the changed partitions).
with failed_runs as (
    select
        run_id,
        workflow_name,
        created_date,
        created_at,
        error
    from runs
    where status = 'failed'
),

normalised_errors as (
    select
        *,
        -- a run of two or more, or one that is not a space: a single space (most of them) is no match to replace
        trim(regexp_replace(coalesce(error, ''), '\s{2,}|[^\S ]', ' ', 'g')) as collapsed,
        regexp_replace(collapsed, '[A-Za-z][A-Za-z0-9+.-]*://[^\s''"<>]+', '<url>', 'g') as without_urls,
        regexp_replace(
            without_urls, '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '<uuid>', 'g'
        ) as without_uuids,
        regexp_replace(
            regexp_replace(without_uuids, '(^|\W)''[^'']*''', '\1''<str>''', 'g'),
            '(^|\W)"[^"]*"', '\1"<str>"', 'g'
        ) as without_quoted,
        regexp_replace(
            regexp_replace(
                without_quoted,
                '(^|[\s(\[{=:,])((~|\.{1,2})?/[\w.@%+~-]|[\w.@-]+/[\w.@-]+/)[\w.@%+~/-]*', '\1<path>', 'g'
            ),
            '\b[A-Za-z]:\\[^\s''"]*', '<path>', 'g'
        ) as without_paths,
        -- extended (2026-03-01, 2026-03-01T12:00:00Z) or basic with a time (20260301T120000Z), one regex, one pass
        regexp_replace(
            without_paths,
            '(^|[^\w.-])(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])'
            || '([Tt ]([01]\d|2[0-3]):[0-5]\d(:([0-5]\d|60)([.,]\d+)?)?([Zz]|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?)?'
            || '|\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])'
            || '[Tt]([01]\d|2[0-3])[0-5]\d(([0-5]\d|60)([.,]\d+)?)?([Zz]|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?)\b',
            '\1<ts>', 'g'
        ) as without_timestamps,
        regexp_replace(
            without_timestamps, '\b(run_[A-Za-z0-9_]+|[A-Za-z][A-Za-z0-9]*[_-][A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]*)', '<id>', 'g'
        ) as without_ids,
        -- a word of 8+ hex digits holding a letter that is not just digits and one final letter: its first letter
        -- comes after i = 0..6 digits and is followed by at least 7 - i hex digits, or comes after 7 or more digits
        -- and is followed by at least one (RE2 has no lookahead to say it shorter)
        regexp_replace(
            without_ids,
            '\b(0[xX][0-9a-fA-F]+|[a-fA-F][0-9a-fA-F]{7,}|[0-9]{1}[a-fA-F][0-9a-fA-F]{6,}|[0-9]{2}[a-fA-F][0-9a-fA-F]{5,}|[0-9]{3}[a-fA-F][0-9a-fA-F]{4,}|[0-9]{4}[a-fA-F][0-9a-fA-F]{3,}|[0-9]{5}[a-fA-F][0-9a-fA-F]{2,}|[0-9]{6}[a-fA-F][0-9a-fA-F]{1,}|[0-9]{7,}[a-fA-F][0-9a-fA-F]+)\b',
            '<hex>', 'g'
        ) as without_hex,
        -- a number at a word start with the numbers and letters before its last number (1h2m3.5s, 1920x1080) and
        -- its exponent (1e10, 1.5e-3); the letters after it stay. No group to capture, so RE2 needs only its DFA.
        regexp_replace(
            without_hex, '\b(?:[0-9]+(?:\.[0-9]+)?[A-Za-z_]+)*[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?', '<n>', 'g'
        ) as without_numbers
    from failed_runs
),

signed_errors as (
    select
        run_id,
        workflow_name,
        created_date,
        created_at,
        error,
        coalesce(nullif(without_numbers, ''), '<no error>') as signature
    from normalised_errors
)

select
    created_date,
    workflow_name,
    signature,
    count(*) as runs,
    min(created_at) as first_seen,
    max(created_at) as last_seen,
    first(error order by created_at nulls last, run_id) as example,
    first(run_id order by created_at nulls last, run_id) as example_run_id
from signed_errors
group by created_date, workflow_name, signature
