"""Settings: where the data lives and the limits runlens enforces.

One data root (``RUNLENS_DATA_DIR``, default ``./data``) holds ``exports/``, ``lake/`` and ``warehouse.duckdb``;
each of them and the schema file can be overridden by its own environment variable.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

from runlens.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent.parent
DEFAULT_SCHEMA = PACKAGE_DIR / "schema" / "restack-workflow-run-schema.json"
SQL_DIR = Path(os.environ.get("RUNLENS_SQL_DIR", PROJECT_DIR / "sql"))


def _env_int(name: str, default: int) -> int:
    """A positive whole number from the environment (``default`` when unset or empty)."""
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigError(f"{name}={value!r}: expected a whole number of at least 1 (unset: {default})")
    return number


def _env_fraction(name: str, default: float) -> float:
    """A number between 0 and 1 from the environment (``default`` when unset or empty)."""
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:  # NaN fails this too
        raise ConfigError(f"{name}={value!r}: expected a number between 0 and 1 (unset: {default})")
    return number


@dataclass(frozen=True)
class Limits:
    """Caps that keep hostile or broken exports from exhausting the machine (all configurable)."""

    max_record_bytes: int = field(default_factory=lambda: _env_int("RUNLENS_MAX_RECORD_BYTES", 64 * 2**20))
    max_decompressed_bytes: int = field(default_factory=lambda: _env_int("RUNLENS_MAX_DECOMPRESSED_BYTES", 64 * 2**30))
    max_nesting_depth: int = field(default_factory=lambda: _env_int("RUNLENS_MAX_NESTING_DEPTH", 128))
    ingest_workers: int = field(default_factory=lambda: _env_int("RUNLENS_INGEST_WORKERS", os.cpu_count() or 1))


@dataclass(frozen=True)
class Settings:
    """Paths and thresholds for one runlens data root."""

    data_dir: Path
    exports_dir: Path
    lake_dir: Path
    warehouse_path: Path
    schema_path: Path
    quarantine_rate_threshold: float = 0.05
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_env(cls, data_dir: str | Path | None = None) -> Settings:
        root = _data_root(data_dir)
        exports_dir = Path(os.environ.get("RUNLENS_EXPORTS_DIR") or root / "exports").resolve()
        lake_dir = Path(os.environ.get("RUNLENS_LAKE_DIR") or root / "lake").resolve()
        if exports_dir.is_relative_to(lake_dir):  # the other way round is fine: discovery skips the lake's files
            raise ConfigError(
                f"the exports folder {exports_dir} is inside the lake {lake_dir} (RUNLENS_EXPORTS_DIR, "
                "RUNLENS_LAKE_DIR, RUNLENS_DATA_DIR): runlens writes there, so exports must be kept apart"
            )
        warehouse_path = Path(os.environ.get("RUNLENS_WAREHOUSE") or root / "warehouse.duckdb").resolve()
        for what, path in (("the data directory", root), ("the warehouse", warehouse_path)):
            if "?" in str(path):  # DuckDB's database files and Dagster's SQLite storage: a URL, where ? ends the path
                raise ConfigError(
                    f"{what} {path} holds a '?', which DuckDB and Dagster read as the end of a database path "
                    "(RUNLENS_DATA_DIR, --data-dir, RUNLENS_WAREHOUSE): use a path without one"
                )
        return cls(
            data_dir=root,
            exports_dir=exports_dir,
            lake_dir=lake_dir,
            warehouse_path=warehouse_path,
            schema_path=Path(os.environ.get("RUNLENS_SCHEMA") or DEFAULT_SCHEMA).resolve(),
            quarantine_rate_threshold=_env_fraction("RUNLENS_QUARANTINE_RATE_THRESHOLD", 0.05),
        )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)


def _data_root(data_dir: str | Path | None) -> Path:
    """The data directory: ``data_dir`` (``--data-dir``), else ``$RUNLENS_DATA_DIR``, else ./data."""
    return Path(data_dir or os.environ.get("RUNLENS_DATA_DIR") or "data").resolve()


def sql_command(query: str, data_dir: Path | None) -> str:
    """The ``runlens sql`` command line that runs ``query`` on ``data_dir``'s warehouse, for hints to paste: with
    ``--data-dir`` unless ``runlens sql`` opens that folder without it (``$RUNLENS_DATA_DIR``, else ./data; a hint
    that left it out for ./data while ``RUNLENS_DATA_DIR`` named another folder queried that one), or it is unknown
    (None)."""
    flag = "" if data_dir is None or data_dir == _data_root(None) else f" --data-dir {shlex.quote(str(data_dir))}"
    return f'runlens sql "{query}"{flag}'
