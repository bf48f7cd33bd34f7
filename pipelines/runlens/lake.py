"""The lake's layout and the one way runlens writes a file into it: temporary name, fsync, atomic rename.

Layout under ``lake/`` (readers glob ``*.parquet``; temporary files start with a dot and never match, and
temporary folders live under ``.tmp/``, outside every glob):

- ``ingest/<export_id>/staged.parquet``      valid records of one export file version, typed
- ``ingest/<export_id>/quarantine.parquet``  its invalid records and unreadable parts, with every reason
- ``ingest/<export_id>/ingest_log.parquet``  one row: the file's counts (records_read = valid + quarantined)
  (the folder is written under ``.tmp/`` and renamed into place: one atomic step commits the whole ingest; a
  folder whose name starts with a dot, such as a backup made by hand, is no ingest to any reader: ``COMMITTED``)
- ``runs/created_date=YYYY-MM-DD/data.parquet``   latest state per run id, one file per UTC day (another folder
  there holding Parquet is refused: ``runs.stray_folders``)
- ``metrics/<table>/...``                    metric tables computed by ``sql/*.sql``
- ``state/runs.json``                        the ingests the runs table reflects (``runs.applied_seq``)
- ``state/ingest_ledger.parquet``            every ingest_log row in one file, a cache (``runlens.ledger``)
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

INGEST = "ingest"
TMP = ".tmp"
RUNS = "runs"
METRICS = "metrics"
COMMITTED = "[!.]*"  # the folder of a committed ingest: a name that does not start with a dot (the ledger's rule)
FSYNC_THREADS = 8  # files written into the lake at once: each waits on its fsyncs, so they overlap on the disk


def table_dir(lake_dir: Path, table: str) -> Path:
    return lake_dir / table


def table_glob(lake_dir: Path, table: str, partitioned: bool = False) -> str:
    """The glob that reads a lake table (``*/`` for hive-partitioned tables)."""
    middle = "*/" if partitioned else ""
    return folder_glob(lake_dir / table) + "/" + middle + "*.parquet"


def ingest_glob(lake_dir: Path, part: str) -> str:
    """Glob over one part (``staged``, ``quarantine`` or ``ingest_log``) of every committed ingest."""
    return folder_glob(lake_dir / INGEST) + f"/{COMMITTED}/{part}.parquet"


def folder_glob(folder: Path) -> str:
    """``folder`` as the fixed start of a glob: its ``[``, ``*`` and ``?`` each in a class of one (``[[]``), as
    DuckDB's globs and Python's read them; a data directory named ``br[1]`` used to match nothing."""
    return glob.escape(str(folder))


def literal(paths: Iterable[str | Path]) -> list[str]:
    """Paths to bind where DuckDB reads a list of files (``read_parquet([...])``): it reads each one as a glob, so
    ``.../d[1]/lake/...`` read ``.../d1/lake/...`` when that existed; escaped, each names only itself."""
    return [glob.escape(str(path)) for path in paths]


def has_files(lake_dir: Path, table: str, partitioned: bool = False) -> bool:
    base = lake_dir / table
    pattern = f"{COMMITTED if table == INGEST else '*'}/*.parquet" if partitioned else "*.parquet"
    return base.is_dir() and next(base.glob(pattern), None) is not None


def fsync_file(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_path(final: Path) -> Path:
    """A hidden sibling of ``final`` that no reader's ``*.parquet`` glob matches."""
    return final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")


@contextlib.contextmanager
def atomic_target(final: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success fsync it and rename it over ``final`` atomically.

    A crash before the rename leaves only a hidden temporary file (swept by ``sweep_temporaries``);
    readers see either the old file or the new one, never a partial one.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(final)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            fsync_file(handle)
        os.replace(tmp, final)
        fsync_dir(final.parent)
    finally:
        tmp.unlink(missing_ok=True)


def remove_file(path: Path) -> None:
    """Remove a lake file and its folder when that empties it (a partition that lost all its rows)."""
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()
    if path.parent.exists():
        fsync_dir(path.parent)


Stamp = frozenset[tuple[str, int, int, int]]


def stamp(lake_dir: Path) -> Stamp:
    """What the lake's readers read, as it is now: each file under ``runs/`` and ``metrics/`` (path, inode, size,
    modification time) and each committed ingest folder (path, inode). Every write to the lake renames a new file or
    folder into place, so two equal stamps mean nothing was written between them (``report.render_report``)."""
    stamps: set[tuple[str, int, int, int]] = set()
    for table in (RUNS, METRICS):
        _stamp_files(lake_dir / table, stamps)
    with contextlib.suppress(OSError), os.scandir(lake_dir / INGEST) as entries:  # none yet: no ingest to stamp
        stamps.update((entry.path, entry.inode(), 0, 0) for entry in entries)
    return frozenset(stamps)


def _stamp_files(folder: Path, stamps: set[tuple[str, int, int, int]]) -> None:
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:  # none yet, or gone since its parent was listed: the other stamp tells
        return
    for entry in entries:
        with contextlib.suppress(OSError):  # gone since the listing: the other stamp tells
            if entry.is_dir(follow_symlinks=False):
                _stamp_files(Path(entry.path), stamps)
            else:
                info = entry.stat(follow_symlinks=False)
                stamps.add((entry.path, info.st_ino, info.st_size, info.st_mtime_ns))


def sweep_temporaries(lake_dir: Path) -> int:
    """Delete what a killed writer left behind (hidden files, ``.tmp/`` folders); call it holding the write lock.

    ``ingest/`` is not walked: nothing is ever written inside it, ingests arrive there by one rename from ``.tmp/``
    (and it holds a folder per export file, so walking it would make every sweep slower as the lake grows).
    """
    if not lake_dir.is_dir():
        return 0
    leftovers = [*lake_dir.glob(".*.tmp"), *(lake_dir / TMP).glob("*")]
    for child in lake_dir.iterdir():
        if child.is_dir() and child.name not in (INGEST, TMP):
            leftovers.extend(child.rglob(".*.tmp"))
    for path in leftovers:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return len(leftovers)
