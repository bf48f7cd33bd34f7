"""A description of the machine and software a benchmark ran on, for the results JSON."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import version
from typing import Any

import psutil

from benchmarks.scales import PROJECT_DIR

PACKAGES = ("duckdb", "pyarrow", "polars", "dagster", "orjson", "msgspec", "jsonschema", "jsonschema-rs", "numpy")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision() -> str:
    """The commit the benchmark ran against, with ``+dirty`` when the working tree had changes."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_DIR, capture_output=True, text=True, check=False).stdout

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no").strip() else "")


def describe() -> dict[str, Any]:
    memory = psutil.virtual_memory()
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(memory.total / 2**30, 1),
        "memory_available_gib_at_start": round(memory.available / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": {name: version(name) for name in PACKAGES},
        "runlens_revision": git_revision(),
    }
