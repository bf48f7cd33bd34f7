"""Dagster runs whose process died without ending them (SIGKILL, out of memory, a reboot), told from live ones.

Such a run stays STARTED for good: it keeps the one place of the run queue (``max_concurrent_runs: 1`` in
``dagster.yaml``), so the daemon launches nothing more, and the slot of the ``runlens_lake`` pool, so every later
run waits for it. With the default run launcher (runs are subprocesses of the code server) Dagster's run monitoring
cannot check a run worker's health, and a code server that died with its runs does not mark them when it comes
back. ``runlens run`` and the sensors release such runs themselves. Processes are looked up in this process's PID
namespace (this machine, or this container): the instance is local (SQLite), and a run started in another container
sharing it would be taken for dead.
"""

from __future__ import annotations

import os

import dagster as dg
from dagster._core.events import DagsterEventType

from runlens.defs.resources import LAKE_POOL

# The events a run's processes log with their pid: the run worker's start, and each step's (a step may run in a
# process of its own). Reading only these keeps the look at a long run's log short.
PID_EVENTS = {DagsterEventType.RUN_START, DagsterEventType.STEP_START}


def lake_pool_users(instance: dg.DagsterInstance) -> set[str]:
    """The runs that hold a slot of the ``runlens_lake`` pool or wait in its queue (none when it has no limit)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return set()
    info = storage.get_concurrency_info(LAKE_POOL)
    if info.limit is None:
        return set()
    return info.active_run_ids | {step.run_id for step in info.pending_steps}


def release_if_dead(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """Release the run ``run_id`` when it is dead, and say what was done; None when it is alive.

    A run is dead when it is gone, has finished, or when no process that started it or one of its steps is alive
    (``PID_EVENTS``); a run that has logged no such process is taken as alive. A dead run that has not finished is
    marked failed; the concurrency slots (and places in pool queues) of a dead run are freed: a finished run that
    still holds them blocks its pools too. The run's status is read after its processes are looked at: a run whose
    worker logs its end and exits meanwhile has finished, and is not marked failed.
    """
    events = instance.all_logs(run_id, of_type=PID_EVENTS)
    pids = {e.dagster_event.pid for e in events if e.dagster_event and e.dagster_event.pid}
    gone = bool(pids) and not any(_alive(pid) for pid in pids)
    run = instance.get_run_by_id(run_id)
    if not (run is None or run.is_finished or gone):
        return None
    done = "held concurrency slots after it ended: freed"
    if run is not None and not run.is_finished:
        instance.report_run_failed(run, message="its process ended without ending the run")
        done = f"was left {run.status.value} by a process that ended: marked failed, its concurrency slots freed"
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return f"Dagster run {run_id} {done}"


def release_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Release every dead run (``release_if_dead``) that is STARTED or uses the ``runlens_lake`` pool; returns what
    was done, a line per run. Runs still STARTING or CANCELING are left to Dagster's run monitoring
    (``start_timeout_seconds``, ``cancel_timeout_seconds`` in ``dagster.yaml``), which also frees the slots of
    finished runs (``free_slots_after_run_end_seconds``) while the daemon runs."""
    started = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])
    candidates = {run.run_id for run in instance.get_runs(filters=started)} | lake_pool_users(instance)
    released = (release_if_dead(instance, run_id) for run_id in sorted(candidates))
    return [line for line in released if line is not None]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists (PermissionError: another user's, alive)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
