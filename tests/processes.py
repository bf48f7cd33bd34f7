"""runlens as a separate process, for the tests that interrupt it or run two at once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

RUNLENS = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "runlens"


def start_runlens(*args: str | Path, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen[Any]:
    """Start ``runlens ARGS`` with ``env`` added to this environment; ``popen`` says where its output goes."""
    return subprocess.Popen([str(RUNLENS), *map(str, args)], env={**os.environ, **(env or {})}, **popen)


def start_runlens_run(data: Path, dagster_home: Path, **popen: Any) -> subprocess.Popen[Any]:
    """Start ``runlens run`` on ``data`` with its own Dagster instance; ``popen`` says where its output goes."""
    return start_runlens("run", "--data-dir", data, env={"DAGSTER_HOME": str(dagster_home)}, **popen)
