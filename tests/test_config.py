"""Settings from the environment: a value runlens cannot use stops every command before it touches anything, with one
line naming the variable, not an internal error (a review found "invalid literal for int()" and, for 0 or -1,
every record quarantined and the files marked ingested for good)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CliRunner

BAD = [
    ("RUNLENS_MAX_RECORD_BYTES", "abc"),
    ("RUNLENS_MAX_RECORD_BYTES", "0"),
    ("RUNLENS_MAX_DECOMPRESSED_BYTES", "64MiB"),
    ("RUNLENS_MAX_NESTING_DEPTH", "-1"),
    ("RUNLENS_INGEST_WORKERS", "1.5"),
    ("RUNLENS_QUARANTINE_RATE_THRESHOLD", "nan"),
    ("RUNLENS_QUARANTINE_RATE_THRESHOLD", "-1"),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v}" for n, v in BAD])
def test_unusable_settings_stop_the_run_with_the_variable_named(
    tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    exports = tmp_path / "data" / "exports"
    exports.mkdir(parents=True)
    (exports / "a.jsonl").write_text('{"runId": "run_a", "workflowName": "w", "status": "queued"}\n')
    monkeypatch.setenv(name, value)
    result = run_cli("run", "--data-dir", tmp_path / "data")
    assert result.code == 2
    assert result.err.startswith(f"runlens: error: {name}={value!r}: expected") and "internal" not in result.err
    assert not (tmp_path / "data" / "lake").exists(), "nothing was ingested under the unusable setting"


def test_settings_in_range_are_taken(run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    from runlens.config import Settings

    monkeypatch.setenv("RUNLENS_MAX_NESTING_DEPTH", "7")
    monkeypatch.setenv("RUNLENS_QUARANTINE_RATE_THRESHOLD", "1")
    settings = Settings.from_env()
    assert (settings.limits.max_nesting_depth, settings.quarantine_rate_threshold) == (7, 1.0)


@pytest.mark.parametrize(
    "where", ["RUNLENS_EXPORTS_DIR=lake", "RUNLENS_EXPORTS_DIR=lake/incoming", "RUNLENS_LAKE_DIR=."]
)
def test_an_exports_folder_inside_the_lake_is_refused(
    tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Discovery skips the lake's own files, so exports inside the lake would be skipped without a word."""
    data = tmp_path / "data"
    name, place = where.split("=")
    monkeypatch.setenv(name, str(data / place))
    result = run_cli("run", "--data-dir", data)
    assert result.code == 2
    assert result.err.startswith("runlens: error: the exports folder ") and "is inside the lake" in result.err


@pytest.mark.parametrize("where", ["--data-dir", "RUNLENS_WAREHOUSE"])
def test_a_question_mark_in_a_database_path_is_refused(
    tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """DuckDB opened `q?x/warehouse.duckdb` with its WAL at `q.wal?x/...` and Dagster's SQLite storage under
    `q?x/.dagster` had no tables: `runlens run` failed with an internal error. Such a path is refused in one line."""
    data = tmp_path / ("q?x" if where == "--data-dir" else "data")
    if where == "RUNLENS_WAREHOUSE":
        monkeypatch.setenv(where, str(tmp_path / "w?h.duckdb"))
    result = run_cli("run", "--data-dir", data)
    assert result.code == 2
    assert result.err.startswith("runlens: error: the ") and "holds a '?'" in result.err
    assert result.err.count("\n") == 1 and not data.exists()
