"""The ingest ledger (runlens.ledger): one file holding every committed ingest's ingest_log row, a cache that is
never wrong. Expected rows come from reading each ingest folder's ingest_log.parquet with pyarrow."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import CliRunner
from runlens import ingest, invariants, ledger, runs, warehouse
from runlens.config import Settings
from runlens.contracts import INGEST_LOG_SCHEMA, INGEST_LOG_SCHEMA_KEY
from runlens.errors import RunlensError
from runlens.validation import RecordValidator


def export(data_dir: Path, name: str, run_ids: list[str]) -> Path:
    path = data_dir / "exports" / name
    records = [{"runId": r, "workflowName": "checkout", "status": "queued"} for r in run_ids]
    path.write_text("".join(json.dumps(record) + "\n" for record in records) + "not json\n")
    return path


def ingest_all(data_dir: Path, names: list[str]) -> None:
    settings = Settings.from_env(data_dir)
    validator = RecordValidator.from_file(settings.schema_path)
    for i, name in enumerate(names):
        ingest.ingest_file(export(data_dir, name, [f"{name}-{k}" for k in range(i + 1)]), settings, validator, name)


def logs_on_disk(lake_dir: Path) -> list[dict[str, Any]]:
    """Each committed ingest's ingest_log row and the schema digest its file records, read file by file."""
    rows = []
    for path in sorted((lake_dir / "ingest").glob("*/ingest_log.parquet")):
        table = pq.read_table(path)
        (row,) = table.to_pylist()
        digest = (table.schema.metadata or {}).get(INGEST_LOG_SCHEMA_KEY.encode())
        rows.append({**row, "schema_digest": digest.decode() if digest else None, "folder": path.parent.name})
    return sorted(rows, key=lambda row: row["ingest_seq"])


def ledger_rows(lake_dir: Path) -> list[dict[str, Any]]:
    columns = [*INGEST_LOG_SCHEMA.names, "schema_digest", "folder"]
    return ledger.ingest_logs(lake_dir).select(columns).to_pylist()


@pytest.fixture
def lake_dir(data_dir: Path) -> Path:
    ingest_all(data_dir, ["a.jsonl", "b.jsonl", "c.jsonl"])
    return data_dir / "lake"


def test_the_ledger_holds_every_committed_ingest_log_row_and_follows_new_ingests(
    data_dir: Path, lake_dir: Path
) -> None:
    expected = logs_on_disk(lake_dir)
    assert len(expected) == 3 and all(row["schema_digest"] for row in expected)
    assert ledger_rows(lake_dir) == expected
    assert ledger.ledger_file(lake_dir).exists()
    ingest_all(data_dir, ["d.jsonl"])  # the ledger now lacks d's row
    assert len(logs_on_disk(lake_dir)) == 4
    assert ledger_rows(lake_dir) == logs_on_disk(lake_dir)
    assert pq.read_table(ledger.ledger_file(lake_dir)).num_rows == 4, "the ledger was written back with d's row"


def test_a_second_reading_takes_the_rows_from_the_ledger_not_from_the_logs(lake_dir: Path) -> None:
    before = ledger_rows(lake_dir)
    # a log rewritten in place with the same size, inode and modification time looks unchanged: the ledger's row
    # (the original) is what comes back, which shows the log was not read again
    path = sorted((lake_dir / "ingest").glob("*/ingest_log.parquet"))[0]
    stat = path.stat()
    original = path.read_bytes()
    path.write_bytes(b"\0" * len(original))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    try:
        assert ledger_rows(lake_dir) == before
    finally:
        path.write_bytes(original)


def test_a_folder_gone_loses_its_row_and_nothing_else_is_read(lake_dir: Path) -> None:
    """With no new or changed log, only rows to drop: reading no log at all failed ("needs at least one file")."""
    ledger.ingest_logs(lake_dir)
    gone = sorted((lake_dir / "ingest").iterdir())[0]
    shutil.rmtree(gone)
    assert ledger_rows(lake_dir) == logs_on_disk(lake_dir)
    assert gone.name not in pq.read_table(ledger.ledger_file(lake_dir)).column("folder").to_pylist()


def test_a_changed_or_removed_log_and_a_bad_ledger_never_give_a_wrong_row(lake_dir: Path) -> None:
    ledger.ingest_logs(lake_dir)
    first, second, _ = sorted((lake_dir / "ingest").glob("*/ingest_log.parquet"))
    # a log replaced by another file (new inode and time): its new row is read
    table = pq.read_table(first)
    replacement = table.set_column(table.schema.get_field_index("message"), "message", [["rewritten"]])
    first.unlink()
    pq.write_table(replacement, first)
    # a folder gone: its row goes
    for part in second.parent.iterdir():
        part.unlink()
    second.parent.rmdir()
    assert ledger_rows(lake_dir) == logs_on_disk(lake_dir)
    assert [row["message"] for row in ledger_rows(lake_dir)].count("rewritten") == 1
    assert len(ledger_rows(lake_dir)) == 2
    for bad in (b"", b"not parquet at all", None):
        if bad is None:  # a ledger of another format: a Parquet file with other columns
            pq.write_table(INGEST_LOG_SCHEMA.empty_table(), ledger.ledger_file(lake_dir))
        else:
            ledger.ledger_file(lake_dir).write_bytes(bad)
        assert ledger_rows(lake_dir) == logs_on_disk(lake_dir)


