"""The benchmark suite at its smoke scale: every scenario runs and reports sane numbers (no timing thresholds)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from benchmarks import run

SCENARIOS = {"1", "2 json", "2 jsonl.gz", "3", "4", "5"}
MACHINE_KEYS = {"cpu_model", "logical_cores", "physical_cores", "memory_gib", "python", "packages"}
VERSIONED = {"duckdb", "pyarrow", "polars"}
SEED = 7


@dataclass(frozen=True)
class SmokeRun:
    results: dict[str, Any]
    printed: str
    errors: str  # its standard error and its children's
    data: Path


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> SmokeRun:
    """One smoke run (about 30 s on 2 cores) on data of a seed other than the default: its results JSON and what it
    printed."""
    root = tmp_path_factory.mktemp("benchmark")
    printed, progress = io.StringIO(), io.StringIO()
    redirected = contextlib.redirect_stdout(printed), contextlib.redirect_stderr(progress)
    with open(root / "stderr", "w+b") as errors, redirected[0], redirected[1], _stderr_to(errors):
        args = ["--scale", "smoke", "--out", str(root / "results"), "--data", str(root / "data"), "--seed", str(SEED)]
        code = run.main(args)
    assert code == 0
    [path] = (root / "results").glob("smoke-*.json")
    return SmokeRun(
        json.loads(path.read_text()),
        printed.getvalue(),
        progress.getvalue() + (root / "stderr").read_text(),
        root / "data",
    )


@contextlib.contextmanager
def _stderr_to(file: BinaryIO) -> Iterator[None]:
    """File descriptor 2 of this process and of the children it starts (each measurement runs in one) into ``file``
    (``sys.stderr`` is pytest's capture, not the descriptor)."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def test_every_scenario_is_measured(smoke: SmokeRun) -> None:
    measured = {m["scenario"] for m in smoke.results["measurements"]}
    targeted = {t["key"] for t in smoke.results["targets"]}
    assert measured == SCENARIOS
    assert targeted == SCENARIOS


def test_seed_is_used_and_reported(smoke: SmokeRun) -> None:
    assert smoke.results["seed"] == SEED
    assert f"generator seed {SEED}" in smoke.printed
    generated = [p.name for p in (smoke.data / "exports").iterdir()]
    assert generated and all(f"-seed{SEED}-" in name for name in generated)


def test_machine_is_described(smoke: SmokeRun) -> None:
    machine = smoke.results["machine"]
    assert machine.keys() >= MACHINE_KEYS
    assert machine["logical_cores"] >= 1 and machine["memory_gib"] > 0
    assert machine["packages"].keys() >= VERSIONED and all(machine["packages"].values())


def test_measurements_are_sane(smoke: SmokeRun) -> None:
    for m in smoke.results["measurements"]:
        assert m["records"] > 0, m
        assert 0 < m["seconds"] < 600, m
        assert math.isfinite(m["rate_per_s"]) and m["rate_per_s"] > 0, m
        assert 10 < m["peak_rss_mib"] <= m["peak_tree_rss_mib"] < 64 * 1024, m
        assert m["ratio"], m


def test_ingest_baselines_see_the_same_file(smoke: SmokeRun) -> None:
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for m in smoke.results["measurements"]:
        by_scenario.setdefault(m["scenario"], []).append(m)
    for scenario in ("1", "2 json", "2 jsonl.gz"):
        runlens, a, b, *alone = by_scenario[scenario]
        assert [m["records"] for m in alone] == ([runlens["records"]] if scenario == "1" else [])
        assert runlens["records"] == b["records"] == b["details"]["rows_written"]
        assert runlens["details"]["valid"] + runlens["details"]["quarantined"] == runlens["records"]
        assert 0 < runlens["details"]["quarantined"] < runlens["records"] / 10
        assert a["records"] <= runlens["records"] and a["details"]["invalid"] < a["records"]


def test_targets_have_verdicts(smoke: SmokeRun) -> None:
    for target in smoke.results["targets"]:
        assert isinstance(target["passed"], bool), target
        assert math.isfinite(target["measured"]) and target["measured"] > 0, target
        assert target["required"] > 0 and target["margin"], target


def test_no_warning_is_printed(smoke: SmokeRun) -> None:
    """Two Dagster BetaWarnings (``backfill_policy``) came out of scenario 5's probe, which imports the asset modules
    outside Dagster's loader, for sixteen sessions; the progress lines are all that goes to standard error."""
    assert "benchmark: pipeline" in smoke.errors, smoke.errors
    assert "Warning" not in smoke.errors, smoke.errors


def test_report_is_printed(smoke: SmokeRun) -> None:
    assert "| # | measurement | records | seconds | records/s | ratio |" in smoke.printed
    assert "### Targets" in smoke.printed
    assert "Scenario 5: where `runlens run` spends its time" in smoke.printed
    assert smoke.printed.count("PASS") + smoke.printed.count("FAIL") == len(smoke.results["targets"])


def test_results_file_is_named_after_the_scale_and_the_start_time(smoke: SmokeRun) -> None:
    [line] = [line for line in smoke.printed.splitlines() if line.startswith("results: ")]
    name = Path(line.removeprefix("results: ")).name
    match = re.fullmatch(r"smoke-(\d{8}T\d{6}Z)\.json", name)
    assert match, name
    started = datetime.strptime(smoke.results["started_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert datetime.strptime(match[1], "%Y%m%dT%H%M%SZ") == started


def test_scenario_4_names_each_lake_by_the_runs_its_rebuild_wrote(smoke: SmokeRun) -> None:
    lake = [m for m in smoke.results["measurements"] if m["scenario"] == "4"]
    rebuilds = [m for m in lake if m["label"].startswith("runs.rebuild_days")]
    refreshes = [m for m in lake if m["label"] == "metrics.refresh_metrics, full"]
    assert len(rebuilds) == len(refreshes) == 2
    for rebuild, refresh in zip(rebuilds, refreshes, strict=True):
        assert refresh["records"] == rebuild["records"] > 0
        assert refresh["ratio"] == rebuild["ratio"] == f"lake of {rebuild['records']:,} runs"
    targets = [t["description"] for t in smoke.results["targets"] if t["key"] == "4"]
    assert sum(f"({rebuilds[-1]['records']:,} runs)" in t for t in targets) == 2
