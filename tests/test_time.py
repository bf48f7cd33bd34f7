"""The SQL and numpy conversions of RFC 3339 date-times to UTC against an independent Python conversion
(tests/reference.py), on stamps with upper- and lower-case t and z, offsets, leap seconds and 0-9 fraction
digits."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest
from runlens.config import SQL_DIR
from runlens.fastpath import parse_date_times

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
