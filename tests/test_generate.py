"""The synthetic export generator: deterministic, readable, as messy as promised and no messier."""

from __future__ import annotations

import gzip
import json
import re
import resource
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jsonschema_rs
import orjson
import pytest
from jsonschema import Draft202012Validator
from runlens.config import DEFAULT_SCHEMA
from runlens.generate import GenerateSummary, generate_exports

SCHEMA = json.loads(DEFAULT_SCHEMA.read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
RANK = {"queued": 0, "running": 1, "completed": 2, "failed": 2}
UNPARSEABLE = object()


@dataclass(frozen=True)
class Entry:
    file_index: int
    file: str
    value: object  # the parsed record, or UNPARSEABLE for a broken NDJSON line
    raw: str | None  # the NDJSON line

    @property
    def valid(self) -> bool:
        return self.value is not UNPARSEABLE and VALIDATOR.is_valid(self.value)


def read_exports(folder: Path) -> list[Entry]:
    """Every record of every export file, read with the standard library only."""
    entries = []
    for index, path in enumerate(sorted(folder.iterdir())):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = data.decode("utf-8")
        if ".jsonl" in path.name:
            for line in text.splitlines():
                try:
                    value = json.loads(line)
                except ValueError:
                    value = UNPARSEABLE
                entries.append(Entry(index, path.name, value, line))
        else:
            document = json.loads(text)
            items = document["runs"] if isinstance(document, dict) else document
            entries.extend(Entry(index, path.name, item, None) for item in items)
    return entries


@dataclass(frozen=True)
class Sample:
    folder: Path
    summary: GenerateSummary
    entries: list[Entry]
    valid: list[tuple[int, dict]]  # (file index, record)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """The bundled sample's arguments: the defaults."""
    folder = tmp_path_factory.mktemp("sample")
    summary = generate_exports(folder)
    entries = read_exports(folder)
    valid = [(e.file_index, e.value) for e in entries if e.valid]
    return Sample(folder, summary, entries, valid)


def latest_states(valid: list[tuple[int, dict]]) -> dict[str, dict]:
    latest: dict[str, tuple[int, int, dict]] = {}
    for position, (_, record) in enumerate(valid):
        key = (RANK[record["status"]], position)
        if record["runId"] not in latest or key > latest[record["runId"]][:2]:
            latest[record["runId"]] = (*key, record)
    return {run_id: state[2] for run_id, state in latest.items()}


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).astimezone(UTC)


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    kwargs = {"runs": 800, "days": 2, "seed": 11}
    first = generate_exports(tmp_path / "a", **kwargs)
    second = generate_exports(tmp_path / "b", **kwargs)
    other = generate_exports(tmp_path / "c", **{**kwargs, "seed": 12})
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert first == second
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert other.runs == first.runs
    assert (tmp_path / "c" / names[0]).read_bytes() != (tmp_path / "a" / names[0]).read_bytes()


def test_sample_files_rotate_formats_and_sort_in_time_order(sample: Sample) -> None:
    names = sorted(p.name for p in sample.folder.iterdir())
    assert len(names) == sample.summary.files == 7 * 4
    assert names[:5] == [
        "runs-2026-11-01T06.jsonl",
        "runs-2026-11-01T12.json",
        "runs-2026-11-01T18.json",
        "runs-2026-11-02T00.jsonl.gz",
        "runs-2026-11-02T06.json",
    ]
    assert names[-1] == "runs-2026-11-08T00.json"
    suffixes_at_noon = {name.split(".", 1)[1] for name in names if "T12" in name}
    assert suffixes_at_noon == {"jsonl", "json", "jsonl.gz"}
    wrapped = json.loads((sample.folder / "runs-2026-11-01T18.json").read_text())
    assert wrapped["exportedAt"] == "2026-11-01T18:00:00Z"
    assert isinstance(wrapped["runs"], list)
    assert isinstance(json.loads((sample.folder / "runs-2026-11-01T12.json").read_text()), list)
    total = sum(p.stat().st_size for p in sample.folder.iterdir())
    assert total < 2 * 2**20


@pytest.mark.parametrize("fmt", ["jsonl", "json", "jsonl.gz", "json.gz"])
def test_every_format_is_readable_with_the_standard_library(tmp_path: Path, fmt: str) -> None:
    summary = generate_exports(tmp_path, runs=400, days=1, snapshots_per_day=2, fmt=fmt, invalid_ratio=0.05)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"runs-2026-11-01T12.{fmt}",
        f"runs-2026-11-02T00.{fmt}",
    ]
    entries = read_exports(tmp_path)
    broken = sum(e.value is UNPARSEABLE for e in entries)
    assert len(entries) == summary.records
    assert sum(not e.valid for e in entries) == summary.invalid_records
    if fmt.startswith("jsonl"):
        assert 0 < broken < summary.invalid_records
    else:
        assert broken == 0


