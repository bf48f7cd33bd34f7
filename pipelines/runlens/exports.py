"""Discovery of export files under ``exports/``: which ones runlens reads, and which are new.

A file is identified by its content (sha256) and how it is read (``.json`` or ``.jsonl``, gzipped or not): one already
ingested is skipped wherever it lies, a changed file is a new version, and the same bytes renamed to be read another
way are read again while no earlier reading of them staged a record (``ingest.export_identity``). Files of other kinds
are reported and left alone. Export files are never modified or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def partition_key(name: str) -> str:
    return quote(name, safe="/ ") if any(bad in name for bad in _KEY_FORBIDDEN) else name


def discover(settings: Settings) -> Discovery:
    """Every export file under the exports folder, ordered by relative name (hidden files and folders skipped, and
    runlens's own lake when it lies inside: an exports folder set to the data root must not ingest lake/state). No
    folder there is no export yet; a file there is a ConfigError."""
    root = settings.exports_dir
    files: list[ExportFile] = []
    ignored: list[str] = []
    if not root.is_dir():
        if root.exists():  # a file, or a link to one: "drop exports into" it is no advice
            raise ConfigError(
                f"the exports folder {root} is not a folder (RUNLENS_EXPORTS_DIR, --data-dir, RUNLENS_DATA_DIR): "
                "point it at the folder holding the export files"
            )
        return Discovery(files, ignored)
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or (path.is_dir() and not path.is_symlink()):
            continue  # a link to a folder is not followed, and is listed as ignored below
        if path.is_relative_to(settings.lake_dir):
            continue
        name = relative.as_posix()
        if path.is_symlink() or not path.is_file() or export_format(path) is None:
            ignored.append(name)
        else:
            files.append(ExportFile(path, name, partition_key(name)))
    files.sort(key=lambda export: export.name)  # "path order" is the order of these names, everywhere
    return Discovery(files, ignored)


@dataclass(frozen=True)
class NewExports:
    files: list[ExportFile]  # content not ingested yet as it would be read, the first file of each (path order)
    unreadable: dict[str, str]  # name -> reason, for files that cannot be read now (left for the next run)


def new_exports(settings: Settings, discovery: Discovery) -> NewExports:
    """The discovered files whose content has not been ingested yet as they would be read (``ingest.export_identity``),
    and those that cannot be read: a file removed or made unreadable since discovery, or a .jsonl/.ndjson one holding
    a JSON document (pretty-printed, or an array on one line). They are reported, not recorded, and tried again next
    time (a renamed file is a new one). Of several files with the same bytes only the first is new: whether another
    reading of them is wanted shows once that one is ingested."""
    pending: list[ExportFile] = []
    unreadable: dict[str, str] = {}
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
    return NewExports(pending, unreadable)
