"""Settings from the environment: a value runlens cannot use stops every command before it touches anything, with one
line naming the variable, not an internal error (a review found "invalid literal for int()" and, for 0 or -1,
every record quarantined and the files marked ingested for good)."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from conftest import CliRunner
from runlens.config import Settings, sql_command

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


# Found by a mutation audit of config.py: a default other than the README's, a threshold of 0 refused, RUNLENS_DATA_DIR
# taking precedence over --data-dir, and a hint's folder left unquoted all went unseen.

README = Path(__file__).resolve().parents[1] / "README.md"
UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def documented_defaults() -> dict[str, str]:
    """The README's configuration table: each variable with a row of its own -> its default, as written there."""
    rows = re.findall(r"^\| `(RUNLENS_[A-Z_]+)` \| ([^|]+) \|", README.read_text(), flags=re.MULTILINE)
    return {name: default.strip() for name, default in rows}


def test_unset_settings_take_the_defaults_the_readme_gives(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    documented = documented_defaults()

    def size(text: str) -> int:
        number, unit = text.split()
        return int(number) * UNITS[unit]

    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env()
    limits = settings.limits
    assert limits.max_record_bytes == size(documented["RUNLENS_MAX_RECORD_BYTES"])
    assert limits.max_decompressed_bytes == size(documented["RUNLENS_MAX_DECOMPRESSED_BYTES"])
    assert limits.max_nesting_depth == int(documented["RUNLENS_MAX_NESTING_DEPTH"])
    assert documented["RUNLENS_INGEST_WORKERS"] == "CPU count" and limits.ingest_workers == os.cpu_count()
    assert settings.quarantine_rate_threshold == float(documented["RUNLENS_QUARANTINE_RATE_THRESHOLD"])
    assert documented["RUNLENS_DATA_DIR"] == "`./data`" and settings.data_dir == tmp_path.resolve() / "data"


def test_a_quarantine_threshold_of_zero_is_taken(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """README: "the threshold a number from 0 to 1"; 0 warns of any quarantined record."""
    monkeypatch.setenv("RUNLENS_QUARANTINE_RATE_THRESHOLD", "0")
    assert Settings.from_env().quarantine_rate_threshold == 0.0


def test_the_data_directory_given_is_used_even_when_runlens_data_dir_names_another(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLENS_DATA_DIR", str(tmp_path / "from-env"))
    given = Settings.from_env(tmp_path / "given")
    assert (given.data_dir, given.exports_dir) == (tmp_path / "given", tmp_path / "given" / "exports")
    assert Settings.from_env().data_dir == tmp_path / "from-env"


def test_a_sql_hint_for_a_data_directory_with_spaces_pastes_as_one_argument(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = (tmp_path / "my data; rm -rf x").resolve()
    hint = sql_command("select 1", folder)
    assert shlex.split(hint) == ["runlens", "sql", "select 1", "--data-dir", str(folder)]


def test_a_new_data_directory_gets_its_exports_folder_and_one_set_elsewhere_is_left_alone(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`runlens run` on a new data directory said "drop exports into <data>/exports", a folder it had not made (found
    by the seventeenth session's review). It is made now; a RUNLENS_EXPORTS_DIR that does not exist is not, so a
    mistyped path stays visible, nor is the missing target of a link standing where exports/ goes."""
    from runlens.pipeline import make_data_dir

    make_data_dir(Settings.from_env(tmp_path / "new" / "data"))
    assert (tmp_path / "new" / "data" / "exports").is_dir()
    monkeypatch.setenv("RUNLENS_EXPORTS_DIR", str(tmp_path / "typo"))
    make_data_dir(Settings.from_env(tmp_path / "other"))
    assert (
        (tmp_path / "other").is_dir()
        and not (tmp_path / "typo").exists()
        and not (tmp_path / "other" / "exports").exists()
    )
    monkeypatch.delenv("RUNLENS_EXPORTS_DIR")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "exports").symlink_to(tmp_path / "gone")
    make_data_dir(Settings.from_env(tmp_path / "linked"))
    assert (tmp_path / "linked" / "exports").is_symlink() and not (tmp_path / "gone").exists()
