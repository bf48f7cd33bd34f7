"""Discovery of export files under ``exports/``: which ones runlens reads, and which are new.

A file is identified by its content (sha256): one already ingested is skipped wherever it lies, a changed file is a
new version. Files of other kinds are reported and left alone. Export files are never modified or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from runlens import ingest
from runlens.config import Settings
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

    @property
    def export_id(self) -> str:
        return ingest.export_id_for(ingest.file_sha256(self.path))


@dataclass(frozen=True)
class Discovery:
    files: list[ExportFile]
    ignored: list[str]  # relative names of files runlens does not read (other kinds, links, devices)


def partition_key(name: str) -> str:
    return quote(name, safe="/ ") if any(bad in name for bad in _KEY_FORBIDDEN) else name


def discover(settings: Settings) -> Discovery:
    """Every export file under the exports folder, ordered by relative name (hidden files and folders skipped)."""
    root = settings.exports_dir
    files: list[ExportFile] = []
    ignored: list[str] = []
    if not root.is_dir():
        return Discovery(files, ignored)
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or (path.is_dir() and not path.is_symlink()):
            continue  # a link to a folder is not followed, and is listed as ignored below
        name = relative.as_posix()
        if path.is_symlink() or not path.is_file() or export_format(path) is None:
            ignored.append(name)
        else:
            files.append(ExportFile(path, name, partition_key(name)))
    files.sort(key=lambda export: export.name)  # "path order" is the order of these names, everywhere
    return Discovery(files, ignored)


@dataclass(frozen=True)
class NewExports:
    files: list[tuple[ExportFile, str]]  # content not ingested yet, with its export id (path order)
    unreadable: dict[str, str]  # name -> reason, for files that could not be read now (left for the next run)


def new_exports(settings: Settings, discovery: Discovery) -> NewExports:
    """The discovered files whose content has not been ingested yet, and those that could not be read to tell (a
    file removed or made unreadable since discovery): they are reported, not recorded, and tried again next time."""
    done = ingest.ingested_ids(settings.lake_dir)
    pending: list[tuple[ExportFile, str]] = []
    unreadable: dict[str, str] = {}
    seen: set[str] = set()
    for export in discovery.files:
        try:
            export_id = export.export_id
        except OSError as exc:
            unreadable[export.name] = ingest.os_reason(exc)
            continue
        if export_id not in done and export_id not in seen:
            pending.append((export, export_id))
            seen.add(export_id)
    return NewExports(pending, unreadable)
