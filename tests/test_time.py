"""The SQL and numpy conversions of RFC 3339 date-times to UTC against an independent Python conversion
(tests/reference.py), on stamps with upper- and lower-case t and z, offsets, leap seconds and 0-9 fraction
digits; the warehouse macro utc_instant against instants built with zoneinfo, in several session time zones."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pytest
from runlens.config import SQL_DIR
from runlens.fastpath import parse_date_times
from runlens.metrics import macro_sql

from tests import reference

DAYS = ["0001-01-02", "1969-12-31", "2024-02-29", "2026-11-01", "9999-12-30"]
TIMES = ["00:00:00", "12:34:56", "23:59:59", "23:59:60"]
FRACTIONS = ["", ".0", ".1", ".123", ".123456", ".000001", ".999999", ".1234567", ".999999999"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZONES = ["Z", "z", "+00:00", "-00:00", "+05:30", "-12:45", "+23:59", "-23:59"]
STAMPS = [
    f"{day}{t}{time}{fraction}{zone}"
    for day, t, time, fraction, zone in itertools.product(DAYS, "Tt", TIMES, FRACTIONS, ZONES)
]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    connection.execute((SQL_DIR / "rfc3339_utc_macro.sql").read_text())
    connection.execute("create table stamps (s varchar)")
    connection.executemany("insert into stamps values (?)", [[s] for s in STAMPS])
    return connection


def test_sql_conversion_equals_python_reference(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("select s, rfc3339_utc(s), rfc3339_leap(s) from stamps").fetchall()
    assert len(rows) == len(STAMPS)
    for stamp, instant, leap in rows:
        expected, expected_leap = reference.to_utc(stamp)
        assert instant == expected.replace(tzinfo=None), stamp
        assert leap == expected_leap, stamp


def test_numpy_conversion_equals_python_reference() -> None:
    """runlens.fastpath.parse_date_times converts every stamp here but leap seconds (left to the SQL above)."""
    ok, micros = parse_date_times(pa.array(STAMPS, pa.string()))
    for stamp, parsed, value in zip(STAMPS, ok.tolist(), micros.tolist(), strict=True):
        expected, leap = reference.to_utc(stamp)
        assert parsed == (not leap), stamp
        if parsed:
            assert EPOCH + timedelta(microseconds=value) == expected, stamp


NEW_YORK, BERLIN, SYDNEY = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin"), ZoneInfo("Australia/Sydney")
# utc_instant's argument and the instant it means, built from its parts (a DST switch's repeated hour is read as
# its later instant, fold=1; a skipped hour with the offset in force before the switch, fold=0).
INSTANTS: list[tuple[Any, datetime]] = [
    ("2026-03-01 00:00:00 America/New_York", datetime(2026, 3, 1, tzinfo=NEW_YORK)),
    ("2026-03-08 01:59:59 America/New_York", datetime(2026, 3, 8, 1, 59, 59, tzinfo=NEW_YORK)),  # last second of EST
    ("2026-03-08T03:00:00 America/New_York", datetime(2026, 3, 8, 3, tzinfo=NEW_YORK)),  # first second of EDT
    ("2026-03-08 02:30:00 America/New_York", datetime(2026, 3, 8, 2, 30, tzinfo=NEW_YORK, fold=0)),  # skipped
    ("2026-11-01 01:30:00 America/New_York", datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=1)),  # repeated
    ("2026-03-29 02:30:00 Europe/Berlin", datetime(2026, 3, 29, 2, 30, tzinfo=BERLIN, fold=0)),
    ("2026-10-25 02:30:00 Europe/Berlin", datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1)),
    ("2026-04-05 02:30:00 Australia/Sydney", datetime(2026, 4, 5, 2, 30, tzinfo=SYDNEY, fold=1)),
    ("2026-10-04 02:30:00 Australia/Sydney", datetime(2026, 10, 4, 2, 30, tzinfo=SYDNEY, fold=0)),
    ("2026-03-01T12:34:56.789 Asia/Kolkata", datetime(2026, 3, 1, 12, 34, 56, 789000, tzinfo=ZoneInfo("Asia/Kolkata"))),
    ("2026-03-01 00:00 America/St_Johns", datetime(2026, 3, 1, tzinfo=ZoneInfo("America/St_Johns"))),
    ("2026-03-01 00:00:00 Etc/GMT+5", datetime(2026, 3, 1, 5, tzinfo=UTC)),  # POSIX sign: GMT+5 is UTC-5
    ("2026-03-01 00:00:00 UTC", datetime(2026, 3, 1, tzinfo=UTC)),
    ("2026-03-01 00:00:00 GMT", datetime(2026, 3, 1, tzinfo=UTC)),
    ("2026-03-01 00:00:00 Etc/UTC", datetime(2026, 3, 1, tzinfo=UTC)),
    ("2026-07-01 00:00:00 Europe/London", datetime(2026, 7, 1, tzinfo=ZoneInfo("Europe/London"))),  # BST, UTC+1
    ("2026-03-01 00:00:00 US/Eastern", datetime(2026, 3, 1, tzinfo=ZoneInfo("US/Eastern"))),
    ("2026-03-01 00:00 America/Argentina/Buenos_Aires", datetime(2026, 3, 1, tzinfo=ZoneInfo("America/Buenos_Aires"))),
    ("2026-03-01 00:00 America/Port-au-Prince", datetime(2026, 3, 1, tzinfo=ZoneInfo("America/Port-au-Prince"))),
    ("2026-03-01 00:00:00 Etc/GMT-14", datetime(2026, 2, 28, 10, tzinfo=UTC)),
    ("2026-03-01T00:00:00+23:59", datetime(2026, 3, 1, tzinfo=timezone(timedelta(hours=23, minutes=59)))),
    ("2026-03-01T00:00:00-2359", datetime(2026, 3, 1, tzinfo=timezone(-timedelta(hours=23, minutes=59)))),
    ("2026-03-01 00:00:00+05:30", datetime(2026, 3, 1, tzinfo=timezone(timedelta(hours=5, minutes=30)))),
    ("2026-03-01T00:00:00-0330", datetime(2026, 3, 1, tzinfo=timezone(-timedelta(hours=3, minutes=30)))),
    ("2026-03-01T00:00:00.5+05", datetime(2026, 3, 1, 0, 0, 0, 500000, tzinfo=timezone(timedelta(hours=5)))),
    ("2026-03-01T23:30:00Z", datetime(2026, 3, 1, 23, 30, tzinfo=UTC)),
    ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
    ("2026-03-01 10:15", datetime(2026, 3, 1, 10, 15, tzinfo=UTC)),
    ("2026-03-01T10:15:30.25", datetime(2026, 3, 1, 10, 15, 30, 250000, tzinfo=UTC)),
    (date(2026, 3, 1), datetime(2026, 3, 1, tzinfo=UTC)),
    (datetime(2026, 3, 1, 10, 15), datetime(2026, 3, 1, 10, 15, tzinfo=UTC)),  # TIMESTAMP
    (datetime(2026, 3, 1, 10, tzinfo=NEW_YORK), datetime(2026, 3, 1, 15, tzinfo=UTC)),  # TIMESTAMPTZ
    (None, None),
]
# Strings utc_instant must refuse rather than misread (a date with a zone but no time; an unknown zone; a space
# before an offset; other layouts).
UNREADABLE = [
    "2026-03-01 America/New_York",
    "2026-03-01 00:00:00 Mars/Olympus",
    "2026-03-01 00:00:00 Europe/Atlantis",
    "2026-02-30",
    "2026-02-29 00:00",
    "2026-13-01T00:00Z",
    "2026-04-31 10:00:00+02:00",
    "2026-00-10 10:00 Europe/London",
    "0000-01-01",
    "0000-12-31T23:00:00Z",
    "2026-03-01 00:00:00 +05:30",
    "2026-3-1",
    "03/01/2026 00:00",
    "yesterday",
]
# Zone spellings DuckDB's ICU reads its own way (BST is Asia/Dhaka, IST India, GMT+5 five hours east, Etc/Unknown
# UTC) and offsets beyond ±23:59: utc_instant must refuse them itself, not hand them to ICU.
AMBIGUOUS = [
    f"2026-03-01 00:00:00{zone}"
    for zone in [
        " BST",
        " IST",
        " EST",
        " CET",
        " PST8PDT",
        " GMT+5",
        " UTC+5",
        " utc",
        " Etc/Unknown",
        " SystemV/AST4",
        "+24:00",
        "+23:60",
        "-2400",
        "+24",
        "+99:99",
    ]
]
# Times of day outside hh 00-23, mm 00-59, ss 00-59: DuckDB's cast reads hour 24 as the next midnight (with or
# without a zone) and refuses minute or second 60 with its own conversion error; utc_instant must refuse them all
# itself. A leap second (:60) is refused too: the lake reads one as :59.999999, and a window bound there would split it.
OUT_OF_RANGE = [
    f"2026-03-01{t}{time}{zone}"
    for t, time, zone in itertools.product(
        "T ",
        ["24:00", "24:00:00", "24:00:00.000", "25:00:00", "23:60", "23:60:00", "23:59:60", "23:59:60.5", "23:59:61"],
        ["", "Z", "+00:00", "-0330", " UTC", " Europe/London"],
    )
]
SESSION_ZONES = ["UTC", "Asia/Tokyo", "America/St_Johns"]


@pytest.fixture(scope="module")
def macros() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("create table runs (created_at timestamptz, anomalies varchar[])")  # the macros bind runs
    connection.execute(macro_sql())
    return connection


@pytest.mark.parametrize("session_zone", SESSION_ZONES)
def test_utc_instant_reads_every_documented_spelling(macros: duckdb.DuckDBPyConnection, session_zone: str) -> None:
    macros.execute(f"set TimeZone = '{session_zone}'")
    for value, expected in INSTANTS:
        # compared as naive UTC: Python's == between zones is False for any time in a fold or gap (PEP 495)
        instant = macros.execute("select timezone('UTC', utc_instant(?))", [value]).fetchone()
        assert instant == (None if expected is None else expected.astimezone(UTC).replace(tzinfo=None),), value
    # a literal, as an ad-hoc query writes it
    [(instant,)] = macros.execute("select utc_instant('2026-03-01 00:00:00 America/New_York')").fetchall()
    assert instant == datetime(2026, 3, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize("session_zone", SESSION_ZONES)
def test_utc_instant_refuses_what_it_cannot_read(macros: duckdb.DuckDBPyConnection, session_zone: str) -> None:
    """Other layouts, and days or zone names that do not exist (DuckDB's cast errors named neither)."""
    assert_refused_by_name(macros, session_zone, UNREADABLE)


def assert_refused_by_name(macros: duckdb.DuckDBPyConnection, session_zone: str, values: list[str]) -> None:
    """utc_instant refuses each value with its own error, which names the value (not DuckDB's or ICU's)."""
    macros.execute(f"set TimeZone = '{session_zone}'")
    for value in values:
        with pytest.raises(
            duckdb.InvalidInputException,
            match="^Invalid Input Error: utc_instant cannot read " + re.escape(f"'{value}'"),
        ):
            macros.execute("select utc_instant(?)", [value]).fetchall()


@pytest.mark.parametrize("session_zone", SESSION_ZONES)
def test_utc_instant_refuses_abbreviations_and_offsets_beyond_23_59(
    macros: duckdb.DuckDBPyConnection, session_zone: str
) -> None:
    assert_refused_by_name(macros, session_zone, AMBIGUOUS)


@pytest.mark.parametrize("session_zone", SESSION_ZONES)
def test_utc_instant_refuses_hour_24_and_minute_or_second_60(
    macros: duckdb.DuckDBPyConnection, session_zone: str
) -> None:
    assert_refused_by_name(macros, session_zone, OUT_OF_RANGE)
    # the last moment of the day it reads
    [(instant,)] = macros.execute("select timezone('UTC', utc_instant('2026-03-01 23:59:59.999999Z'))").fetchall()
    assert instant == datetime(2026, 3, 1, 23, 59, 59, 999999)
