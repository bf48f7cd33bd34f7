"""The baselines runlens ingest is compared with, run on the same files.

- A: per record ``json.loads`` + Python ``jsonschema`` (``Draft202012Validator`` with ``FORMAT_CHECKER``), every
  violation collected; no typing and no Parquet, so A does less work than runlens. Run on the first records only.
- B: DuckDB ``copy (select * from read_ndjson(file, ignore_errors=true)) to 'x.parquet'`` (``read_json`` with
  ``format='array'`` for a JSON array): no validation, and malformed records are dropped or nulled silently.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import jsonschema
from runlens import db

CHUNK_CHARS = 4 * 2**20
SEPARATORS = " \t\r\n,"
DUCKDB_READERS = {
    "lines": "read_ndjson({}, ignore_errors=true)",
    "array": "read_json({}, format='array', ignore_errors=true)",
}


def ndjson_records(path: Path) -> Iterator[bytes]:
    """The non-blank lines of an NDJSON file (gzipped or not), read line by line."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        yield from (line for line in handle if line.strip())


def array_items(path: Path) -> Iterator[Any]:
    """The items of a top-level JSON array, parsed one by one from a sliding text buffer (never the whole file)."""
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8") as handle:
        text = handle.read(CHUNK_CHARS)
        pos = text.index("[") + 1
        while True:
            while pos < len(text) and text[pos] in SEPARATORS:
                pos += 1
            if pos < len(text) and text[pos] == "]":
                return
            try:
                item, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError:
                more = handle.read(CHUNK_CHARS)
                if not more:
                    raise
                text, pos = text[pos:] + more, 0
                continue
            yield item


def baseline_a(path: Path, layout: str, schema: dict[str, Any], sample: int) -> dict[str, Any]:
    """Parse and validate the first ``sample`` records: seconds, records read, records invalid."""
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    validator = jsonschema.Draft202012Validator(schema, format_checker=checker)
    start = time.perf_counter()
    read = invalid = 0
    if layout == "array":
        records: Iterator[Any] = islice(array_items(path), sample)
    else:
        records = islice(ndjson_records(path), sample)
    for record in records:
        read += 1
        if layout != "array":
            try:
                record = json.loads(record)
            except ValueError:
                invalid += 1
                continue
        errors = list(validator.iter_errors(record))
        invalid += bool(errors)
    seconds = time.perf_counter() - start
    checks_date_time = "date-time" in checker.checkers
    return {"seconds": seconds, "records": read, "invalid": invalid, "date_time_checked": checks_date_time}


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def baseline_b(path: Path, layout: str, out: Path) -> dict[str, Any]:
    """DuckDB's reader straight into Parquet: seconds, and the rows and columns it wrote."""
    source = DUCKDB_READERS[layout].format(sql_string(str(path)))
    copy = f"copy (select * from {source}) to {sql_string(str(out))} (format parquet)"
    with db.connect() as con:
        con.execute("set enable_progress_bar = false")
        start = time.perf_counter()
        con.execute(copy)
        seconds = time.perf_counter() - start
        written = con.execute("select count(*) from read_parquet($p)", {"p": str(out)}).fetchall()
        columns = con.execute("describe select * from read_parquet($p)", {"p": str(out)}).fetchall()
    return {"seconds": seconds, "rows_written": written[0][0], "columns": [row[0] for row in columns]}
