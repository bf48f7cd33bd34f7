"""Run configuration shared by the day-partitioned assets."""

from datetime import date

import dagster as dg
from pydantic import Field


class DaysConfig(dg.Config):
    """Which days to recompute.

    Empty: every day of the partition range being materialized. ``runlens run`` and the refresh sensor pass the
    exact days that new exports changed (see runlens.refresh): those are recomputed, and nothing else, even days
    outside the partitions definition (before its start or in the future), which the range cannot name.
    """

    only_days: list[str] = Field(default_factory=list)

    def select(self, window_days: list[date]) -> list[date]:
        if not self.only_days:
            return window_days
        return sorted({date.fromisoformat(d) for d in self.only_days})


def window_days(context: dg.AssetExecutionContext) -> list[date]:
    """The UTC days of the partition (range) being materialized."""
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    return [date.fromordinal(o) for o in range(start.toordinal(), end.toordinal())]