@pytest.mark.parametrize("only", ["mtime", "inode", "size"])
def test_a_log_that_differs_in_one_stamp_field_only_is_read_again(lake_dir: Path, only: str) -> None:
    """The ledger trusts a row while the log's inode, size and mtime are all unchanged: a change of any one of them
    alone is read again (each used to be changed only together with the others: found by a mutation audit)."""
    ledger_rows(lake_dir)
    path = sorted((lake_dir / "ingest").glob("*/ingest_log.parquet"))[0]
    before = path.stat()
    if only == "size":  # the same file (inode), rewritten longer, its mtime put back
        table = pq.read_table(path)
        longer = table.set_column(table.schema.get_field_index("message"), "message", [["rewritten, longer " * 4]])
        with open(path, "r+b") as handle:
            handle.truncate(0)
            pq.write_table(longer, handle)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    else:  # the same size: the file name it records with its first letter upper-cased
        name = pq.read_table(path)["source_file"][0].as_py().encode()
        data = path.read_bytes().replace(name, name[:1].upper() + name[1:])
        assert len(data) == before.st_size and data != path.read_bytes()
        if only == "mtime":  # the same file, rewritten in place, a second later
            with open(path, "r+b") as handle:
                handle.write(data)
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        else:  # another file renamed over it, with the old mtime
            replacement = path.with_name(".replacement")
            replacement.write_bytes(data)
            os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
            os.link(path, path.with_name(".old"))  # the old inode stays in use, so its number is not reused
            os.replace(replacement, path)
    after = path.stat()
    changed = (after.st_ino != before.st_ino, after.st_size != before.st_size, after.st_mtime_ns != before.st_mtime_ns)
    assert changed == (only == "inode", only == "size", only == "mtime")
    assert ledger_rows(lake_dir) == logs_on_disk(lake_dir)


def test_a_damaged_log_is_named_in_one_error_and_moving_its_folder_out_heals_the_lake(
    data_dir: Path, lake_dir: Path, run_cli: CliRunner
) -> None:
    """A committed log overwritten with garbage stopped every `runlens run` with an internal error. It is a
    runlens error naming the file and what to do; done, the next run ingests that export again."""
    damaged = sorted((lake_dir / "ingest").glob("*/ingest_log.parquet"))[0]
    damaged.write_bytes(b"garbage")
    with pytest.raises(RunlensError, match=re.escape(str(damaged))):
        ledger.ingest_logs(lake_dir)
    result = run_cli("run", "--data-dir", data_dir)
    assert result.code == 2 and "move that ingest's folder out of lake/ingest" in result.err, result.err
    assert "internal error" not in result.err and result.err.count("\n") == 1, result.err
    shutil.move(damaged.parent, data_dir / "moved-out")
    again = run_cli("run", "--data-dir", data_dir)
    assert again.code == 0 and again.out.startswith("runlens: 1 new export file(s) ingested"), again.out


def test_a_ledger_that_cannot_be_written_still_gives_every_row(lake_dir: Path) -> None:
    state = lake_dir / "state"
    shutil.rmtree(state)
    state.write_text("a file where the state folder should be")  # no ledger can be written under it
    assert ledger_rows(lake_dir) == logs_on_disk(lake_dir)


def test_an_empty_lake_has_no_rows_and_the_bookkeeping_agrees(data_dir: Path, lake_dir: Path) -> None:
    assert ledger.ingest_logs(data_dir / "no-lake").num_rows == 0
    assert ingest.next_ingest_seq(data_dir / "no-lake") == 1
    assert runs.pending_exports(data_dir / "no-lake") == ([], 0)
    expected = logs_on_disk(lake_dir)
    assert ingest.next_ingest_seq(lake_dir) == max(row["ingest_seq"] for row in expected) + 1
    assert runs.pending_exports(lake_dir) == ([row["export_id"] for row in expected], expected[-1]["ingest_seq"])
    readings = ingest.committed_readings(lake_dir)
    assert sorted(r.export_id for found in readings.values() for r in found) == sorted(r["export_id"] for r in expected)
    one = expected[1]
    assert ingest.committed_readings(lake_dir, one["sha256"]) == {
        one["export_id"][:24]: readings[one["export_id"][:24]]
    }


def test_a_dot_folder_under_lake_ingest_is_no_ingest_to_any_reader(data_dir: Path, lake_dir: Path) -> None:
    """A copy of a committed ingest's folder under a name starting with a dot (a backup made by hand) is left out by
    the ledger, and was read as one more ingest by the globs of the runs rebuild, the checks and the warehouse views
    (found by a mutation audit). Every reader now skips it, as the ledger does: the counts are the three ingests'."""
    folders = sorted(p for p in (lake_dir / "ingest").iterdir() if p.is_dir())
    shutil.copytree(folders[0], lake_dir / "ingest" / f".backup-{folders[0].name}")
    assert runs.staged_files(lake_dir) == [str(folder / "staged.parquet") for folder in folders]
    settings = Settings.from_env(lake_dir.parent)
    assert invariants.violations(settings, "ingest_reconciles").count == 0
    warehouse.refresh_warehouse(lake_dir, settings.warehouse_path)
    with warehouse.connect_readonly(settings.warehouse_path) as con:
        logged = con.execute("select count(*), sum(records_read) from ingest_log").fetchall()
        quarantined = con.execute("select count(*) from quarantine").fetchall()
    # a.jsonl, b.jsonl, c.jsonl: 1, 2 and 3 records and one line that is not JSON each (`ingest_all`); every record
    # is quarantined too, its runId ("a.jsonl-0") not matching the schema's ^run_ pattern
    assert logged == [(3, 2 + 3 + 4)] and quarantined == [(2 + 3 + 4,)]
    for folder in folders:  # the backup alone: a lake without ingests, whose views are empty
        shutil.rmtree(folder)
    warehouse.refresh_warehouse(lake_dir, settings.warehouse_path)
    with warehouse.connect_readonly(settings.warehouse_path) as con:
        assert con.execute("select count(*) from ingest_log").fetchall() == [(0,)]