def test_invalid_records_match_the_reference_validator(sample: Sample) -> None:
    invalid = [e for e in sample.entries if not e.valid]
    assert len(sample.entries) == sample.summary.records
    assert len(invalid) == sample.summary.invalid_records
    assert 0.004 < len(invalid) / len(sample.entries) < 0.02
    fast = jsonschema_rs.validator_for(SCHEMA, validate_formats=True)
    assert all(fast.is_valid(record) for _, record in sample.valid)
    compact = [e.raw for e in sample.entries if e.raw is not None and e.valid]
    assert all(orjson.dumps(json.loads(line)).decode() == line for line in compact)


def test_invalid_records_come_in_every_promised_kind(tmp_path: Path) -> None:
    summary = generate_exports(tmp_path, runs=2500, days=1, fmt="jsonl", invalid_ratio=0.1)
    entries = read_exports(tmp_path)
    invalid = [e for e in entries if not e.valid]
    assert len(invalid) == summary.invalid_records
    assert 0.07 < len(invalid) / len(entries) < 0.12
    keywords = Counter(
        "unparseable" if e.value is UNPARSEABLE else next(VALIDATOR.iter_errors(e.value)).validator for e in invalid
    )
    assert {"unparseable", "required", "enum", "pattern", "type", "format"} <= set(keywords)
    stamps = [e.value.get(k) for e in invalid if isinstance(e.value, dict) for k in ("createdAt", "completedAt")]
    assert any(isinstance(s, str) and " " in s for s in stamps)
    assert any(isinstance(s, str) and s.endswith("+0530") for s in stamps)
    inputs = [e.value["input"] for e in invalid if isinstance(e.value, dict) and "input" in e.value]
    assert None in inputs
    assert any(isinstance(i, list) for i in inputs)
    garbage = [e.raw for e in invalid if e.value is UNPARSEABLE and not (e.raw or "").startswith('{"runId"')]
    truncated = [e.raw for e in invalid if e.value is UNPARSEABLE and (e.raw or "").startswith('{"runId"')]
    assert garbage
    assert truncated


def test_summary_counts_match_the_files(sample: Sample) -> None:
    run_ids = {record["runId"] for _, record in sample.valid}
    assert len(run_ids) == sample.summary.runs == 2000
    assert all(re.fullmatch(r"run_[A-Za-z0-9_]+", run_id) for run_id in run_ids)


def test_runs_progress_across_snapshot_files(sample: Sample) -> None:
    seen: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for file_index, record in sample.valid:
        seen[record["runId"]].append((file_index, record["status"]))
    progressed = [
        run_id
        for run_id, states in seen.items()
        if any(RANK[a] < 2 and RANK[b] == 2 and i < j for i, a in states for j, b in states)
    ]
    assert len(progressed) >= 5
    queued_then_started = [s for s in seen.values() if any(a == "queued" != b and i < j for i, a in s for j, b in s)]
    assert queued_then_started, "runs queued by a worker outage start in a later file"
    stale = [s for s in seen.values() if any(RANK[b] < RANK[a] and i < j for i, a in s for j, b in s)]
    assert stale, "a stale re-export: an earlier state in a later file"
    duplicated_in_one_file = [s for s in seen.values() if len({i for i, _ in s}) < len(s)]
    assert duplicated_in_one_file
    unfinished = [r for r in latest_states(sample.valid).values() if r["status"] in ("queued", "running")]
    assert unfinished, "some runs are still queued or running (stuck) at the end"


def test_records_respect_the_lifecycle(sample: Sample) -> None:
    finished_next_day = 0
    for _, record in sample.valid:
        assert None not in record.values()
        status = record["status"]
        assert isinstance(record["input"], dict)
        if status in ("queued", "running"):
            assert not {"completedAt", "output", "error"} & set(record)
            continue
        created, completed = parse(record["createdAt"]), parse(record["completedAt"])
        assert completed >= created
        finished_next_day += completed.date() > created.date()
        if status == "failed":
            assert record["error"] and "output" not in record
        else:
            assert isinstance(record["output"], dict) and "error" not in record
    assert finished_next_day > 0


def test_timestamps_vary_like_real_exports(sample: Sample) -> None:
    stamps = [record["createdAt"] for _, record in sample.valid]
    zones = Counter("Z" if s.endswith("Z") else s[-6:] for s in stamps)
    digits = Counter(len(m.group(1)) if (m := re.search(r"\.(\d+)", s)) else 0 for s in stamps)
    assert zones["Z"] > 0.8 * len(stamps)
    assert {"+02:00", "-05:00"} <= set(zones)
    assert {0, 3, 6, 9} <= set(digits)
    assert digits[3] + digits[6] > 0.7 * len(stamps)


