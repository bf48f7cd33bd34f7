"""What to recompute after new ingests: the days they change, as a Dagster partition range plus run config.

Shared by ``runlens run`` and the sensor, so both refresh exactly the same partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from runlens import runs
from runlens.config import Settings

DAY_ASSETS = ("runs", "workflow_daily_metrics")
REFRESH_ASSETS = (*DAY_ASSETS, "reliability_tables")


@dataclass(frozen=True)
class RefreshPlan:
    days: list[date]
    newest_seq: int

    @property
    def tags(self) -> dict[str, str]:
        return {
            ASSET_PARTITION_RANGE_START_TAG: self.days[0].isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: self.days[-1].isoformat(),
        }

    @property
    def run_config(self) -> dict[str, Any]:
        only = {"config": {"only_days": [d.isoformat() for d in self.days]}}
        ops: dict[str, Any] = {name: only for name in REFRESH_ASSETS}
        ops["warehouse"] = {"config": {"applied_ingest_seq": self.newest_seq}}
        return {"ops": ops}


def plan_refresh(settings: Settings) -> RefreshPlan | None:
    """The runs partitions that committed-but-unapplied ingests change; None when runs is up to date."""
    pending, newest_seq = runs.pending_exports(settings.lake_dir)
    if not pending:
        return None
    days = sorted(runs.affected_days(settings.lake_dir, pending))
    return RefreshPlan(days, newest_seq) if days else None
