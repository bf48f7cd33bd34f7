"""What `runlens sql` runs and refuses (runlens.adhoc_sql), called directly on an in-memory DuckDB with tmp_path
folders standing for the lake and the warehouse: fast, where test_cli_errors goes through a whole `runlens run`.
Each test here pins a behaviour a mutation of adhoc_sql.py changed without any test failing (a mutation audit)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import file_stamps
from runlens.adhoc_sql import refuse_protected_target, run_statements
from runlens.errors import RunlensError


class Places:
    """A data directory's lake and warehouse, absolute and resolved as Settings gives them, and a folder elsewhere."""

    def __init__(self, root: Path) -> None:
        self.data = (root / "d").resolve()
        self.lake = self.data / "lake"
        self.warehouse = self.data / "warehouse.duckdb"
        self.elsewhere = (root / "elsewhere").resolve()
        (self.lake / "runs").mkdir(parents=True)
        self.elsewhere.mkdir()

    def refusal(self, query: str, warehouse: Path | None = None) -> str:
        """The one-line message `query` is refused with (it fails when the query is not refused)."""
        with duckdb.connect() as con, pytest.raises(RunlensError) as refused:
            run_statements(con, query, self.lake, warehouse or self.warehouse)
        return str(refused.value)

    def checked(self, query: str) -> None:
        """Each statement of `query` passes the guard (none is run)."""
        with duckdb.connect() as con:
            for number, statement in enumerate(duckdb.extract_statements(query), 1):
                refuse_protected_target(con, statement, self.lake, self.warehouse, number)


@pytest.fixture
def places(tmp_path: Path) -> Places:
    return Places(tmp_path)


def test_each_statement_runs_once_and_the_last_ones_rows_are_returned(places: Places) -> None:
    """Statements before the last run to their end once; the last one runs once, as the rows returned (it ran twice
    when the loop ran it too, a sequence then gave 3: a mutation audit)."""
    query = "create temp sequence s; select nextval('s') as n; select nextval('s') as n"
    with duckdb.connect() as con:
        result = run_statements(con, query, places.lake, places.warehouse)
        assert result is not None and result.fetchall() == [(2,)]
        assert con.execute("select currval('s')").fetchall() == [(2,)]


def test_a_refused_statement_is_not_run_nor_any_after_it_while_those_before_it_have_run(places: Places) -> None:
    """Each statement is checked just before it runs: the second of three is refused with the first one's file
    written, the lake untouched and the third not run; the message says the ones before it have run. A refused first
    statement writes nothing (checking after running went unseen, and so did this message: a mutation audit)."""
    first, third = places.elsewhere / "first.csv", places.elsewhere / "third.csv"
    query = (
        f"copy (select 1 as one) to '{first}'; copy (select 2 as two) to '{places.lake}/runs/two.csv'; "
        f"copy (select 3 as three) to '{third}'"
    )
    message = places.refusal(query)
    assert message.startswith("refused, statement 2 (COPY ... TO): the statements before it have run: "), message
    assert first.read_text().splitlines() == ["one", "1"]
    assert not third.exists() and file_stamps(places.lake) == {}
    message = places.refusal(f"copy (select 1) to '{places.lake}/runs/one.csv'; select 1")
    assert message.startswith("refused, statement 1 (COPY ... TO): it would write "), message
    assert file_stamps(places.lake) == {}


def test_a_refusal_names_the_statement_its_kind_the_file_the_protected_place_and_the_fix(
    places: Places, tmp_path: Path
) -> None:
    """The message says which statement (and its kind), the file it would write, what that is (the lake or inside
    it, a folder holding the lake, the warehouse or a folder holding it: each with its path) and what to do instead.
    A warehouse kept outside the data directory (RUNLENS_WAREHOUSE) is protected with the folders that hold it (a
    folder holding only the warehouse went unrefused, and dropped paths, kinds and the fix went unseen: a mutation
    audit)."""
    kept = (tmp_path / "kept" / "apart").resolve()
    kept.mkdir(parents=True)
    warehouse = kept / "warehouse.duckdb"
    inside = f"is the lake or lies inside it ({places.lake})"
    holds_lake = f"holds the lake ({places.lake})"
    holds_warehouse = f"is or holds the warehouse ({warehouse})"
    cases = {
        f"copy (select 1) to '{places.lake}/runs/x.csv'": ("1 (COPY ... TO)", places.lake / "runs" / "x.csv", inside),
        f"select 1; export database '{places.data}'": (
            "2 (EXPORT DATABASE): the statements before it have run",
            places.data,
            holds_lake,
        ),
        f"attach '{warehouse}' as w": ("1 (ATTACH)", warehouse, holds_warehouse),
        f"export database '{kept.parent}'": ("1 (EXPORT DATABASE)", kept.parent, holds_warehouse),
    }
    for query, (statement, path, relation) in cases.items():
        assert places.refusal(query, warehouse) == (
            f"refused, statement {statement}: it would write {path}, which {relation}; runlens sql never writes there"
            " (only runlens does, atomically): write the file elsewhere"
        ), query
    assert places.refusal(f"set variable x = 1; select 2; copy (select 1) to '{places.lake}/y.csv'").startswith(
        "refused, statement 3 (COPY ... TO): the statements before it have run: "
    )