def test_workflows_differ_in_latency_and_failure_rate(sample: Sample) -> None:
    durations: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, Counter] = defaultdict(Counter)
    for record in latest_states(sample.valid).values():
        outcomes[record["workflowName"]][record["status"]] += 1
        if record["status"] in ("completed", "failed"):
            seconds = (parse(record["completedAt"]) - parse(record["createdAt"])).total_seconds()
            durations[record["workflowName"]].append(seconds)
    names = set(outcomes)
    assert 20 <= len(names) <= 40
    assert any("/" in n for n in names) and any("." in n for n in names) and any(not n.isascii() for n in names)
    medians = {name: statistics.median(values) for name, values in durations.items() if len(values) >= 20}
    assert min(medians.values()) < 5 and max(medians.values()) > 600
    failed = sum(c["failed"] for c in outcomes.values())
    finished = sum(c["failed"] + c["completed"] for c in outcomes.values())
    assert 0.02 < failed / finished < 0.12
    rates = {n: c["failed"] / (c["failed"] + c["completed"]) for n, c in outcomes.items() if c.total() >= 100}
    assert max(rates.values()) > 3 * min(rates.values())


def test_arrivals_peak_in_utc_business_hours(sample: Sample) -> None:
    created_hours = Counter(parse(record["createdAt"]).hour for record in latest_states(sample.valid).values())
    business = sum(created_hours[h] for h in range(9, 18)) / 9
    night = sum(created_hours[h] for h in range(0, 5)) / 5
    assert business > 2 * night


def normalise(message: str) -> str:
    for pattern in (
        r"\w+://\S+",
        r"'[^']*'|\"[^\"]*\"|<[^>]*>",
        r"(/[\w.\-]+)+",
        r"\b\w*\d\w*\b",
    ):
        message = re.sub(pattern, "#", message)
    return message


def test_error_messages_recur_as_a_few_signatures_per_workflow(tmp_path: Path) -> None:
    generate_exports(tmp_path, runs=6000, days=2, fmt="jsonl")
    messages: dict[str, set[str]] = defaultdict(set)
    for entry in read_exports(tmp_path):
        if entry.valid and "error" in entry.value:
            messages[entry.value["workflowName"]].add(entry.value["error"])
    signatures = {name: {normalise(m) for m in found} for name, found in messages.items()}
    assert all(len(s) <= 4 for s in signatures.values()), signatures
    assert sum(map(len, messages.values())) > 3 * sum(map(len, signatures.values()))
    every = {m for found in messages.values() for m in found}
    assert any("https://" in m for m in every) and any("\n" in m for m in every)


def test_unknown_extra_fields_appear_sometimes(sample: Sample) -> None:
    extras = Counter(key for _, record in sample.valid for key in record if key not in SCHEMA["properties"])
    assert set(extras) == {"taskQueue", "attempt"}
    assert sum(extras.values()) < 0.1 * len(sample.valid)


def test_one_big_file_for_benchmarks(tmp_path: Path) -> None:
    summary = generate_exports(tmp_path, runs=5000, days=1, snapshots_per_day=1, fmt="jsonl")
    assert [p.name for p in tmp_path.iterdir()] == ["runs-2026-11-02T00.jsonl"]
    entries = read_exports(tmp_path)
    assert summary.files == 1 and len(entries) == summary.records
    assert len({e.value["runId"] for e in entries if e.valid}) == summary.runs == 5000


