"""DuckDB connections: runlens opens them through runlens.db, which keeps DuckDB's progress bar off stdout."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from runlens import db

ROOT = Path(__file__).resolve().parent.parent


def test_connections_have_no_progress_bar_and_keep_their_settings(tmp_path: Path) -> None:
    with db.connect(threads=1) as con:
        [(bar, threads)] = con.sql(
            "select current_setting('enable_progress_bar'), current_setting('threads')"
        ).fetchall()
    assert (bar, threads) == (False, 1)
    path = tmp_path / "w.duckdb"
    with db.connect(str(path)) as con:
        con.execute("create table t as select 1 as x")
    with db.connect(str(path), read_only=True) as con:
        [(bar, x)] = con.sql("select current_setting('enable_progress_bar'), x from t").fetchall()
    assert (bar, x) == (False, 1)


def test_no_module_opens_duckdb_directly() -> None:
    """Every duckdb.connect in the package and the benchmark is runlens.db.connect's own."""
    direct = []
    for path in sorted([*(ROOT / "pipelines").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "connect"
                and getattr(node.value, "id", None) == "duckdb"
            ):
                direct.append(str(path.relative_to(ROOT)))
    assert direct == ["pipelines/runlens/db.py"]


def test_a_read_only_connection_cannot_change_the_database(tmp_path: Path) -> None:
    """`runlens sql` and `runlens report` open the warehouse read-only: a statement there cannot change it (and
    other readers can open it meanwhile). Survived a mutation audit: reads alone pass on a read-write connection."""
    path = tmp_path / "w.duckdb"
    with db.connect(str(path)) as con:
        con.execute("create table t as select 1 as x")
    with db.connect(str(path), read_only=True) as con, pytest.raises(duckdb.Error, match="read-only"):
        con.execute("drop table t")
    with db.connect(str(path), read_only=True) as con:
        assert con.sql("select x from t").fetchall() == [(1,)]


def test_a_connection_in_a_plain_interpreter_has_no_progress_bar() -> None:
    """Under pytest DuckDB's Python client starts with the bar already off, so the setting read in this process
    cannot tell whether connect turned it off (dropping the SET survived a mutation audit); a plain interpreter, as
    `runlens` runs, starts with it on."""
    setting = "select current_setting('enable_progress_bar')"
    plain = f'import duckdb; print(duckdb.connect().sql("{setting}").fetchall()[0][0])'
    ours = f'from runlens import db; print(db.connect().sql("{setting}").fetchall()[0][0])'
    run = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for code in (plain, ours)
    ]
    assert [result.stdout for result in run] == ["True\n", "False\n"]
