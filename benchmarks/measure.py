"""Runs one benchmark task in a fresh child process and measures its peak memory.

Every measurement runs in its own process (``python -m benchmarks.child``), so that its peak memory is its own and
no allocator or cache state carries over from the one before. Two peaks are reported:

- ``peak_rss_mib``: the largest resident set of any single process of the task: the ``os.wait4`` rusage (exact, but
  blind to processes the task did not wait for, such as the workers of a ``forkserver`` pool) or the largest
  sampled one, whichever is larger;
- ``peak_tree_rss_mib``: the largest sum of resident sets over the task's process tree (the task and its worker
  processes), sampled every 0.1 s with psutil; pages shared between processes are counted once per process, so
  it is an upper bound, and ``peak_tree_pss_mib`` (shared pages split between the sharers) is the fair share;
- ``peak_main_rss_mib``: the task's own process alone (the one that reads the file), sampled.

The machine is shared: a task whose process tree grows beyond ``GUARD_SHARE`` of the memory available when it
started is killed (``MemoryGuardTripped``), so that a benchmark never pushes the machine into the OOM killer.
Tasks run in a temporary working folder, where DuckDB spills (its default ``temp_directory`` is ``.tmp``).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from benchmarks.scales import PROJECT_DIR

MIB = 2**20
SAMPLE_SECONDS = 0.1
GUARD_SHARE = 0.6


class ChildFailed(RuntimeError):
    """A benchmark task exited with an error."""


class MemoryGuardTripped(RuntimeError):
    """A benchmark task was killed because its process tree outgrew the memory guard."""

    def __init__(self, task: str, wall_s: float, guard_mib: float) -> None:
        super().__init__(f"benchmark task {task} killed after {wall_s:.1f} s above the {guard_mib:,.0f} MiB guard")
        self.wall_s = wall_s
        self.guard_mib = guard_mib


@dataclass(frozen=True)
class ChildRun:
    """What one task returned, its wall time (process start to exit) and its peak memory."""

    result: dict[str, Any]
    wall_s: float
    peak_rss_mib: float
    peak_tree_rss_mib: float
    peak_tree_pss_mib: float
    peak_main_rss_mib: float  # the task's own process (without its workers), sampled


class TreeSampler(threading.Thread):
    """Samples the memory of a process and all its descendants until stopped."""

    def __init__(self, pid: int, guard_bytes: float) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.guard_bytes = guard_bytes
        self.tripped = False
        self.done = threading.Event()
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_main = 0
        self.peak_single = 0

    def run(self) -> None:
        while not self.done.wait(SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> None:
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        rss = pss = 0
        for process in processes:
            try:
                info = process.memory_full_info()
            except psutil.Error:
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            self.peak_single = max(self.peak_single, info.rss)
            if process is self.root:
                self.peak_main = max(self.peak_main, info.rss)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        if rss > self.guard_bytes and not self.tripped:
            self.tripped = True
            for process in reversed(processes):
                with contextlib.suppress(psutil.Error):
                    process.kill()

    def stop(self) -> None:
        self.done.set()
        self.join()


def child_env() -> dict[str, str]:
    """The caller's environment without runlens or Dagster settings (every task configures its own paths), with
    the project on the import path (tasks run in a temporary folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLENS_", "DAGSTER_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_DIR), env.get("PYTHONPATH")]))
    return env


def child_command(task: str, args_path: Path, out_path: Path) -> list[str]:
    return [sys.executable, "-m", "benchmarks.child", task, str(args_path), str(out_path)]


def run_child(task: str, **args: Any) -> ChildRun:
    """Run ``benchmarks.child`` task ``task`` with keyword arguments ``args`` (JSON-serialisable)."""
    with tempfile.TemporaryDirectory(prefix="runlens-bench-") as tmp:
        args_path, out_path = Path(tmp) / "args.json", Path(tmp) / "result.json"
        args_path.write_text(json.dumps(args))
        command = child_command(task, args_path, out_path)
        guard = GUARD_SHARE * psutil.virtual_memory().available
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=tmp, env=child_env(), stdout=subprocess.DEVNULL)
        sampler = TreeSampler(process.pid, guard)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        sampler.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        if sampler.tripped:
            raise MemoryGuardTripped(task, wall, guard / MIB)
        if process.returncode != 0:
            raise ChildFailed(f"benchmark task {task} {args} exited with {process.returncode}")
        result = json.loads(out_path.read_text())
    peak = max(usage.ru_maxrss / 1024, sampler.peak_single / MIB)  # ru_maxrss is in KiB on Linux
    # a sample can miss a short peak; the tree never holds less than its largest process did
    tree_rss, tree_pss = max(sampler.peak_rss / MIB, peak), max(sampler.peak_pss / MIB, peak)
    return ChildRun(result, wall, peak, tree_rss, tree_pss, sampler.peak_main / MIB)
