"""Bad setup and odd use of the command line: one line naming what to fix, exit code 2, never an internal error; and
a warehouse that does not describe this data directory's lake is rebuilt (these were found by a review)."""

from __future__ import annotations

import errno
import gzip
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import CliResult, CliRunner, file_stamps
from runlens import readers
from runlens.config import PROJECT_DIR
from runlens.warehouse import connect_readonly

RUN = b'{"runId": "run_%d", "workflowName": "w", "status": "completed", "createdAt": "2026-11-01T10:00:00Z"}\n'


def exports(data: Path, count: int = 3) -> None:
    (data / "exports").mkdir(parents=True, exist_ok=True)
    (data / "exports" / "a.jsonl").write_bytes(b"".join(RUN % i for i in range(count)))


def user_error(result: CliResult, text: str) -> None:
    assert result.code == 2, result
    assert result.err.startswith("runlens: error:") and text in result.err, result.err
    assert "internal error" not in result.err


def runs_in(data: Path) -> int:
    with connect_readonly(data / "warehouse.duckdb") as con:
        [(count,)] = con.execute("select count(*) from runs").fetchall()
    return count


def test_moved_or_broken_warehouse_is_rebuilt_for_this_lake(tmp_path: Path, run_cli: CliRunner) -> None:
    """The warehouse's views hold absolute paths: after the data directory moved, and after the warehouse file was
    overwritten with garbage, the next run rebuilds it over this lake (it failed, or read the old directory)."""
    first, moved = tmp_path / "first", tmp_path / "moved"
    exports(first)
    assert run_cli("run", "--data-dir", first).code == 0
    shutil.move(first, moved)
    assert run_cli("run", "--data-dir", moved).code == 0
    assert runs_in(moved) == 3
    copy = tmp_path / "copy"
    shutil.copytree(moved, copy)
    shutil.rmtree(moved / "lake" / "runs")  # the copy's warehouse must not read the original's runs
    (copy / "warehouse.duckdb").write_bytes(b"garbage")
    user_error(run_cli("sql", "select 1", "--data-dir", copy), "runlens run` rebuilds it")
    assert run_cli("run", "--data-dir", copy).code == 0
    assert runs_in(copy) == 3


def test_a_warehouse_built_by_an_earlier_runlens_is_rebuilt_by_the_next_run(tmp_path: Path, run_cli: CliRunner) -> None:
    """A warehouse written before newest_created_at() existed made `runlens report` fail with an internal error, and
    `runlens run` kept it while no new export came (found by a review). Its mark names no format: `runlens sql` and
    `runlens report` refuse it in one line, and the next `runlens run` rebuilds it."""
    data = tmp_path / "d"
    exports(data)
    assert run_cli("run", "--data-dir", data).code == 0
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:  # as the eleventh session's runlens left it
        con.execute("drop macro newest_created_at")
        con.execute(f"comment on view ingest_log is 'runlens lake: {(data / 'lake').resolve()}'")
    for command in (["sql", "select 1"], ["report", "--out", str(tmp_path / "r.html")]):
        result = run_cli(*command, "--data-dir", data)
        user_error(result, "was built by an earlier version of runlens")
        assert f"`runlens run --data-dir {data.resolve()}` rebuilds it" in result.err, result.err
    rerun = run_cli("run", "--data-dir", data)
    assert rerun.code == 0 and "0 new export file(s) ingested" in rerun.out, rerun.out
    assert run_cli("sql", "select newest_created_at()", "--data-dir", data).code == 0