def test_every_spelling_of_a_target_in_the_lake_is_refused_from_a_working_folder_outside_it(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Key words in capitals, ATTACH DATABASE, a TO inside the query being copied (SIMILAR TO), a quoted identifier
    followed by options: each is found, and the file named is the one in the lake (each of these went unrefused
    under a mutation no test saw: a mutation audit)."""
    monkeypatch.chdir(places.elsewhere)
    lake = places.lake
    cases = {
        f"COPY (SELECT 1) TO '{lake}/upper.csv'": lake / "upper.csv",
        f"ATTACH '{lake}/upper.db' AS u": lake / "upper.db",
        f"attach database '{lake}/database.db' as d": lake / "database.db",
        f"Attach If Not Exists '{lake}/mixed.db' As m": lake / "mixed.db",
        f"copy (select 'a' similar to 'b' as s) to '{lake}/similar.csv'": lake / "similar.csv",
        f'copy (select 1) to "{lake}/identifier.csv" (header)': lake / "identifier.csv",
        f"EXPORT DATABASE '{lake}/exported' (FORMAT parquet)": lake / "exported",
    }
    for query, path in cases.items():
        assert f"it would write {path}, which is the lake or lies inside it" in places.refusal(query), query
    assert file_stamps(lake) == {} and not any(places.elsewhere.iterdir())


def test_targets_that_write_no_local_file_in_the_lake_pass_the_guard_even_from_inside_it(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a working folder inside the lake: TO STDOUT in capitals writes no file, an s3:// URL and an in-memory
    database none here; none is refused (each was, under a mutation no test saw: a mutation audit)."""
    monkeypatch.chdir(places.lake)
    for query in (
        "COPY (select 1) TO STDOUT",
        "copy (select 1) to 's3://bucket/lake/runs.csv'",
        "attach ':memory:' as m",
        "attach '' as e",
    ):
        places.checked(query)


def test_a_file_named_by_a_key_word_is_that_name_in_the_working_folder(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`TO data` writes a file named data (DuckDB takes a key word there as the name): it is written from a folder
    outside the lake and refused, naming that file, from inside it (computing it as an expression refused both as
    "cannot compute": a mutation audit)."""
    monkeypatch.chdir(places.elsewhere)
    with duckdb.connect() as con:
        run_statements(con, "copy (select 5 as five) to data", places.lake, places.warehouse)
    assert (places.elsewhere / "data").read_text().splitlines() == ["five", "5"]
    monkeypatch.chdir(places.lake)
    message = places.refusal("copy (select 5 as five) to data")
    assert f"it would write {places.lake / 'data'}, which is the lake or lies inside it" in message, message


def test_a_target_that_is_not_a_string_is_refused_as_one_that_cannot_be_checked(places: Places) -> None:
    """`TO (42)` computes to a number, not a file name runlens can check: a one-line refusal, not an internal error
    (checking only for None crashed on it: a mutation audit)."""
    message = places.refusal("copy (select 1) to (42)")
    assert message.startswith("refused, statement 1 (COPY ... TO): runlens sql cannot compute the file name (42)")


def test_a_target_under_the_home_folder_is_found_where_tilde_points(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB expands ~ to $HOME: with HOME in the lake, '~/x.csv' is refused as the lake's x.csv (taken as a
    folder named ~ in the working folder, it went unrefused: a mutation audit)."""
    monkeypatch.setenv("HOME", str(places.lake))
    monkeypatch.chdir(places.elsewhere)
    message = places.refusal("copy (select 1) to '~/home.csv'")
    assert f"it would write {places.lake / 'home.csv'}, which is the lake or lies inside it" in message, message


def test_a_leading_tilde_is_read_as_the_home_directory_a_set_before_it_gave(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `SET home_directory` DuckDB puts that folder, as text, for a leading ~ ('~lake/x' is '<home>lake/x'):
    with the data directory as home (allowed: DuckDB writes inside it), '~/lake/…' and '~lake/…' name files in the
    lake. Both were let through, read with the system's home. Unguarded, DuckDB writes where the refusal says."""
    monkeypatch.setenv("HOME", str(places.elsewhere))
    monkeypatch.chdir(places.elsewhere)
    lake = places.lake
    cases = {
        (places.data, "~/lake/slash.csv"): lake / "slash.csv",
        (f"{places.data}/", "~lake/glued.csv"): lake / "glued.csv",
    }
    for (home, target), path in cases.items():
        query = f"set home_directory = '{home}'; copy (select 1 as one) to '{target}'"
        message = places.refusal(query)
        assert f"statement 2 (COPY ... TO): the statements before it have run: it would write {path}," in message
        assert not path.exists()
        with duckdb.connect() as con:
            con.execute(query)
        assert path.read_text().splitlines() == ["one", "1"], target


def test_a_target_is_refused_as_the_file_duckdb_would_write_for_file_urls_and_a_parent_after_a_link(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB opens 'file:/x', 'file:///x' and 'file://localhost/x' as /x, and 'link/../x' where the system does: in
    the folder holding the link's target, not beside the link. Each names a file in the lake, from a working folder
    outside it; it was let through (file:/x and file://localhost/x read as relative paths, the parent of the link
    taken as text; found by a mutation audit). Where the refusal says is where DuckDB, run without the guard, writes."""
    monkeypatch.chdir(places.elsewhere)
    (places.elsewhere / "link").symlink_to(places.lake / "runs", target_is_directory=True)
    lake = places.lake
    cases = {
        f"file:{lake}/file_colon.csv": lake / "file_colon.csv",
        f"file://localhost{lake}/localhost.csv": lake / "localhost.csv",
        f"file:///{lake}/four_slashes.csv": lake / "four_slashes.csv",
        f"{places.elsewhere}/link/../after_link.csv": lake / "after_link.csv",
        "link/../relative_after_link.csv": lake / "relative_after_link.csv",
    }
    for target, path in cases.items():
        query = f"copy (select 1 as one) to '{target}'"
        message = places.refusal(query)
        assert f"it would write {path}, which is the lake or lies inside it" in message, (target, message)
        assert file_stamps(lake) == {}
        with duckdb.connect() as con:  # the same statement, unguarded: DuckDB writes the file the refusal names
            con.execute(query)
        assert path.read_text().splitlines() == ["one", "1"], target
        path.unlink()


def test_a_setting_that_would_make_duckdb_write_into_the_lake_or_over_the_warehouse_is_refused(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB writes spill files into `temp_directory`, the profiler's output to `profiling_output` (alias
    `profile_output`), every query to `log_query_path`, persistent secrets into `secret_directory`, installed
    extensions into `extension_directory` and both of those under `home_directory` by default. A SET or PRAGMA
    pointing one of them into the lake, in any spelling, or a file setting at the warehouse, is refused before it
    runs, naming the setting and the place."""
    monkeypatch.chdir(places.elsewhere)
    lake, warehouse = places.lake, places.warehouse
    inside = f"is the lake or lies inside it ({lake})"
    cases = {
        f"set temp_directory = '{lake}/spill'": ("temp_directory", lake / "spill", inside),
        f"SET GLOBAL profiling_output TO '{lake}/runs/profile.json'": (
            "profiling_output",
            lake / "runs/profile.json",
            inside,
        ),
        f"pragma log_query_path='{lake}/queries.log'": ("log_query_path", lake / "queries.log", inside),
        f"set session profile_output = '{lake}/p.txt'": ("profile_output", lake / "p.txt", inside),
        f"set \"Secret_Directory\" = ('{lake}' || '/secrets')": ("secret_directory", lake / "secrets", inside),
        f"set extension_directory to '{lake}/ext'": ("extension_directory", lake / "ext", inside),
        f"set home_directory = '{lake}'": ("home_directory", lake, inside),
        f"set log_query_path = '{warehouse}'": (
            "log_query_path",
            warehouse,
            f"is or holds the warehouse ({warehouse})",
        ),
    }
    for query, (setting, path, relation) in cases.items():
        assert places.refusal(f"select 1; {query}") == (
            f"refused, statement 2 (SET {setting}): the statements before it have run: it would write {path}, which"
            f" {relation}; runlens sql never writes there (only runlens does, atomically): point the setting elsewhere"
        ), query
    monkeypatch.chdir(lake)  # a relative folder, from inside the lake
    assert f"it would write {lake / 'spill'}, which" in places.refusal("set temp_directory = 'spill'")
    assert file_stamps(lake) == {} and not any(places.elsewhere.iterdir())


def test_other_settings_and_file_settings_outside_the_lake_run(places: Places) -> None:
    """Settings that write no file, a variable named like a setting, RESET, and a file setting pointing outside the
    lake or at a folder holding it (DuckDB writes inside the folder a setting names, never over it) all run."""
    query = (
        f"set threads = 1; SET TimeZone = 'UTC'; set variable temp_directory = '{places.lake}'; reset temp_directory;"
        f" set temp_directory = '{places.data}'; pragma enable_profiling = 'json';"
        f" set profiling_output = '{places.elsewhere}/profile.json'; select current_setting('temp_directory') as t"
    )
    with duckdb.connect() as con:
        result = run_statements(con, query, places.lake, places.warehouse)
        assert result is not None and result.fetchall() == [(str(places.data),)]
    assert (places.elsewhere / "profile.json").is_file(), "the profiler wrote where the setting points"


def test_a_refused_setting_names_the_file_duckdb_would_write(places: Places, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the refusal says is where DuckDB, run without the guard, writes the profiler's output: a relative
    path, `..` and a quoted identifier resolved as DuckDB resolves them."""
    monkeypatch.chdir(places.elsewhere)
    (places.elsewhere / "link").symlink_to(places.lake / "runs", target_is_directory=True)
    for value, path in {
        "'link/../profile.json'": places.lake / "profile.json",
        f'"{places.lake}/quoted.json"': places.lake / "quoted.json",
    }.items():
        query = f"set profiling_output = {value}"
        assert f"it would write {path}, which is the lake" in places.refusal(query), value
        assert not path.exists()
        with duckdb.connect() as con:  # unguarded
            con.execute("pragma enable_profiling = 'json'")
            con.execute(query)
            con.execute("select 1").fetchall()
        assert path.is_file(), value


def test_a_log_that_enable_logging_would_write_into_the_lake_is_refused_and_one_elsewhere_runs(
    places: Places, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`enable_logging(storage = 'file', ...)` writes DuckDB's log to the file or folder given as `storage_path` or as
    the `path` of `storage_config`, called by CALL or as a table function. One in the lake is refused before it runs,
    naming the argument and the place (they were not checked until the eighteenth session); unguarded, DuckDB writes
    there. A folder holding the lake, one elsewhere and a config without a path run."""
    monkeypatch.chdir(places.elsewhere)
    lake = places.lake
    inside = f"is the lake or lies inside it ({lake})"
    cases = {
        f"call enable_logging(storage = 'file', storage_path = '{lake}/log')": ("storage_path", lake / "log"),
        f"CALL Enable_Logging('QueryLog', storage = 'file', storage_config := {{'path': '{lake}/runs/log.csv'}})": (
            "storage_config",
            lake / "runs/log.csv",
        ),
        f"from enable_logging(level = 'info', storage = 'file', storage_path = concat_ws('/', '{lake}', 'sel'))": (
            "storage_path",
            lake / "sel",
        ),
    }
    for query, (argument, path) in cases.items():
        assert places.refusal(query) == (
            f"refused, statement 1 (enable_logging({argument})): it would write {path}, which {inside}; runlens sql"
            " never writes there (only runlens does, atomically): point the setting elsewhere"
        ), query
        assert not path.exists()
        with duckdb.connect() as con:  # unguarded
            con.execute(query)
            con.execute("select 1").fetchall()
            con.execute("call disable_logging()")
        assert path.exists(), query
    allowed = [  # each in a database of its own: DuckDB keeps the first file a database logged to
        f"call enable_logging(storage = 'file', storage_path = '{places.data}')",
        f"call enable_logging(storage = 'file', storage_config = {{'path': '{places.elsewhere}/log'}})",
        "call enable_logging(storage = 'memory', storage_config = {'buffer_size': 8})",
    ]
    for query in allowed:
        with duckdb.connect() as con:
            result = run_statements(con, f"{query}; select 1 as done", lake, places.warehouse)
            assert result is not None and result.fetchall() == [(1,)], query
    assert (places.elsewhere / "log").exists() and any(places.data.glob("duckdb_log*"))


def test_each_folder_of_extension_directories_is_checked(places: Places) -> None:
    """`extension_directories` is a list of folders: one of them in the lake is refused, naming it; a list of
    folders elsewhere runs (the list was not checked until the eighteenth session)."""
    lake = places.lake
    message = places.refusal(f"set extension_directories = ['{places.elsewhere}', '{lake}/ext']")
    assert message.startswith(f"refused, statement 1 (SET extension_directories): it would write {lake / 'ext'}, ")
    with duckdb.connect() as con:
        query = f"set extension_directories = ['{places.elsewhere}/a', '{places.elsewhere}/b']; select 1 as done"
        result = run_statements(con, query, lake, places.warehouse)
        assert result is not None and result.fetchall() == [(1,)]
