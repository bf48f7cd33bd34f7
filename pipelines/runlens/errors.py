"""Error types whose messages name the file, the record and the fix; the CLI prints them in one line."""

from __future__ import annotations

import re


class RunlensError(Exception):
    """An error a user must act on; ``str(err)`` is one line that says what and where."""


class ExportReadError(RunlensError):
    """An export file could not be read (fully): decompression, encoding, size caps."""

    def __init__(self, path: str, message: str, offset: int | None = None) -> None:
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{path}{where}: {message}")
        self.path = path
        self.reason = message
        self.offset = offset


class DecompressedCapError(ExportReadError):
    """Reading an export stopped at ``RUNLENS_MAX_DECOMPRESSED_BYTES``: the records read whole before the cap are
    read, the rest is not, and a reading under a larger cap reads on from there (``ingest.export_identity``)."""

    def __init__(self, path: str, cap: int, decompressed: int) -> None:
        super().__init__(path, CAP_STOP.format(cap=cap) + f" after decompression ({decompressed} decompressed)", cap)
        self.cap = cap

    @staticmethod
    def cap_in(message: str | None) -> int | None:
        """The cap a reading stopped at, from the ingest_log message it left; None for a reading that did not."""
        found = re.search(re.escape(CAP_STOP).replace(re.escape("{cap}"), r"(\d+)"), message or "")
        return int(found.group(1)) if found else None


CAP_STOP = "reading stopped at RUNLENS_MAX_DECOMPRESSED_BYTES = {cap} bytes"


class NotLineDelimitedError(ExportReadError):
    """A .jsonl/.ndjson file that holds a JSON document (pretty-printed, or an array on one line): none of it is
    read, and it is not recorded as ingested, so once renamed to .json it is read as the document it is."""


class SchemaFileError(RunlensError):
    """The schema file is missing, not JSON, or not a valid JSON Schema."""


class LockedError(RunlensError):
    """Another runlens process is writing to the same data directory."""


class ConfigError(RunlensError):
    """A setting from the environment that runlens cannot use (not a number, out of range)."""
