"""The benchmark suite of issue 5: ``python -m benchmarks.run [--scale smoke|full] [--part all|ingest|lake] ...``.

Prints a Markdown table of rates, ratios and peak memory, the targets met or missed and where the time goes, and
writes the same as JSON (with a machine description) to ``<out>/<scale>-<UTC time>.json``. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import machine, scenarios
from benchmarks.report import Report
from benchmarks.scales import DEFAULT_DATA_DIR, DEFAULT_OUT_DIR, SCALES, SEED


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="smoke", help="smoke (about 30 s) or full")
    parser.add_argument(
        "--part",
        choices=PARTS,
        default="all",
        help="all scenarios, the ingest ones (1, 2, 3, 5) or the lake one (4)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="folder for the results JSON")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="folder for generated data (reused)")
    parser.add_argument(
        "--seed", type=int, default=SEED, help=f"generator seed (default {SEED}); others give data not tuned on"
    )
    return parser.parse_args(argv)


PARTS = ("all", "ingest", "lake")


def run(scale_name: str, data_dir: Path, seed: int = SEED, part: str = "all") -> Report:
    scale = SCALES[scale_name]
    work = data_dir / "work" / scale.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = Report(scale.name, machine.describe(), started, seed, part)
    bench = scenarios.Bench(scale, data_dir.resolve(), work.resolve(), report, seed)
    start = time.perf_counter()
    if part in ("all", "ingest"):
        ndjson = scenarios.ingest_comparisons(bench)
        scenarios.memory_growth(bench, ndjson.runlens)
    if part in ("all", "lake"):
        scenarios.lake_refresh(bench)
    if part in ("all", "ingest"):
        scenarios.end_to_end(bench, ndjson.baseline_b)
    bench.report.duration_s = time.perf_counter() - start
    shutil.rmtree(work, ignore_errors=True)
    return bench.report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args.scale, args.data, args.seed, args.part)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = report.started_at.replace("-", "").replace(":", "")
    name = report.scale if args.part == "all" else f"{report.scale}-{args.part}"
    path = args.out / f"{name}-{stamp}.json"
    path.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
    print(report.render())
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
