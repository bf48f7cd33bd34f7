"""What a benchmark run found: measurements, targets, breakdowns; rendered as Markdown tables and as JSON."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.measure import ChildRun, MemoryGuardTripped


@dataclass
class Measurement:
    """One timed subject of a scenario: the median of its repeats, and the peak memory over them."""

    scenario: str
    label: str
    records: int
    seconds: float
    repeats_s: list[float]
    peak_rss_mib: float  # largest single process
    peak_tree_rss_mib: float  # the process tree, summed (upper bound)
    peak_tree_pss_mib: float  # the process tree, shared pages split
    peak_main_rss_mib: float  # the task's own process
    ratio: str = ""  # how it compares, in words ("runlens = 31.2x this")
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    @property
    def completed(self) -> bool:
        return bool(self.details.get("completed", True))

    @classmethod
    def of(cls, scenario: str, label: str, runs: list[ChildRun], records: int | None = None) -> Measurement:
        """From the child runs of one subject; ``seconds`` is what the tasks timed (their work, not start-up)."""
        times = [run.result["seconds"] for run in runs]
        return cls(
            scenario=scenario,
            label=label,
            records=records if records is not None else int(runs[0].result["records"]),
            seconds=statistics.median(times),
            repeats_s=times,
            peak_rss_mib=max(run.peak_rss_mib for run in runs),
            peak_tree_rss_mib=max(run.peak_tree_rss_mib for run in runs),
            peak_tree_pss_mib=max(run.peak_tree_pss_mib for run in runs),
            peak_main_rss_mib=max(run.peak_main_rss_mib for run in runs),
            details={k: v for k, v in runs[0].result.items() if k not in ("seconds", "records")},
        )

    @classmethod
    def killed(cls, scenario: str, label: str, records: int, tripped: MemoryGuardTripped) -> Measurement:
        """A task killed by the memory guard: its time is a lower bound, its peak memory at least the guard."""
        guard, wall = tripped.guard_mib, tripped.wall_s
        return cls(
            scenario=scenario,
            label=label,
            records=records,
            seconds=wall,
            repeats_s=[wall],
            peak_rss_mib=guard,
            peak_tree_rss_mib=guard,
            peak_tree_pss_mib=guard,
            peak_main_rss_mib=guard,
            ratio=f"DID NOT FINISH: killed above the {guard:,.0f} MiB memory guard after {wall:.0f} s",
            details={"completed": False},
        )


@dataclass
class Target:
    """A goal from the issue and whether this run met it; ``at_most``: the measured value must not exceed it."""

    key: str
    description: str
    measured: float
    required: float
    unit: str
    at_most: bool = False
    completed: bool = True  # False: the measurement did not finish, ``measured`` is only a bound

    @property
    def passed(self) -> bool:
        if not self.completed:
            return False
        return self.measured <= self.required if self.at_most else self.measured >= self.required

    @property
    def margin(self) -> str:
        """How far from the required value, as a share of it ("missed by 23%", "met, 15% to spare")."""
        if not self.completed:
            return "did not finish (memory guard); the measured value is a bound"
        if self.required == 0:
            return ""
        off = abs(self.measured / self.required - 1)
        return f"met, {off:.0%} to spare" if self.passed else f"missed by {off:.0%}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed, "margin": self.margin}


@dataclass
class Breakdown:
    """A small table explaining where time (or space) goes."""

    title: str
    header: list[str]
    rows: list[list[Any]]


@dataclass
class Report:
    scale: str
    machine: dict[str, Any]
    started_at: str
    seed: int
    part: str
    measurements: list[Measurement] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    breakdowns: list[Breakdown] = field(default_factory=list)
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "started_at": self.started_at,
            "seed": self.seed,
            "part": self.part,
            "duration_s": round(self.duration_s, 1),
            "machine": self.machine,
            "measurements": [{**asdict(m), "rate_per_s": m.rate} for m in self.measurements],
            "targets": [t.to_json() for t in self.targets],
            "breakdowns": [asdict(b) for b in self.breakdowns],
        }

    def render(self) -> str:
        parts = [
            f"## runlens benchmark, scale {self.scale} ({self.part}), {self.started_at}, generator seed {self.seed}",
            machine_line(self.machine),
            markdown_table(MEASUREMENT_HEADER, [measurement_row(m) for m in self.measurements]),
            "### Targets",
            markdown_table(["target", "measured", "required", "result"], [target_row(t) for t in self.targets]),
        ]
        if self.scale != "full":
            parts.append(SMALL_SCALE_NOTE)
        for breakdown in self.breakdowns:
            parts += [f"### {breakdown.title}", markdown_table(breakdown.header, [fmt_row(r) for r in breakdown.rows])]
        return "\n\n".join(parts) + "\n"


SMALL_SCALE_NOTE = (
    "The targets are written for `--scale full`. At this scale the files and lakes are too small for them (a process's"
    " fixed memory against a file of a few MiB, a new day against a tiny lake, no worker pool), so these verdicts only"
    " show that every target is computed: judge them on a full run."
)

MEASUREMENT_HEADER = [
    "#",
    "measurement",
    "records",
    "seconds",
    "records/s",
    "ratio",
    "peak RSS MiB (largest process)",
    "peak RSS MiB (process tree)",
]


def machine_line(machine: dict[str, Any]) -> str:
    packages = machine["packages"]
    return (
        f"{machine['cpu_model']}, {machine['logical_cores']} cores, {machine['memory_gib']} GiB; "
        f"load average at start {machine['load_average_at_start']}; Python {machine['python']}, "
        f"duckdb {packages['duckdb']}, pyarrow {packages['pyarrow']}, polars {packages['polars']}; "
        f"runlens {machine['runlens_revision']}"
    )


def measurement_row(m: Measurement) -> list[str]:
    return [
        m.scenario,
        m.label,
        f"{m.records:,}",
        f"{m.seconds:.2f}",
        f"{m.rate:,.0f}" if m.completed else "n/a",
        m.ratio,
        f"{m.peak_rss_mib:,.0f}",
        f"{m.peak_tree_rss_mib:,.0f}",
    ]


def target_row(t: Target) -> list[str]:
    sign = "<=" if t.at_most else ">="
    result = ("PASS" if t.passed else "FAIL") + (f" ({t.margin})" if t.margin else "")
    return [f"{t.key} {t.description}", f"{t.measured:,.2f}{t.unit}", f"{sign} {t.required:,.2f}{t.unit}", result]


def fmt_row(row: list[Any]) -> list[str]:
    return [f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row]


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)
