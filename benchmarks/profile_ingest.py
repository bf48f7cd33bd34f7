"""Where runlens ingest spends its time: ``python -m benchmarks.profile_ingest [--runs 200000]``.

Samples one ``ingest_file`` of a generated NDJSON export (in a child process, as the benchmark runs it) with
py-spy (pinned in requirements.lock, so the Quickstart installs it) and prints two tables: samples by the innermost
runlens line on the stack (what runlens code costs, including the library calls it makes), and by leaf function
(where the CPU actually is). A file under 256 MiB is ingested in one process, so the profile shows the per-batch
work the worker processes do for larger files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks import datasets
from benchmarks.measure import child_command, child_env
from benchmarks.report import markdown_table
from benchmarks.scales import DEFAULT_DATA_DIR

RATE_HZ = 250
TOP = 15
OUTSIDE = "(no runlens function on the stack: interpreter start, imports, exit, threads waiting for work)"


def py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return found


def record(export: datasets.Export, out: Path) -> Path:
    """Run the benchmark's ingest task under py-spy; returns the collapsed stacks file."""
    args_path, result_path, stacks = out / "args.json", out / "result.json", out / "stacks.txt"
    args_path.write_text(json.dumps({"file": str(export.path), "lake": str(out / "lake")}))
    command = [py_spy(), "record", "--native", "-r", str(RATE_HZ), "-f", "raw", "-o", str(stacks), "--"]
    subprocess.run(command + child_command("ingest", args_path, result_path), cwd=out, env=child_env(), check=True)
    return stacks


def frame_name(frame: str) -> str:
    """``fn (path/to/file.py:12)`` -> ``fn (file.py:12)``; native frames keep their symbol."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1]}" if where else name


def summarise(stacks: Path) -> tuple[Counter[str], Counter[str], int]:
    """Samples by innermost runlens frame and by leaf frame, and the total."""
    by_runlens: Counter[str] = Counter()
    by_leaf: Counter[str] = Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, samples = stack.split(";"), int(count)
        total += samples
        runlens_frames = [f for f in frames if "runlens/" in f and not f.startswith("<module>")]
        by_runlens[frame_name(runlens_frames[-1]) if runlens_frames else OUTSIDE] += samples
        by_leaf[frame_name(frames[-1])] += samples
    return by_runlens, by_leaf, total


def table(counts: Counter[str], total: int, what: str) -> str:
    rows = [[f"{n / total:.1%}", name] for name, n in counts.most_common(TOP)]
    return markdown_table(["share", what], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200_000, help="runs in the generated export (default 200000)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="folder for generated data (reused)")
    args = parser.parse_args(argv)
    export = datasets.export_file(args.data.resolve(), args.runs, "jsonl")
    with tempfile.TemporaryDirectory(prefix="runlens-profile-") as tmp:
        by_runlens, by_leaf, total = summarise(record(export, Path(tmp)))
    print(f"py-spy, {RATE_HZ} Hz, {total} samples, ingest_file of {export.records:,} records ({export.path.name})\n")
    print(table(by_runlens, total, "innermost runlens frame (inclusive of the library calls it makes)") + "\n")
    print(table(by_leaf, total, "leaf frame (self time)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
