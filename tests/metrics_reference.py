"""The metric definitions of docs/metrics.md computed in plain Python, to check the SQL against.

Written from the definitions, not from the SQL: sorted lists and linear interpolation for quantiles, the Wilson
formula, UTC hour buckets with datetime arithmetic.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

Z = 1.959963984540054
FINISHED = ("completed", "failed")
UNFINISHED = ("queued", "running")
INGESTED_AT = datetime(2026, 4, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Run:
    """One row of the runs lake as the tests describe it; derived columns follow the warehouse contract."""

    run_id: str
    workflow_name: str
    status: str
    created_at: datetime | None
    completed_at: datetime | None = None
    error: str | None = None
    ingested_at: datetime = INGESTED_AT

    @property
    def duration_s(self) -> float | None:
        if self.status not in FINISHED or self.created_at is None or self.completed_at is None:
            return None
        seconds = (self.completed_at - self.created_at).total_seconds()
        return seconds if seconds >= 0 else None

    @property
    def anomalies(self) -> list[str]:
        finished = self.status in FINISHED
        checks = {
            # a fact about the two timestamps, whatever the status (docs/metrics.md, Durations)
            "completed_before_created": self.created_at is not None
            and self.completed_at is not None
            and self.completed_at < self.created_at,
            "completed_at_on_unfinished": not finished and self.completed_at is not None,
            "failed_without_error": self.status == "failed" and self.error is None,  # a blank one is an error
            "missing_created_at": self.created_at is None,
        }
        return [name for name, applies in checks.items() if applies]

    @property
    def created_date_source(self) -> str:
        if self.created_at is not None:
            return "created_at"
        return "completed_at" if self.completed_at is not None else "ingested_at"

    @property
    def created_date(self) -> date:
        moment = self.created_at or self.completed_at or self.ingested_at
        return moment.astimezone(UTC).date()

    @property
    def completion_hour(self) -> datetime | None:
        if self.status not in FINISHED or self.completed_at is None:
            return None
        return self.completed_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between the order statistics at (n - 1) * q (what quantile_cont computes)."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def wilson(failed: int, finished: int) -> tuple[float | None, float | None]:
    """The Wilson score interval by its definition, not its closed form: the rates p whose score statistic
    |rate - p| / sqrt(p (1 - p) / finished) is at most Z, found by bisection on each side of the rate."""
    if finished == 0:
        return None, None
    rate = failed / finished

    def inside(p: float) -> bool:
        return (rate - p) ** 2 * finished <= Z * Z * p * (1 - p)

    def edge(outer: float) -> float:  # the boundary between ``outer`` (outside, or the rate) and the rate (inside)
        lo, hi = outer, rate
        if inside(outer):
            return outer
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if inside(mid) else (mid, hi)
        return hi

    return edge(0.0), edge(1.0)


def cohort_stats(runs: Iterable[Run]) -> dict[str, object]:
    runs = list(runs)
    completed = sum(run.status == "completed" for run in runs)
    failed = sum(run.status == "failed" for run in runs)
    durations = [run.duration_s for run in runs if run.duration_s is not None]
    low, high = wilson(failed, completed + failed)
    return {
        "runs": len(runs),
        "completed": completed,
        "failed": failed,
        "in_flight": sum(run.status in UNFINISHED for run in runs),
        "failure_rate": failed / (completed + failed) if completed + failed else None,
        "failure_rate_low": low,
        "failure_rate_high": high,
        "p50_s": quantile(durations, 0.5),
        "p90_s": quantile(durations, 0.9),
        "p95_s": quantile(durations, 0.95),
        "p99_s": quantile(durations, 0.99),
        "max_s": max(durations, default=None),
    }


def group(runs: Iterable[Run], key: Callable[[Run], object]) -> dict[object, list[Run]]:
    groups: dict[object, list[Run]] = defaultdict(list)
    for run in runs:
        groups[key(run)].append(run)
    return groups


def daily_metrics(runs: Iterable[Run]) -> dict[tuple[str, date], dict[str, object]]:
    return {
        key: cohort_stats(members)
        for key, members in group(runs, lambda run: (run.workflow_name, run.created_date)).items()
    }


def hourly_throughput(runs: Iterable[Run]) -> dict[tuple[str, datetime], dict[str, object]]:
    finished = [run for run in runs if run.completion_hour is not None]
    return {
        key: {
            "finished": len(members),
            "completed": sum(run.status == "completed" for run in members),
            "failed": sum(run.status == "failed" for run in members),
        }
        for key, members in group(finished, lambda run: (run.workflow_name, run.completion_hour)).items()
    }


def in_window(runs: Iterable[Run], since: datetime, until: datetime) -> list[Run]:
    return [run for run in runs if run.created_at is not None and since <= run.created_at < until]


def workflow_metrics(runs: Iterable[Run], since: datetime, until: datetime) -> dict[str, dict[str, object]]:
    members = group(in_window(runs, since, until), lambda run: run.workflow_name)
    return {name: cohort_stats(workflow_runs) for name, workflow_runs in members.items()}


def stuck_runs(
    runs: Sequence[Run],
    as_of: datetime,
    *,
    min_age_s: float = 3600.0,
    p99_multiplier: float = 3.0,
    p99_window_days: int = 28,
    threshold_s: float | None = None,
) -> dict[str, dict[str, object]]:
    recent = workflow_metrics(runs, as_of - timedelta(days=p99_window_days), as_of)
    stuck = {}
    for run in runs:
        if run.status not in UNFINISHED or run.created_at is None:
            continue
        p99 = recent.get(run.workflow_name, {}).get("p99_s")
        if threshold_s is not None:
            threshold = threshold_s
        else:
            threshold = min_age_s if p99 is None else max(min_age_s, p99_multiplier * p99)
        age = (as_of - run.created_at).total_seconds()
        if age > threshold:
            stuck[run.run_id] = {
                "workflow_name": run.workflow_name,
                "status": run.status,
                "age_s": age,
                "threshold_s": threshold,
                "workflow_p99_s": p99,
            }
    return stuck


def difference(later: object, earlier: object) -> float | None:
    if later is None or earlier is None:
        return None
    return float(later) - float(earlier)


def ratio(numerator: object, denominator: object) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return float(numerator) / float(denominator)


def regressions(
    runs: Sequence[Run], as_of: datetime, *, p95_ratio: float = 1.5, min_runs: int = 20, window_days: int = 7
) -> dict[str, dict[str, object]]:
    window = timedelta(days=window_days)
    latest = workflow_metrics(runs, as_of - window, as_of)
    previous = workflow_metrics(runs, as_of - 2 * window, as_of - window)
    flagged = {}
    for name in latest.keys() & previous.keys():
        now, before = latest[name], previous[name]
        now_finished = now["completed"] + now["failed"]
        before_finished = before["completed"] + before["failed"]
        rate_worse = (
            now["failure_rate_low"] is not None
            and before["failure_rate_high"] is not None
            and now["failure_rate_low"] > before["failure_rate_high"]
        )
        p95_worse = (
            now_finished >= min_runs
            and before_finished >= min_runs
            and now["p95_s"] is not None
            and before["p95_s"] is not None
            and now["p95_s"] > p95_ratio * before["p95_s"]
        )
        if rate_worse or p95_worse:
            flagged[name] = {
                "previous_finished": before_finished,
                "latest_finished": now_finished,
                "previous_failure_rate": before["failure_rate"],
                "previous_failure_rate_low": before["failure_rate_low"],
                "previous_failure_rate_high": before["failure_rate_high"],
                "latest_failure_rate": now["failure_rate"],
                "latest_failure_rate_low": now["failure_rate_low"],
                "latest_failure_rate_high": now["failure_rate_high"],
                # docs/metrics.md: failure_rate_change = latest - previous, p95_ratio = latest / previous
                "failure_rate_change": difference(now["failure_rate"], before["failure_rate"]),
                "previous_p95_s": before["p95_s"],
                "latest_p95_s": now["p95_s"],
                "p95_ratio": ratio(now["p95_s"], before["p95_s"]),
                "failure_rate_regressed": rate_worse,
                "p95_regressed": p95_worse,
            }
    return flagged


def error_signatures(
    runs: Iterable[Run], signature_of: Callable[[str | None], str]
) -> dict[tuple[str, str], dict[str, object]]:
    failed = [run for run in runs if run.status == "failed"]
    signatures = {}
    for key, members in group(failed, lambda run: (run.workflow_name, signature_of(run.error))).items():
        created = [run.created_at for run in members if run.created_at is not None]
        earliest = min(members, key=lambda run: (run.created_at is None, run.created_at or INGESTED_AT, run.run_id))
        signatures[key] = {
            "runs": len(members),
            "first_seen": min(created, default=None),
            "last_seen": max(created, default=None),
            "example": earliest.error,
        }
    return signatures
