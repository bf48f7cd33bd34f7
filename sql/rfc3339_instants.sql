-- rfc3339_instants: the UTC instants of the date-times the ingest's numpy conversion leaves over (leap seconds,
-- fractions longer than runlens.fastpath.MAX_FRACTION_DIGITS), with the expression of sql/rfc3339_utc_macro.sql.
--
-- Input: the Arrow table `stamps` (column s: date-times that passed the schema's `date-time` format). Output, in the
-- input's order: micros (microseconds since 1970-01-01 UTC; fraction digits beyond the sixth truncated; a leap
-- second is the last microsecond of its minute, HH:MM:59.999999) and leap (whether it was a leap second).
select epoch_us(rfc3339_utc(s)) as micros, coalesce(rfc3339_leap(s), false) as leap
from stamps
