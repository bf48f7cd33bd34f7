"""What to recompute after new ingests: the days they change, as Dagster runs over daily partition ranges.

Shared by ``runlens run`` and the sensor, so both refresh exactly the same partitions. The changed days are
grouped into ranges with small gaps (Dagster records every partition of a range, so one stale export from months
ago gets its own short range instead of stretching one range over the months between); the days a run's row may
move between share one range when they are at most a month apart. Each run rebuilds exactly
its days (run config); the range only says which partitions Dagster records. Days outside the partitions
definition (before its start, after today) ride along with the nearest range. The last run also refreshes the
whole-lake metric tables and the warehouse, and records the ingests it covered. With no ingest pending, whole-lake
tables computed with other parameters than the environment's now are recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from runlens import metrics, runs
from runlens.config import Settings
from runlens.defs.partitions import days as day_partitions

DAY_ASSETS = ["runs", "workflow_daily_metrics"]
FLEET_ASSETS = ["workflow_hourly_throughput", "error_signatures", "stuck_runs", "workflow_regressions"]
FINAL_ASSETS = [*DAY_ASSETS, *FLEET_ASSETS, "warehouse"]
MAX_GAP_DAYS = 7
# Days one run's records lie on that are at most this far apart share one Dagster run of a plan (see day_clusters).
MAX_LINKED_SPAN_DAYS = 31
# Evaluated only by a plan's final run, once every day of the plan is rebuilt: between two runs of a plan, a run
# whose records lie on days farther apart than MAX_LINKED_SPAN_DAYS may be in two partitions (or in none).
PLAN_CHECKS = [dg.AssetCheckKey(dg.AssetKey("runs"), "run_ids_unique")]
# The runs of one refresh plan requested by the sensor share this tag (see earlier_step_failed).
PLAN_TAG = "runlens/refresh_plan"


@dataclass(frozen=True)
class DaysRefresh:
    """One Dagster run of a refresh over days: the partition range it records and the exact days it rebuilds. The
    final run of a plan also refreshes the whole-lake tables over ``all_days`` and the warehouse, and records the
    ingests up to ``newest_seq`` applied."""

    first: date
    last: date
    days: list[date]
    final: bool
    all_days: list[date]
    newest_seq: int

    @property
    def selection(self) -> list[str]:
        return FINAL_ASSETS if self.final else DAY_ASSETS

    @property
    def deferred_checks(self) -> list[dg.AssetCheckKey]:
        """The checks of ``selection`` this run leaves to the plan's final run (``PLAN_CHECKS``)."""
        return [] if self.final else PLAN_CHECKS

    @property
    def tags(self) -> dict[str, str]:
        return {
            ASSET_PARTITION_RANGE_START_TAG: self.first.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: self.last.isoformat(),
        }

    @property
    def run_config(self) -> dict[str, Any]:
        only = {"config": {"only_days": [d.isoformat() for d in self.days]}}
        ops: dict[str, Any] = {name: only for name in DAY_ASSETS}
        if self.final:
            ops["reliability_tables"] = {"config": {"only_days": [d.isoformat() for d in self.all_days]}}
            ops["warehouse"] = {"config": {"applied_ingest_seq": self.newest_seq}}
        return {"ops": ops}


