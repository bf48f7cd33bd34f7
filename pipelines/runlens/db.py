"""DuckDB connections as runlens opens them.

DuckDB draws a progress bar on stdout for any query that runs longer than two seconds, whether or not stdout is a
terminal; a rebuild over millions of runs would write it into the summary, logs or a piped result of
``runlens sql``. Every connection runlens opens goes through ``connect``, which turns it off.
"""

from __future__ import annotations

from typing import Any

import duckdb


def connect(database: str = ":memory:", *, read_only: bool = False, **config: Any) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection without the progress bar; ``config``: DuckDB settings for the connection. (The bar is
    turned off with SET: a read-only database refuses it as a connection setting.)"""
    con = duckdb.connect(database, read_only=read_only, config=config)
    con.execute("set enable_progress_bar = false")
    return con
