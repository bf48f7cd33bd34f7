"""What ``runlens sql`` runs: the user's statements one at a time, none of which may write into the lake.

The warehouse is opened read-only, but DuckDB's ``COPY ... TO``, ``EXPORT DATABASE`` and ``ATTACH`` write files
wherever the user may. One pointed into ``lake/`` would be read as part of it (a stray file in a runs partition, a
folder under ``lake/ingest``) or replace what runlens wrote, and one with ``OVERWRITE`` pointed at a folder holding
the lake empties it. So each such statement's target is found with DuckDB's own tokenizer and its value computed by
DuckDB (a string in any quoting, a parenthesised expression, a file name written as an identifier) just before the
statement runs, after the statements before it, whose variables it may read. A target that is the lake or the
warehouse, lies inside the lake, or holds either is refused; so is one DuckDB cannot compute on its own (it reads a
column), since it cannot be checked. The settings that make DuckDB write files (``FILE_SETTINGS``: spill files, the
profiler's output, the query log, persistent secrets, installed extensions) are checked the same way when a ``SET``
or ``PRAGMA`` gives them a value, and so is the file or folder ``enable_logging(...)`` is given for its log
(``LOGGING_PATHS``), except that a folder holding the lake or the warehouse is allowed: DuckDB writes inside the
folder a setting names, never over it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import duckdb

from runlens.errors import RunlensError

WRITERS = {
    duckdb.StatementType.COPY: "COPY ... TO",
    duckdb.StatementType.EXPORT: "EXPORT DATABASE",
    duckdb.StatementType.ATTACH: "ATTACH",
}
ATTACH_WORDS = {"attach", "database", "if", "not", "exists"}  # what may come before ATTACH's path
NOT_A_FILE = {"stdout"}  # COPY ... TO STDOUT (TO STDERR writes a file named stderr)
FILE_SETTINGS = {  # DuckDB settings naming a file or folder it writes to (duckdb_settings(): 2.0)
    "temp_directory",
    "profiling_output",
    "profile_output",
    "log_query_path",
    "secret_directory",
    "extension_directory",
    "home_directory",  # the default folder of secrets and extensions, and what ~ means to DuckDB
    "extension_directories",  # a list of folders
}
SET_WORDS = {"set", "pragma", "global", "session", "local"}  # what may come before a setting's name
LOGGING_CALL = "enable_logging"
LOGGING_PATHS = {"storage_path": None, "storage_config": "path"}  # its arguments naming the log's file or folder
# (storage_config: a struct or map, whose "path" does)
BRACKETS = str.maketrans({"(": "+", "[": "+", "{": "+", ")": "-", "]": "-", "}": "-"})


class Target(NamedTuple):
    """A file name a statement gives DuckDB to write, as written: its text, the kind of its first token (``operator``
    for an expression of several), what the statement is (for messages), whether it is a setting's (a folder holding
    the lake is then allowed) and the key that names the file in the value it computes to, if any."""

    text: str
    kind: duckdb.token_type
    verb: str
    setting: bool
    key: str | None = None


def run_statements(
    con: duckdb.DuckDBPyConnection, query: str, lake_dir: Path, warehouse_path: Path
) -> duckdb.DuckDBPyRelation | None:
    """Run ``query``'s statements in order, each checked first (``refuse_protected_target``); the last one's rows
    (None: it has none, or there is no statement)."""
    statements = duckdb.extract_statements(query)
    for number, statement in enumerate(statements, 1):
        refuse_protected_target(con, statement, lake_dir, warehouse_path, number)
        if number < len(statements):
            con.execute(statement.query).complete()  # run to its end, its rows unread
    return con.sql(statements[-1].query) if statements else None


def refuse_protected_target(
    con: duckdb.DuckDBPyConnection, statement: duckdb.Statement, lake_dir: Path, warehouse_path: Path, number: int
) -> None:
    """Raise when ``statement`` (the query's ``number``-th) would write the lake, inside it, the warehouse, or a
    folder holding either, or writes somewhere DuckDB cannot compute without running it; or, a ``SET`` of one of the
    ``FILE_SETTINGS`` or a call of ``enable_logging``, points DuckDB's files into the lake or at the warehouse.
    ``lake_dir`` and ``warehouse_path`` are absolute and resolved, as ``Settings`` gives them."""
    for target in _targets(statement):
        where = f"statement {number} ({target.verb})" + (": the statements before it have run" if number > 1 else "")
        names = _file_names(_value(con, target.text, target.kind), target.key)
        if names is None:
            raise RunlensError(
                f"refused, {where}: runlens sql cannot compute the file name {target.text} on its own (name the file"
                " with a string, or an expression of constants giving one), so it cannot check that it is outside"
                " the lake"
            )
        home = _home(con)
        for name in names:
            _refuse_protected_path(_local_path(name, home), target.setting, lake_dir, warehouse_path, where)


def _refuse_protected_path(path: Path | None, setting: bool, lake_dir: Path, warehouse_path: Path, where: str) -> None:
    if path is None:
        return
    if path == lake_dir or lake_dir in path.parents:
        relation = f"is the lake or lies inside it ({lake_dir})"
    elif path in lake_dir.parents and not setting:
        relation = f"holds the lake ({lake_dir})"
    elif path == warehouse_path or (path in warehouse_path.parents and not setting):
        relation = f"is or holds the warehouse ({warehouse_path})"
    else:
        return
    raise RunlensError(
        f"refused, {where}: it would write {path}, which {relation}; runlens sql never writes there (only runlens"
        f" does, atomically): {'point the setting' if setting else 'write the file'} elsewhere"
    )


def _targets(statement: duckdb.Statement) -> list[Target]:
    """Every file name ``statement`` gives DuckDB to write: a writing statement's target, a ``SET`` of one of the
    ``FILE_SETTINGS``, the log's path in each call of ``enable_logging`` (``CALL`` or a table function)."""
    if statement.type is duckdb.StatementType.SET:
        found = _setting_text(statement)
    elif statement.type in WRITERS:
        found = _target_text(statement)
    else:
        found = None
    logging = _logging_texts(statement) if LOGGING_CALL in statement.query.lower() else []
    return ([] if found is None else [found]) + logging


def _file_names(value: object, key: str | None) -> list[str] | None:
    """The file names in a target's computed ``value``: a string, a list of strings (``extension_directories``), or,
    with ``key``, a struct or map's string at that key (none when it lacks the key); None when it is none of these."""
    if key is not None:
        if not isinstance(value, dict):
            return None
        if value.get(key) is None:
            return []
        value = value[key]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def _words(text: str) -> tuple[list[tuple[int, duckdb.token_type]], list[int], list[str]]:
    """DuckDB's tokens of ``text`` (start and kind), where each ends, and each one's text."""
    tokens = duckdb.tokenize(text)
    ends = [start for start, _ in tokens[1:]] + [len(text)]
    return tokens, ends, [text[start:end].strip() for (start, _), end in zip(tokens, ends, strict=True)]


def _setting_text(statement: duckdb.Statement) -> Target | None:
    """The value a ``SET`` or ``PRAGMA`` statement gives one of the ``FILE_SETTINGS`` as written, the kind of its
    token (``operator`` for an expression of several tokens, which is computed) and ``SET <name>``; None for any
    other setting, a variable, or ``RESET``."""
    text = statement.query
    tokens, ends, words = _words(text)
    name = next((i for i, word in enumerate(words) if word.lower() not in SET_WORDS), None)
    setting = words[name].strip('"').lower() if name is not None else ""
    if name is None or setting not in FILE_SETTINGS or name + 1 >= len(words):
        return None
    value = text[ends[name] :].strip()
    if value.startswith("="):
        value = value[1:].strip()
    elif words[name + 1].lower() == "to" and tokens[name + 1][1] is duckdb.token_type.keyword:
        value = text[ends[name + 1] :].strip()
    value_tokens = duckdb.tokenize(value) if value else []
    if not value_tokens:
        return None
    kind = value_tokens[0][1] if len(value_tokens) == 1 else duckdb.token_type.operator
    return Target(value, kind, f"SET {setting}", setting=True)


def _target_text(statement: duckdb.Statement) -> Target | None:
    """The target of a writing statement as written (a string literal, an identifier, a parenthesised
    expression), the kind of its first token and the statement's kind (``WRITERS``), or None when it writes no file
    (``COPY ... FROM``, ``TO STDOUT``)."""
    text = statement.query
    tokens, ends, words = _words(text)
    nesting = [
        word.count("(") - word.count(")") if kind is duckdb.token_type.operator else 0
        for word, (_, kind) in zip(words, tokens, strict=True)
    ]
    if statement.type is duckdb.StatementType.ATTACH:
        first = next((i for i, word in enumerate(words) if word.lower() not in ATTACH_WORDS), None)
    else:
        depth, first = 0, None
        for i, word in enumerate(words):
            depth += nesting[i]
            if depth == 0 and word.lower() == "to" and tokens[i][1] is duckdb.token_type.keyword:
                first = i + 1
                break
        if first is None and statement.type is duckdb.StatementType.EXPORT:
            first = 2  # EXPORT DATABASE 'folder'
    if first is None or first >= len(words) or words[first].lower() in NOT_A_FILE:
        return None
    last, depth = first, nesting[first]
    while depth > 0 and last + 1 < len(words):  # a parenthesised expression: to its closing parenthesis
        last += 1
        depth += nesting[last]
    return Target(text[tokens[first][0] : ends[last]].strip(), tokens[first][1], WRITERS[statement.type], setting=False)


def _logging_texts(statement: duckdb.Statement) -> list[Target]:
    """The arguments of each ``enable_logging(...)`` in ``statement`` that name the log's file or folder
    (``LOGGING_PATHS``, given as ``name = value`` or ``name := value``), as written."""
    text = statement.query
    tokens, ends, words = _words(text)
    depth = [
        word.translate(BRACKETS).count("+") - word.translate(BRACKETS).count("-")
        if kind is duckdb.token_type.operator
        else 0
        for word, (_, kind) in zip(words, tokens, strict=True)
    ]
    found: list[Target] = []
    for call, word in enumerate(words[:-1]):
        if word.strip('"').lower() != LOGGING_CALL or words[call + 1] != "(":
            continue
        level, start = 0, call + 2
        for i in range(call + 1, len(words)):
            level += depth[i]
            if (level == 1 and words[i] == ",") or level == 0:  # the end of an argument
                name = words[start].strip('"').lower() if start < i else ""
                if name in LOGGING_PATHS and start + 2 < i and words[start + 1] in ("=", ":="):
                    value = text[tokens[start + 2][0] : ends[i - 1]].strip()
                    kind = tokens[start + 2][1] if i - start == 3 else duckdb.token_type.operator
                    found.append(Target(value, kind, f"{LOGGING_CALL}({name})", True, LOGGING_PATHS[name]))
                start = i + 1
            if level == 0:
                break
    return found


def _value(con: duckdb.DuckDBPyConnection, target: str, kind: duckdb.token_type) -> object:
    """What DuckDB makes of a target: an identifier or a key word is a file name as written (unquoted), anything
    else is computed; None when it cannot be computed on its own."""
    if kind in (duckdb.token_type.identifier, duckdb.token_type.keyword):
        quoted = target.startswith('"') and target.endswith('"') and len(target) > 1
        return target[1:-1].replace('""', '"') if quoted else target
    try:
        [(value,)] = con.execute(f"select {target}").fetchall()
    except (duckdb.Error, ValueError):  # it reads a column, or is no single value
        return None
    return value


def _home(con: duckdb.DuckDBPyConnection) -> str:
    """What DuckDB puts for a leading ``~``: the ``home_directory`` setting (a ``SET`` earlier in the query may have
    given it), else the system's home."""
    [(setting,)] = con.execute("select current_setting('home_directory')").fetchall()
    return setting or os.path.expanduser("~")


def _local_path(target: str, home: str) -> Path | None:
    """The absolute path a target names on this machine, as DuckDB opens it (``file:/x``, ``file:///x`` and
    ``file://localhost/x`` are ``/x``; relative to the working folder; a leading ``~`` replaced by ``home`` as text,
    so ``~x`` is ``<home>x``) and the system follows it (a ``..`` after a symbolic link is the parent of the link's
    target, not the folder holding the link), or None for a URL of another file system (``s3://``) or an in-memory
    database."""
    if target.startswith("file://localhost/"):
        target = target.removeprefix("file://localhost")
    elif target.startswith("file:/"):
        target = target.removeprefix("file:")
    elif "://" in target or target in ("", ":memory:"):
        return None
    elif target.startswith("~"):
        target = home + target[1:]
    return Path(target).resolve()  # not os.path.abspath first: it drops `link/..` as text
