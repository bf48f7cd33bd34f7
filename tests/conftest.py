"""Shared fixtures: a temporary data root, the CLI run in process on a temporary Dagster instance, warehouse reads."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from runlens import cli
from runlens.metrics import PARAM_ENV


def pytest_configure(config: pytest.Config) -> None:
    """Tests send Ctrl-C (SIGINT) to the commands they start. A suite started where SIGINT is ignored (in the
    background of a non-interactive shell: `pytest &`) passed that on to those commands, whose Python then never
    raised KeyboardInterrupt, and they ran on until killed; the default is put back for them (and for this process)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


CliRunner = Callable[..., CliResult]


def file_stamps(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (outside ``skip``), by its path relative to ``root``: size and modification time."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if (skip is None or not p.is_relative_to(skip)) and p.is_file()
    }


@pytest.fixture
def dagster_home(tmp_path: Path) -> Iterator[Path]:
    """A fresh, empty Dagster instance folder with telemetry off.

    It lives in RAM (/dev/shm) when the machine has one: the instance's SQLite event log syncs to disk on every
    event, which made each in-process `runlens run` about twice as slow here; it is removed after the test.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        home = Path(tempfile.mkdtemp(prefix="runlens-test-dagster-", dir=shm))
    else:
        home = tmp_path / "dagster_home"
        home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    yield home
    if home.parent == shm:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_metric_params_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Metric parameters set in the caller's shell (RUNLENS_STUCK_RUNS_MIN_AGE_S, ...) would change every refresh."""
    for name in PARAM_ENV.values():
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def isolated_env(dagster_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No RUNLENS_* settings from the caller's shell; DAGSTER_HOME points at a fresh instance folder."""
    for name in [n for n in os.environ if n.startswith("RUNLENS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    return dagster_home


@pytest.fixture
def data_dir(tmp_path: Path, isolated_env: Path) -> Path:
    """A data root with an empty exports/ folder."""
    root = tmp_path / "data"
    (root / "exports").mkdir(parents=True)
    return root


@pytest.fixture
def unlistable(monkeypatch: pytest.MonkeyPatch) -> set[Path]:
    """Folders that cannot be listed, as after `chmod 000` for anyone but root (the tests run as root, who lists any
    folder): ``os.scandir`` of a folder added to the returned set raises PermissionError."""
    locked: set[Path] = set()
    scandir = os.scandir

    def guarded(path: Any = ".") -> Any:
        if isinstance(path, str | bytes | os.PathLike) and Path(os.fsdecode(path)) in locked:
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", guarded)
    return locked


@pytest.fixture
def run_cli(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """``run_cli("run", "--data-dir", ...)``: runlens.cli.main in process; returns its exit code, stdout, stderr."""

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        code = cli.main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def warehouse() -> Iterator[Callable[[Path], duckdb.DuckDBPyConnection]]:
    """Opens ``<data dir>/warehouse.duckdb`` read-only (UTC session); closes what it opened."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def open_readonly(root: Path) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
        con.execute("set TimeZone = 'UTC'")
        opened.append(con)
        return con

    yield open_readonly
    for con in opened:
        con.close()


Fetch = Callable[[duckdb.DuckDBPyConnection, str], list[dict[str, Any]]]


@pytest.fixture
def fetch() -> Fetch:
    """``fetch(con, sql)``: the query's rows as dicts keyed by column name."""

    def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return rows
