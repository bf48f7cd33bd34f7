"""DuckDB connections: runlens opens them through runlens.db, which keeps DuckDB's progress bar off stdout."""

from __future__ import annotations

import ast
from pathlib import Path

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