@pytest.mark.parametrize(
    "kwargs",
    [{"fmt": "xml"}, {"snapshots_per_day": 5}, {"days": 0}, {"start": datetime(2026, 11, 1)}, {"invalid_ratio": 1}],
)
def test_bad_arguments_are_rejected(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        generate_exports(tmp_path, **kwargs)


@pytest.mark.slow
def test_a_million_runs_stream_at_speed_in_bounded_memory(tmp_path: Path) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    summary = generate_exports(tmp_path, runs=1_000_000, days=30, fmt="jsonl")
    rate = summary.records / (time.perf_counter() - started)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert summary.records > 1_000_000
    assert rate > 120_000, f"{rate:,.0f} records/s"
    assert grown_mb < 200, f"peak memory grew by {grown_mb:.0f} MB"


def test_no_runs_gives_snapshots_without_records(tmp_path: Path) -> None:
    """`runlens generate --runs 0` is allowed ("runs must be >= 0"): every snapshot is written, holding no record
    (survived a mutation audit)."""
    summary = generate_exports(tmp_path, runs=0, days=1, snapshots_per_day=2, fmt="json")
    assert summary == GenerateSummary(files=2, records=0, invalid_records=0, runs=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs-2026-11-01T12.json", "runs-2026-11-02T00.json"]
    assert read_exports(tmp_path) == []


def test_compressed_files_do_not_depend_on_the_time_they_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gzip writes the current time into its header unless given one: the same arguments gave other bytes a second
    later (the byte-identity test writes both copies within the same second; survived a mutation audit)."""
    kwargs = {"runs": 300, "days": 1, "snapshots_per_day": 1, "fmt": "jsonl.gz"}
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    generate_exports(tmp_path / "a", **kwargs)
    monkeypatch.setattr(time, "time", lambda: 1_900_000_000.0)
    generate_exports(tmp_path / "b", **kwargs)
    name = "runs-2026-11-02T00.jsonl.gz"
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_snapshot_that_cannot_be_put_in_place_leaves_no_partial_file(tmp_path: Path) -> None:
    """The hidden `.part` file is removed when the snapshot cannot be renamed into place (here a folder of its name
    is in the way), so a failed run leaves nothing behind (survived a mutation audit)."""
    (tmp_path / "runs-2026-11-02T00.jsonl").mkdir()
    with pytest.raises(OSError):
        generate_exports(tmp_path, runs=100, days=1, snapshots_per_day=1, fmt="jsonl")
    assert [p.name for p in tmp_path.iterdir()] == ["runs-2026-11-02T00.jsonl"]


def test_fewer_runs_are_created_at_weekends(tmp_path: Path) -> None:
    """The module docstring: the hourly intensity "is lower at weekends", on both days (the weekend factor is 0.55;
    survived a mutation audit that left Saturday as busy as a weekday). A week from Monday 2026-11-02."""
    generate_exports(tmp_path, runs=3500, days=7, start=datetime(2026, 11, 2, tzinfo=UTC), fmt="jsonl", invalid_ratio=0)
    created: dict[str, str] = {}
    for entry in read_exports(tmp_path):
        created.setdefault(entry.value["runId"], entry.value["createdAt"])
    per_day = Counter(parse(stamp).date() for stamp in created.values())
    weekdays = [count for day, count in per_day.items() if day.weekday() < 5]
    weekend = [count for day, count in per_day.items() if day.weekday() >= 5]
    assert (len(weekdays), len(weekend), sum(per_day.values())) == (5, 2, 3500)
    assert max(weekend) < 0.7 * min(weekdays)


def test_a_run_queued_at_one_snapshot_shows_running_in_a_later_one(tmp_path: Path) -> None:
    """A snapshot holds the current state of older runs whose state changed since the previous one: a run queued at
    one export (a worker outage) and started since is exported running, before it finishes (survived a mutation
    audit that exported carried runs only once they ended; the sample has too few queued runs to show it). A file
    counts by its newest record of the run, so the earlier-state copies next to a finished record do not count."""
    generate_exports(tmp_path, runs=20_000, days=3, snapshots_per_day=24, fmt="jsonl", invalid_ratio=0)
    newest: dict[tuple[str, int], int] = {}
    for file_index, path in enumerate(sorted(tmp_path.iterdir())):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            key = (record["runId"], file_index)
            newest[key] = max(newest.get(key, -1), RANK[record["status"]])
    first_queued: dict[str, int] = {}
    for (run_id, file_index), rank in sorted(newest.items(), key=lambda item: item[0][1]):
        if rank == RANK["queued"]:
            first_queued.setdefault(run_id, file_index)
    started_later = [
        run_id
        for (run_id, file_index), rank in newest.items()
        if rank == RANK["running"] and first_queued.get(run_id, file_index) < file_index
    ]
    assert started_later


def test_earlier_state_copies_of_failed_runs_carry_no_error(tmp_path: Path) -> None:
    """The earlier-state copy inserted next to a finished record is that run's `running` record: no completedAt,
    output or error, whichever way it ended (the sample holds no such copy of a failed run, so a copy that kept the
    error survived a mutation audit)."""
    generate_exports(tmp_path, runs=20_000, days=1, snapshots_per_day=1, fmt="jsonl", invalid_ratio=0)
    records = [json.loads(line) for line in (tmp_path / "runs-2026-11-02T00.jsonl").read_text().splitlines()]
    failed = {record["runId"] for record in records if record["status"] == "failed"}
    unfinished = [record for record in records if record["status"] in ("queued", "running")]
    assert any(record["runId"] in failed for record in unfinished)
    assert all(not {"completedAt", "output", "error"} & set(record) for record in unfinished)
