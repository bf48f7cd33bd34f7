"""Discovery of export files under ``exports/``: which ones runlens reads, and which are new.

A file is identified by its content (sha256) and how it is read (``.json`` or ``.jsonl``, gzipped or not): one already
ingested is skipped wherever it lies, a changed file is a new version, and the same bytes renamed to be read another
way are read again while no earlier reading of them staged a record (``ingest.export_identity``). Files of other kinds
are reported and left alone, and so are folders that cannot be listed. Export files are never modified or deleted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from runlens import ingest
from runlens.config import Settings
from runlens.errors import ConfigError
from runlens.readers import export_format

# Characters Dagster does not allow in a partition key; a path holding them gets a percent-encoded key. A path
# holding % is encoded too, so that no other path's key can equal an encoded one (`nl%0Ax.jsonl` against a name
# with a newline).
_KEY_FORBIDDEN = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0", "%")


@dataclass(frozen=True)
class ExportFile:
    path: Path
    name: str  # path relative to the exports folder, with forward slashes: what the lake records as source_file
    key: str  # the Dagster partition key of the file


@dataclass(frozen=True)
class Discovery:
    files: list[ExportFile]
    ignored: list[str]  # relative names of files runlens does not read (other kinds, links, devices)
    # relative name -> reason, for folders that cannot be listed now (and entries whose kind cannot be told): what
    # they hold is left for the next run, and said so
    unreadable: dict[str, str] = field(default_factory=dict)


def partition_key(name: str) -> str:
    return quote(name, safe="/ ") if any(bad in name for bad in _KEY_FORBIDDEN) else name


def discover(settings: Settings) -> Discovery:
    """Every export file under the exports folder, ordered by relative name (hidden files and folders skipped, and
    runlens's own lake when it lies inside: an exports folder set to the data root must not ingest lake/state). No
    folder there is no export yet; a file there, or a folder that cannot be listed, is a ConfigError. A subfolder
    that cannot be listed is in ``unreadable``, not skipped without a word."""
    root = settings.exports_dir
    files: list[ExportFile] = []
    ignored: list[str] = []
    unreadable: dict[str, str] = {}
    if not root.is_dir():
        if root.exists():  # a file, or a link to one: "drop exports into" it is no advice
            raise ConfigError(
                f"the exports folder {root} is not a folder (RUNLENS_EXPORTS_DIR, --data-dir, RUNLENS_DATA_DIR): "
                "point it at the folder holding the export files"
            )
        return Discovery(files, ignored)
    for path, regular in sorted(_entries(root, settings.lake_dir, unreadable)):
        name = path.relative_to(root).as_posix()
        if regular and export_format(path) is not None:
            files.append(ExportFile(path, name, partition_key(name)))
        else:
            ignored.append(name)
    files.sort(key=lambda export: export.name)  # "path order" is the order of these names, everywhere
    return Discovery(files, ignored, dict(sorted(unreadable.items())))


def _entries(root: Path, lake_dir: Path, unreadable: dict[str, str]) -> list[tuple[Path, bool]]:
    """Every entry under ``root`` but its folders, each with whether it is a regular file (a link is not, and a link
    to a folder is not followed). Hidden entries and the lake are not looked into. ``Path.rglob`` skipped a folder it
    could not list without a word, and so its exports: such a folder, or an entry whose kind cannot be told, is added
    to ``unreadable`` with the reason instead."""
    found: list[tuple[Path, bool]] = []
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            if folder == root:
                raise ConfigError(
                    f"the exports folder {root} cannot be listed ({ingest.os_reason(exc)}): give the user running "
                    "runlens read access to it, or point RUNLENS_EXPORTS_DIR, --data-dir or RUNLENS_DATA_DIR elsewhere"
                ) from None
            # named with a slash: all it holds is left, whatever it is
            unreadable[f"{folder.relative_to(root).as_posix()}/"] = ingest.os_reason(exc)
            continue
        for entry in entries:
            path = folder / entry.name
            if entry.name.startswith(".") or path.is_relative_to(lake_dir):
                continue  # files still being written (an exporter's `.partial/`), and runlens's own
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(path)
                else:
                    found.append((path, not entry.is_symlink() and entry.is_file()))
            except OSError as exc:  # a file system without types in its listings, and no permission to stat
                unreadable[path.relative_to(root).as_posix()] = ingest.os_reason(exc)
    return found


@dataclass(frozen=True)
class NewExports:
    files: list[ExportFile]  # content not ingested yet as it would be read, the first file of each (path order)
    # name -> reason, for files and folders that cannot be read now (left for the next run), in path order
    unreadable: dict[str, str]


def new_exports(settings: Settings, discovery: Discovery) -> NewExports:
    """The discovered files whose content has not been ingested yet as they would be read (``ingest.export_identity``),
    and those that cannot be read: a file removed or made unreadable since discovery, or a .jsonl/.ndjson one holding
    a JSON document (pretty-printed, or an array on one line), and the folders discovery could not list. They are
    reported, not recorded, and tried again next time (a renamed file is a new one). Of several files with the same
    bytes only the first is new: whether another reading of them is wanted shows once that one is ingested."""
    pending: list[ExportFile] = []
    unreadable = dict(discovery.unreadable)
    seen: set[str] = set()
    readings = ingest.committed_readings(settings.lake_dir) if discovery.files else {}
    cap = settings.limits.max_decompressed_bytes
    for export in discovery.files:
        try:
            sha, problem = ingest.checked_sha256(export.path, settings.limits, export.name)
            identity = ingest.export_identity(readings, sha, ingest.reading_of(export.path), cap)
            new = sha not in seen and not identity.done
        except OSError as exc:
            unreadable[export.name] = ingest.os_reason(exc)
            continue
        if not new:
            continue
        if problem is not None:
            unreadable[export.name] = problem
        else:
            pending.append(export)
            seen.add(sha)
    return NewExports(pending, dict(sorted(unreadable.items())))
