"""Run configuration shared by the day-partitioned assets."""

from datetime import date

import dagster as dg
from pydantic import Field


class DaysConfig(dg.Config):
    """Which days of the selected partition range to recompute.

    ``runlens run`` and the export sensor pass the days that new exports changed, so the rest of the range is not
    rewritten; empty means every day in the range.
    """

    only_days: list[str] = Field(default_factory=list)

    def select(self, window_days: list[date]) -> list[date]:
        if not self.only_days:
            return window_days
        wanted = {date.fromisoformat(d) for d in self.only_days}
        return [d for d in window_days if d in wanted]


def window_days(context: dg.AssetExecutionContext) -> list[date]:
    """The UTC days of the partition (range) being materialized."""
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    return [date.fromordinal(o) for o in range(start.toordinal(), end.toordinal())]
