"""Advisory file locks that serialise writers of one data directory.

``lake/.write.lock`` is held by every write to the lake (an ingest, a runs rebuild, a metric refresh, the
warehouse swap), so Dagster runs launched from the UI and ``runlens run`` never write the same table at once; taking
it also sweeps the temporaries a killed writer left behind.
``.runlens-run.lock`` in the data directory is held for a whole ``runlens run``: a second one waits for the first
(and says so) instead of interleaving with it. Locks die with their process, so a killed run never leaves one
behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from runlens import lake
from runlens.errors import LockedError


@contextmanager
def file_lock(path: Path, *, wait_s: float = 3600.0, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockedError(
                        f"{path}: another runlens process still holds the lock after {wait_s:.0f} s"
                    ) from None
                if on_wait and not told:
                    on_wait(f"another runlens process is writing to {path.parent}; waiting for it to finish")
                    told = True
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)


@contextmanager
def lake_write_lock(lake_dir: Path) -> Iterator[None]:
    """Hold the lake's write lock. Every writer of the lake holds it, so whatever temporary file or folder exists
    when it is acquired was left by a killed writer: it is swept first, and a crash leaves no orphan for long."""
    with file_lock(lake_dir / ".write.lock"):
        lake.sweep_temporaries(lake_dir)
        yield