class _NoRange:
    """A refresh run over no partition: it records no range, and leaves no check to a later run."""

    @property
    def deferred_checks(self) -> list[dg.AssetCheckKey]:
        return []

    @property
    def tags(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class WarehouseRefresh(_NoRange):
    """The one run of a refresh for ingests that change no day (every record quarantined): it rebuilds only the
    warehouse, whose views then show their quarantine and ingest_log rows, and records the ingests up to
    ``newest_seq`` applied."""

    newest_seq: int

    @property
    def selection(self) -> list[str]:
        return ["warehouse"]

    @property
    def run_config(self) -> dict[str, Any]:
        return {"ops": {"warehouse": {"config": {"applied_ingest_seq": self.newest_seq}}}}


@dataclass(frozen=True)
class ParamsRefresh(_NoRange):
    """The last run of a refresh that changes no day, when whole-lake metric tables were computed with other
    parameters than the environment sets now (``metrics.stale_params``): it recomputes those tables whole."""

    tables: list[str]

    @property
    def selection(self) -> list[str]:
        return self.tables

    @property
    def run_config(self) -> dict[str, Any]:
        return {}


RefreshRun = DaysRefresh | WarehouseRefresh | ParamsRefresh


def ingest_range(existing: list[str], keys: list[str]) -> tuple[list[str], dict[str, str]]:
    """For one ingest run over ``keys`` (export partition keys in path order): the keys to add to the dynamic
    partitions, and the range tags that cover every key (dynamic partitions keep insertion order, so new keys go
    after the existing ones; keys in between whose content was already ingested are skipped by the asset)."""
    known = set(existing)
    added = [key for key in keys if key not in known]
    order = [*existing, *added]
    span = sorted(order.index(key) for key in keys)
    return added, {ASSET_PARTITION_RANGE_START_TAG: order[span[0]], ASSET_PARTITION_RANGE_END_TAG: order[span[-1]]}


def plan_refresh(settings: Settings) -> list[RefreshRun]:
    """The runs that bring ``runs`` and the metrics up to date with every committed ingest and with the metric
    parameters the environment sets ([] when they are); a RunlensError when ``lake/runs`` holds a folder that is not
    a partition (no query could read the table)."""
    runs.refuse_stray_folders(settings.lake_dir)
    pending, newest_seq = runs.pending_exports(settings.lake_dir)
    linked = runs.linked_days(settings.lake_dir, pending) if pending else []
    if not linked:  # no day changes: tables of other parameters are recomputed after the ingests are recorded
        stale = metrics.stale_params(settings.lake_dir)
        # only quarantined records: the warehouse shows them, and they are recorded applied
        recorded: list[RefreshRun] = [WarehouseRefresh(newest_seq)] if pending else []
        return recorded + ([ParamsRefresh(stale)] if stale else [])
    changed = sorted(set().union(*linked))
    low, high = day_partitions.start.date(), datetime.now(UTC).date()
    clusters = day_clusters(linked, low, high)
    return [
        DaysRefresh(
            first=_position(cluster[0], low, high),
            last=_position(cluster[-1], low, high),
            days=cluster,
            final=i == len(clusters) - 1,
            all_days=changed,
            newest_seq=newest_seq,
        )
        for i, cluster in enumerate(clusters)
    ]


def day_clusters(linked: list[frozenset[date]], low: date, high: date) -> list[list[date]]:
    """The days to rebuild (``runs.linked_days``) grouped into runs, in day order: a day within ``MAX_GAP_DAYS`` of
    the run's last day joins it, and the days of one set of linked days (a run's row may move between them) at most
    ``MAX_LINKED_SPAN_DAYS`` apart span one run, with every day between them. Split over two runs, a run moving to
    an earlier day is in two partitions between them, and one moving to a later day in none. Farther apart (a run
    created years before its last export) they are not joined: one Dagster run over years of daily partitions
    took minutes to record them all, at every later export of that run (found by a review), so such a run is
    briefly in two partitions or none between the plan's runs, and the plan's blocking ``run_ids_unique`` check
    waits for its final run (``PLAN_CHECKS``). Days are compared at their position in the partitions definition (a
    day before its start or after ``high`` rides along with the nearest run)."""
    spans: list[tuple[date, date, frozenset[date]]] = []
    for days in linked:
        first, last = _position(min(days), low, high), _position(max(days), low, high)
        if (last - first).days <= MAX_LINKED_SPAN_DAYS:
            spans.append((first, last, days))
        else:
            spans.extend((_position(day, low, high), _position(day, low, high), frozenset([day])) for day in days)
    spans.sort(key=itemgetter(0, 1))  # not by the sets, which do not order
    clusters: list[tuple[date, set[date]]] = []  # (the run's last position, its days)
    for first, last, days in spans:
        if clusters and (first - clusters[-1][0]).days <= MAX_GAP_DAYS:
            clusters[-1] = (max(clusters[-1][0], last), clusters[-1][1] | days)
        else:
            clusters.append((last, set(days)))
    return [sorted(days) for _, days in clusters]


def _position(day: date, low: date, high: date) -> date:
    return min(max(day, low), high)


def earlier_step_failed(instance: dg.DagsterInstance, plan_id: str | None) -> bool:
    """Whether a run of the refresh plan ``plan_id`` (its ``PLAN_TAG``) failed or was canceled: then its final run
    must not mark the ingests applied, or that run's days would never be rebuilt. False without a plan id (a run of
    ``runlens run``, which stops at the first failed run)."""
    if not plan_id:
        return False
    stopped = [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.CANCELING]
    return bool(instance.get_runs(filters=dg.RunsFilter(tags={PLAN_TAG: plan_id}, statuses=stopped), limit=1))