def test_sql_edge_cases(tmp_path: Path, run_cli: CliRunner) -> None:
    exports(tmp_path / "d")
    assert run_cli("run", "--data-dir", tmp_path / "d").code == 0
    user_error(run_cli("sql", "  ", "--data-dir", tmp_path / "d"), "the query is empty")
    assert run_cli("sql", "-- only a comment", "--data-dir", tmp_path / "d").code == 0
    # --max-rows N shows N of the rows, 40 without it (ignored, or another default, went unseen: a mutation audit)
    for arguments, shown in ((["--max-rows", "5"], 5), ([], 40)):
        result = run_cli("sql", "select * from range(100)", *arguments, "--data-dir", tmp_path / "d")
        assert result.code == 0 and f"100 rows \n  ({shown} shown)" in result.out, result.out
    with pytest.raises(SystemExit) as stopped:
        run_cli("sql", "select 1", "--max-rows", "0", "--data-dir", tmp_path / "d")
    assert stopped.value.code == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["sql", "select 1", "--max-rows", "abc"],
            "argument --max-rows: expected a whole number of at least 1, got abc",
        ),
        (["report", "--since", "2026-13-01"], "argument --since: expected a date, YYYY-MM-DD, got 2026-13-01"),
        (["report", "--until", "soon"], "argument --until: expected a date, YYYY-MM-DD, got soon"),
    ],
)
def test_a_malformed_row_count_or_date_is_refused_in_words(
    tmp_path: Path, run_cli: CliRunner, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    """The usage and one line in words, exit 2; it named Python's functions ("invalid _at_least_one value",
    "invalid fromisoformat value": found by a review as a new user)."""
    with pytest.raises(SystemExit) as stopped:
        run_cli(*arguments, "--data-dir", tmp_path / "d")
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"runlens {arguments[0]}: error: {message}"


def test_runlens_sql_refuses_a_statement_that_would_write_into_the_lake_or_the_warehouse(
    tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`runlens sql` opens the warehouse read-only, but DuckDB's COPY ... TO, EXPORT DATABASE and ATTACH write files
    anywhere: a file in a runs partition is read as part of runs, and COPY with OVERWRITE to the data directory
    empties it, lake and all. Every spelling of a target DuckDB accepts is computed and refused before anything runs
    when it is the lake, inside it, the warehouse, or a folder holding either; nothing under lake/ changes."""
    data = (tmp_path / "d").resolve()
    exports(data)
    assert run_cli("run", "--data-dir", data).code == 0
    lake, before, top = data / "lake", file_stamps(data / "lake"), sorted(p.name for p in data.iterdir())
    monkeypatch.chdir(lake)  # relative targets are the working folder's
    (tmp_path / "link").symlink_to(lake)
    refused = {
        f"copy (select 1) to '{lake}/runs/x.parquet'": (1, f"{lake}/runs/x.parquet", "is the lake or lies inside"),
        "copy (select 1) to '../lake/rel.csv'": (1, f"{lake}/rel.csv", "is the lake or lies inside"),
        f"copy (select 1) to ('{lake}' || '/concat.csv')": (1, f"{lake}/concat.csv", "is the lake or lies inside"),
        'copy (select 1) to "quo""ted.csv"': (1, f'{lake}/quo"ted.csv', "is the lake or lies inside"),
        f"copy (select 1) to '{tmp_path}/link/symlinked.csv'": (
            1,
            f"{lake}/symlinked.csv",
            "is the lake or lies inside",
        ),
        "copy (select 1) to E'escaped.csv'": (1, f"{lake}/escaped.csv", "is the lake or lies inside"),
        "copy (select 1) to $$dollar.csv$$": (1, f"{lake}/dollar.csv", "is the lake or lies inside"),
        f"copy (select 1) to 'file://{lake}/uri.csv'": (1, f"{lake}/uri.csv", "is the lake or lies inside"),
        f"copy (select 1) to '{lake}'": (1, str(lake), "is the lake or lies inside"),
        "export database 'exported'": (1, f"{lake}/exported", "is the lake or lies inside"),
        "attach if not exists 'attached.db' as a": (1, f"{lake}/attached.db", "is the lake or lies inside"),
        f"set variable target = '{lake}/variable.csv'; copy (select 1) to (getvariable('target'))": (
            2,
            f"{lake}/variable.csv",
            "is the lake or lies inside",
        ),
        f"copy (select 1 as a, 2 as b) to '{data}' (format parquet, partition_by (a), overwrite)": (
            1,
            str(data),
            "holds the lake",
        ),
        "copy (select 1) to '../warehouse.duckdb'": (1, f"{data}/warehouse.duckdb", "is or holds the warehouse"),
        "copy (select 1) to stderr": (1, f"{lake}/stderr", "is the lake or lies inside"),  # a file named stderr
    }
    for query, (number, path, relation) in refused.items():
        result = run_cli("sql", query, "--data-dir", data)
        user_error(result, f"refused, statement {number} (")
        assert f"it would write {path}, which {relation}" in result.err, (query, result.err)
    cannot = run_cli("sql", "copy (select 'x' as name) to (name || '.csv')", "--data-dir", data)
    user_error(cannot, "cannot compute the file name (name || '.csv') on its own")
    assert file_stamps(lake) == before
    assert sorted(p.name for p in data.iterdir()) == top  # the relative targets were not written either


def test_runlens_sql_writes_files_outside_the_lake_and_runs_statements_in_order(
    tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the guard against writing into the lake must not stop: a COPY to a file elsewhere, one whose name an
    earlier statement of the same query set, several statements of which the last one's rows are shown, and a COPY
    TO STDOUT, no file even when the working folder is inside the lake."""
    data = tmp_path / "d"
    exports(data, count=5)
    assert run_cli("run", "--data-dir", data).code == 0
    out, named = tmp_path / "out" / "runs.csv", tmp_path / "named.csv"
    out.parent.mkdir()
    assert run_cli("sql", f"copy (select count(*) as n from runs) to '{out}'", "--data-dir", data).code == 0
    assert out.read_text().splitlines() == ["n", "5"]
    query = f"set variable target = '{named}'; copy (select 7 as seven) to (getvariable('target'))"
    assert run_cli("sql", query, "--data-dir", data).code == 0
    assert named.read_text().splitlines() == ["seven", "7"]
    shown = run_cli("sql", "select 1 as first_one; select 2 as second_one", "--data-dir", data)
    assert shown.code == 0 and "second_one" in shown.out and "first_one" not in shown.out, shown.out
    monkeypatch.chdir(data / "lake")
    assert run_cli("sql", "copy (select 1) to stdout", "--data-dir", data).code == 0
    assert not (data / "lake" / "stdout").exists()


def test_a_warehouse_another_process_writes_is_a_user_error_that_says_so(tmp_path: Path, run_cli: CliRunner) -> None:
    """A DuckDB client holding the warehouse open for writing: `runlens report` failed with an internal error (a
    traceback hint) and `runlens sql` said `runlens run` rebuilds it, which does not help (found by a review)."""
    exports(tmp_path / "d")
    assert run_cli("run", "--data-dir", tmp_path / "d").code == 0
    holder = "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(300)"
    with subprocess.Popen(
        [sys.executable, "-c", holder, str(tmp_path / "d" / "warehouse.duckdb")], stdout=subprocess.PIPE, text=True
    ) as writer:
        try:
            assert writer.stdout is not None and writer.stdout.readline() == "open\n"
            for command in (["sql", "select 1"], ["report", "--out", str(tmp_path / "r.html")]):
                result = run_cli(*command, "--data-dir", tmp_path / "d")
                user_error(result, "another process has it open for writing")
                assert "`runlens run` rebuilds it" not in result.err and result.err.count("\n") == 1, result.err
        finally:
            writer.kill()


def test_a_copied_data_directory_is_not_queried_through_the_originals_lake(tmp_path: Path, run_cli: CliRunner) -> None:
    """The warehouse's views hold absolute paths: in a copy of a data directory, `runlens sql` and `runlens report`
    read the original's lake, silently (found by a review). They refuse until `runlens run` rebuilds it."""
    exports(tmp_path / "d")
    assert run_cli("run", "--data-dir", tmp_path / "d").code == 0
    shutil.copytree(tmp_path / "d", tmp_path / "copy")
    (tmp_path / "link").symlink_to(tmp_path / "d")  # the same folder by another path is not a copy
    assert run_cli("sql", "select count(*) from runs", "--data-dir", tmp_path / "link").code == 0
    for command in (["sql", "select count(*) from runs"], ["report", "--out", str(tmp_path / "r.html")]):
        result = run_cli(*command, "--data-dir", tmp_path / "copy")
        user_error(result, f"reads the lake at {(tmp_path / 'd' / 'lake').resolve()}, not this data directory's")
        assert f"`runlens run --data-dir {(tmp_path / 'copy').resolve()}`" in result.err, result.err
    assert run_cli("run", "--data-dir", tmp_path / "copy").code == 0
    assert run_cli("sql", "select count(*) from runs", "--data-dir", tmp_path / "copy").code == 0


def test_a_data_directory_moved_and_linked_back_from_its_old_path_is_the_same_lake(
    tmp_path: Path, run_cli: CliRunner
) -> None:
    """d moved to d2, and d made a link to d2: the warehouse names d/lake, a path that differs from d2/lake as text
    but is the same folder, so `runlens sql --data-dir d2` reads it (the symbolic link above goes the other way, and
    Settings resolves it before the comparison: comparing paths as text went unseen, found by a mutation audit)."""
    exports(tmp_path / "d")
    assert run_cli("run", "--data-dir", tmp_path / "d").code == 0
    (tmp_path / "d").rename(tmp_path / "d2")
    (tmp_path / "d").symlink_to(tmp_path / "d2", target_is_directory=True)
    assert runs_in(tmp_path / "d2") == 3
    result = run_cli("sql", "select count(*) * 1000 + 7 as n from runs", "--data-dir", tmp_path / "d2")
    assert result.code == 0 and "3007" in result.out, result


def test_unusable_paths_and_arguments_are_user_errors(
    tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a_file").write_text("")
    user_error(run_cli("run", "--data-dir", tmp_path / "a_file"), "a_file")
    user_error(run_cli("generate", "--out", tmp_path / "g", "--runs", "-5"), "runs must be >= 0")
    exports(tmp_path / "d")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "missing"))
    user_error(run_cli("run", "--data-dir", tmp_path / "d"), "DAGSTER_HOME")


def test_a_relative_dagster_home_is_a_user_error(
    tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DAGSTER_HOME must name an existing folder by its full path: a relative one, even of a folder that exists here,
    would point elsewhere once Dagster runs from another directory."""
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", "home")
    user_error(run_cli("dagster-home", "--data-dir", tmp_path / "d"), "full path")


def test_the_data_directorys_dagster_yaml_follows_the_projects(
    data_dir: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: without DAGSTER_HOME the instance is `<data dir>/.dagster` with this project's dagster.yaml; a copy
    left by an earlier version is replaced, so a changed dagster.yaml (run monitoring, pools) takes effect."""
    monkeypatch.delenv("DAGSTER_HOME")
    stale = data_dir / ".dagster" / "dagster.yaml"
    stale.parent.mkdir()
    stale.write_text("telemetry:\n  enabled: true\n")
    result = run_cli("dagster-home", "--data-dir", data_dir)
    assert (result.code, Path(result.out.strip()).resolve()) == (0, stale.parent.resolve()), result
    assert stale.read_bytes() == (PROJECT_DIR / "dagster.yaml").read_bytes()


def test_validate_fails_for_a_file_read_only_in_part(tmp_path: Path, run_cli: CliRunner) -> None:
    """Every record it could read is valid, but the gzip stream is cut: not a clean bill of health (it exited 0)."""
    content = gzip.compress(b"".join(RUN % i for i in range(200)), mtime=0)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(content[:-8])
    result = run_cli("validate", path)
    assert result.code == 1 and "1 file(s) not read whole (see above)" in result.err


def test_validate_names_a_file_it_cannot_open_and_checks_the_next_ones(
    tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file without read permission stopped `runlens validate` with exit 2 (PermissionError), so the files after it
    were never checked (found by a review): it is named with the reason, the next files are checked, and the exit
    code is 1. The tests run as root, who may read any file: opening it is made to fail."""
    (tmp_path / "a.jsonl").write_bytes(RUN % 1)
    (tmp_path / "locked.jsonl").write_bytes(RUN % 2)
    (tmp_path / "c.jsonl").write_bytes(RUN % 3 + b'{"runId": "run_4"}\n')
    real_open = open

    def no_permission(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, Path) and file.name == "locked.jsonl":
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(readers, "open", no_permission, raising=False)
    result = run_cli("validate", *(tmp_path / name for name in ("a.jsonl", "locked.jsonl", "c.jsonl")))
    assert result.code == 1, result
    assert f"{tmp_path / 'locked.jsonl'}: Permission denied\n" in result.err, result.err
    assert result.out.startswith(f"{tmp_path / 'c.jsonl'}:2: record 1: $"), result.out
    assert result.err.endswith("\n3 record(s) checked, 1 invalid, 1 file(s) not read (see above)\n"), result.err


def test_validate_counts_a_file_whose_reading_failed_part_way_as_not_read_whole(
    tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read error once some of a file's records were checked (an I/O error part way through; here after its first
    kilobyte, read in chunks of a kilobyte): named with the reason, and counted as a file not read whole, not as one
    not read at all (counted so went unseen: found by a mutation audit)."""
    content = b"".join(RUN % i for i in range(40))
    path = tmp_path / "a.jsonl"
    path.write_bytes(content)
    monkeypatch.setattr(readers, "CHUNK_BYTES", 1024)
    monkeypatch.setattr(readers, "LINE_END_HEAD_BYTES", 1024)
    real_open = open

    class FailsAfterOneRead:
        def __init__(self, handle: Any) -> None:
            self.handle, self.reads = handle, 0

        def read(self, size: int = -1) -> bytes:
            self.reads += 1
            if self.reads > 1:
                raise OSError(errno.EIO, "Input/output error")
            return self.handle.read(size)

        def __enter__(self) -> FailsAfterOneRead:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

    def failing(file: Any, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(file, *args, **kwargs)
        return FailsAfterOneRead(handle) if isinstance(file, Path) and file.name == "a.jsonl" else handle

    monkeypatch.setattr(readers, "open", failing, raising=False)
    result = run_cli("validate", path)
    checked = content[:1024].count(b"\n")  # the whole lines of the first kilobyte
    assert result.code == 1, result
    assert result.err.splitlines() == [
        f"{path}: Input/output error",
        f"{checked} record(s) checked, 0 invalid, 1 file(s) not read whole (see above)",
    ]


def test_validate_says_why_a_path_is_not_read_and_counts_it_apart_from_invalid_records(
    tmp_path: Path, run_cli: CliRunner
) -> None:
    """A missing file, a folder and a .txt file were each `not a readable .json/.jsonl/.ndjson(.gz) file`, counted
    as an invalid record (`0 record(s) checked, 1 invalid`; found by a review): each is named with what is wrong and
    counted as a file not read. So is a device named like an export (here a link to /dev/null): a pipe or a device
    could block the reading or never end (read as an empty export went unseen: found by a mutation audit)."""
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "ok.jsonl").write_bytes(RUN % 1)
    (tmp_path / "null.jsonl").symlink_to(os.devnull)
    names = ("missing.json", "folder.json", "notes.txt", "null.jsonl", "ok.jsonl")
    result = run_cli("validate", *(tmp_path / name for name in names))
    assert (result.code, result.out) == (1, ""), result
    assert result.err.splitlines() == [
        f"{tmp_path / 'missing.json'}: no such file",
        f"{tmp_path / 'folder.json'}: is a folder",
        f"{tmp_path / 'notes.txt'}: not a .json/.jsonl/.ndjson[.gz] file",
        f"{tmp_path / 'null.jsonl'}: not a regular file",
        "1 record(s) checked, 0 invalid, 4 file(s) not read (see above)",
    ]


def test_links_are_listed_as_ignored_and_partition_keys_stay_distinct(tmp_path: Path, run_cli: CliRunner) -> None:
    """A link to a folder of exports was skipped without a word; two names, one holding a newline and one its
    percent-encoding, got one partition key."""
    from runlens.exports import partition_key

    assert partition_key("nl\nx.jsonl") != partition_key("nl%0Ax.jsonl")
    assert partition_key("plain name.jsonl") == "plain name.jsonl"
    elsewhere = tmp_path / "elsewhere"
    exports(elsewhere)
    data = tmp_path / "d"
    exports(data, count=1)
    (data / "exports" / "team").symlink_to(elsewhere / "exports", target_is_directory=True)
    result = run_cli("run", "--data-dir", data)
    assert result.code == 0 and "1 ignored" in result.out and "team" in result.out


@pytest.mark.parametrize("how", ["interrupt", "sigint"])
def test_ctrl_c_that_stops_a_duckdb_query_is_an_interrupt_not_an_internal_error(
    run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """DuckDB turns a Ctrl-C that stops a query into its own error (`RuntimeError: Query interrupted` for SIGINT,
    `InterruptException` for `interrupt()`); the command must still end with `runlens: interrupted` and 130. A
    review hit it in `runlens run`'s summary queries."""
    import duckdb
    from runlens import cli

    def query(_args: object) -> int:
        con = duckdb.connect()
        if how == "sigint":  # what DuckDB 2.0 raises when SIGINT stops a query (seen with os.kill in a subprocess)
            raise RuntimeError("Query interrupted")
        done = threading.Event()

        def interrupt_until_done() -> None:  # once could land before the query starts, on a slow machine
            while not done.wait(0.2):
                con.interrupt()

        threading.Thread(target=interrupt_until_done, daemon=True).start()
        try:
            con.execute("select sum(hash(i)) from range(300000000000) t(i)").fetchall()
        finally:
            done.set()
        return 0

    monkeypatch.setattr(cli, "_sql", query)
    result = run_cli("sql", "select 1")
    assert (result.code, result.err) == (130, "runlens: interrupted\n")


def test_a_sql_hint_names_the_data_directory_unless_runlens_sql_opens_it_without_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`runlens sql` without --data-dir opens $RUNLENS_DATA_DIR, else ./data: the hint leaves the flag out exactly
    then (it left it out for ./data while RUNLENS_DATA_DIR named another folder, which the pasted hint then queried)."""
    from runlens.config import sql_command

    monkeypatch.chdir(tmp_path)
    local = (tmp_path / "data").resolve()
    monkeypatch.delenv("RUNLENS_DATA_DIR", raising=False)
    assert sql_command("select 1", local) == 'runlens sql "select 1"'
    monkeypatch.setenv("RUNLENS_DATA_DIR", str(tmp_path / "elsewhere"))
    assert sql_command("select 1", local) == f'runlens sql "select 1" --data-dir {local}'
    assert sql_command("select 1", (tmp_path / "elsewhere").resolve()) == 'runlens sql "select 1"'
    assert sql_command("select 1", None) == 'runlens sql "select 1"'


def test_report_on_a_lake_without_runs_says_so(tmp_path: Path, run_cli: CliRunner) -> None:
    """Every record quarantined: `runlens run` completes, and the report says the lake holds no runs (it said to run
    `runlens run` first, right after it)."""
    data = tmp_path / "d"
    (data / "exports").mkdir(parents=True)
    (data / "exports" / "bad.jsonl").write_text('{"runId": 5}\n{"runId": 6}\n')
    assert run_cli("run", "--data-dir", data).code == 0
    result = run_cli("report", "--data-dir", data, "--out", tmp_path / "r.html")
    user_error(result, "the lake holds no runs yet")
    assert "1 export file(s) ingested, 2 record(s) read, 2 quarantined" in result.err
    # the hint queries the lake the report was asked about, not ./data (found by a review)
    assert f'(`runlens sql "select * from quarantine" --data-dir {data.resolve()}` shows why)' in result.err
    assert "runlens run` first" not in result.err and result.err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_report_lists_the_workflows_of_a_small_lake_for_an_unknown_name(tmp_path: Path, run_cli: CliRunner) -> None:
    """A lake of 12 workflows, as many as the line lists by name (docs/notebook.md): each is named, sorted (counted
    instead, or listed in a set's order, went unseen: found by a mutation audit)."""
    names = [f"wf-{n:02d}" for n in (7, 3, 11, 0, 9, 1, 5, 10, 2, 8, 4, 6)]
    (tmp_path / "d" / "exports").mkdir(parents=True)
    records = (RUN.replace(b'"w"', f'"{name}"'.encode()) % i for i, name in enumerate(names))
    (tmp_path / "d" / "exports" / "a.jsonl").write_bytes(b"".join(records))
    assert run_cli("run", "--data-dir", tmp_path / "d").code == 0
    result = run_cli("report", "--data-dir", tmp_path / "d", "--workflow", "v", "--out", tmp_path / "r.html")
    listed = ", ".join(f"'{name}'" for name in sorted(names))
    user_error(result, f"unknown workflow 'v': no run in the lake has that name; its workflows are {listed}\n")


@pytest.mark.parametrize(
    ("schema", "where", "problem"),
    [
        ('{"type": 5}', "/type", "5 is not valid under any of the schemas"),
        ('{"properties": {"a/b": {"pattern": "("}}}', "/properties/a~1b/pattern", '"(" is not a "regex"'),
    ],
)
def test_a_schema_that_is_not_json_schema_is_one_line_naming_the_file_and_the_keyword(
    tmp_path: Path, run_cli: CliRunner, schema: str, where: str, problem: str
) -> None:
    """It printed jsonschema's multi-line report (Failed validating "anyOf" ...) without the file's name."""
    exports(tmp_path)
    (tmp_path / "s.json").write_text(schema)
    result = run_cli("validate", tmp_path / "exports" / "a.jsonl", "--schema", tmp_path / "s.json")
    assert result.code == 2
    prefix = f"runlens: error: {tmp_path / 's.json'}: not a valid JSON Schema (draft 2020-12): {problem}"
    assert result.err.startswith(prefix), result.err
    assert result.err.endswith(f" (at {where})\n"), result.err
    assert result.err.count("\n") == 1


def test_a_data_dir_that_is_a_file_is_called_a_file(tmp_path: Path, run_cli: CliRunner) -> None:
    """It said only `File exists`."""
    (tmp_path / "a_file").write_text("")
    user_error(run_cli("run", "--data-dir", tmp_path / "a_file"), f"{tmp_path / 'a_file'}: is a file, not a folder")
    result = run_cli("run", "--data-dir", tmp_path / "a_file" / "d")
    user_error(result, f"{tmp_path / 'a_file' / 'd'}: lies under {tmp_path / 'a_file'}, which is a file, not a folder")
    assert (tmp_path / "a_file").read_text() == ""
