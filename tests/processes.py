"""`runlens run` as a separate process, for the tests that interrupt it or run two at once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

RUNLENS = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "runlens"


def start_runlens_run(data: Path, dagster_home: Path, **popen: Any) -> subprocess.Popen[Any]:
    """Start ``runlens run`` on ``data`` with its own Dagster instance; ``popen`` says where its output goes."""
    return subprocess.Popen(
        [str(RUNLENS), "run", "--data-dir", str(data)], env={**os.environ, "DAGSTER_HOME": str(dagster_home)}, **popen
    )
