"""Schedules: the daily metric refresh (stuck runs and regressions move with time even without new exports)."""

import dagster as dg

daily_metrics_refresh = dg.ScheduleDefinition(
    name="daily_metrics_refresh",
    target=dg.AssetSelection.assets(
        "workflow_hourly_throughput", "error_signatures", "stuck_runs", "workflow_regressions", "warehouse"
    ),
    cron_schedule="15 0 * * *",
    execution_timezone="UTC",
)
