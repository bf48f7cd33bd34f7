"""Partitions shared by assets, sensors and schedules."""

import dagster as dg

# One partition per export file (its path under exports/); added by the sensor and by `runlens run`.
export_files = dg.DynamicPartitionsDefinition(name="export_files")

# One partition per UTC day of created_date.
days = dg.DailyPartitionsDefinition(start_date="2020-01-01", timezone="UTC", end_offset=1)
