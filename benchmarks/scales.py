"""The two benchmark scales and the paths the benchmark uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = PROJECT_DIR / "benchmarks" / "data"
DEFAULT_OUT_DIR = PROJECT_DIR / "benchmarks" / "results"
SEED = 20261101


@dataclass(frozen=True)
class Scale:
    """Sizes of one benchmark scale (``full`` is the one the targets are written for)."""

    name: str
    ingest_runs: int  # runs in the one-file export of each format (scenarios 1, 2, 3 and 5)
    growth_runs: int  # runs in the larger NDJSON export of scenario 3 (peak RSS must not grow)
    baseline_a_sample: int  # records that baseline A (json + jsonschema) parses and validates
    repeats: int  # runs of each ingest measurement (the median is reported)
    lake_runs: tuple[int, ...]  # sizes of the synthetic lake of scenario 4 (targets apply to the last)
    lake_days: int  # daily exports (and created_date partitions) the lake's runs are spread over


SCALES = {
    "smoke": Scale("smoke", 20_000, 100_000, 2_000, 1, (20_000, 100_000), 14),
    "full": Scale("full", 1_000_000, 5_000_000, 50_000, 3, (1_000_000, 10_000_000), 365),
}
