"""The reliability review: the notebook runs on generated data and renders one safe, self-contained HTML page."""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
import sys
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import matplotlib
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import nbformat
import papermill
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import CliRunner
from jupyter_core.paths import jupyter_runtime_dir
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from runlens import lake
from runlens import report as report_module
from runlens.cli import main
from runlens.config import SQL_DIR, Settings
from runlens.contracts import RUNS_SCHEMA
from runlens.defs.assets.report import reliability_report, weekly_reliability_report
from runlens.defs.resources import RunlensResource
from runlens.ingest import ingest_file
from runlens.locks import lake_write_lock
from runlens.metrics import METRIC_TABLES
from runlens.report import ReportError, ReportResult, render_report
from runlens.validation import RecordValidator
from runlens.warehouse import connect_readonly, refresh_warehouse

MARKUP_WORKFLOW = "<b>bold</b>"
MARKUP_ERROR = "<script>alert(1)</script>"
MARKUP_RUNS = 30
STUCK_WORKFLOW = "ops.stuck-probe"
Z = 1.959963984540054
SECTIONS = (
    "Review window",
    "Headline",
    "Workflows with the most failed runs",
    "Failure rate over time",
    "Latency percentiles over time",
    "Throughput",
    "Error signatures",
    "Stuck runs and regressions",
    "Data quality",
)
TABLES = (
    "Fleet headline",
    "workflows by failed runs in the window",
    "error signatures by failed runs in the window",
    "Signatures first seen in this window",
    "Stuck runs",
    "Regressed workflows",
    "Quarantined records by reason",
    "Quarantined records by file, with reconciliation",
)


@dataclass(frozen=True)
class Rendered:
    settings: Settings
    result: ReportResult
    html: str


def write_markup_export(exports: Path) -> None:
    """Failed runs of a workflow whose name is markup, failing with a script tag, on the last generated day."""
    start = datetime(2026, 11, 7, 6, tzinfo=UTC)
    records = [
        {
            "runId": f"run_markup_{i}",
            "workflowName": MARKUP_WORKFLOW,
            "status": "failed",
            "createdAt": f"{start + timedelta(minutes=7 * i):%Y-%m-%dT%H:%M:%S.000Z}",
            "completedAt": f"{start + timedelta(minutes=7 * i, seconds=30):%Y-%m-%dT%H:%M:%S.000Z}",
            "error": MARKUP_ERROR,
        }
        for i in range(MARKUP_RUNS)
    ]
    (exports / "zz-markup.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def write_stuck_and_broken_export(exports: Path) -> None:
    """Two runs of another workflow left queued and running for hours before the last export (stuck runs of
    different ages), and a record missing two required keys (two violations of one keyword)."""
    records = [
        {
            "runId": "run_probe_1",
            "workflowName": STUCK_WORKFLOW,
            "status": "queued",
            "createdAt": "2026-11-06T10:00:00Z",
        },
        {
            "runId": "run_probe_2",
            "workflowName": STUCK_WORKFLOW,
            "status": "running",
            "createdAt": "2026-11-07T02:00:00Z",
        },
        {"runId": "run_probe_3"},
    ]
    (exports / "zz-stuck.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture(scope="module")
def review_lake(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The settings of a data directory holding 1,500 generated runs over 7 days and the markup workflow's failed
    runs, run through `runlens run` (what `rendered` reviews; the tests that run notebook cells in process use it
    without waiting for a rendering)."""
    data = tmp_path_factory.mktemp("report")
    home = data / ".dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(home))
        for name in [n for n in os.environ if n.startswith("RUNLENS_")]:
            env.delenv(name)
        assert main(["generate", "--out", str(data / "exports"), "--runs", "1500", "--days", "7"]) == 0
        write_markup_export(data / "exports")
        write_stuck_and_broken_export(data / "exports")
        assert main(["run", "--data-dir", str(data)]) == 0
    return Settings.from_env(data)


@pytest.fixture(scope="module")
def rendered(review_lake: Settings) -> Rendered:
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("RUNLENS_")]:
            env.delenv(name)
        result = render_report(review_lake.warehouse_path, review_lake.data_dir / "reports" / "review.html")
    return Rendered(review_lake, result, result.path.read_text(encoding="utf-8"))


class HeadlineNumbers(HTMLParser):
    """The exact values the page carries in data attributes of its headline numbers, for one window."""

    def __init__(self, page: str, window: str = "current") -> None:
        super().__init__()
        self.window = window
        self.values: dict[str, object] = {}
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "span" and attributes.get("data-window") == self.window and attributes.get("data-metric"):
            self.values[attributes["data-metric"]] = json.loads(attributes["data-value"] or "null")


def wilson(failed: int, finished: int, z: float) -> float:
    p = failed / finished
    centre = p + z * z / (2 * finished)
    spread = z * math.sqrt(p * (1 - p) / finished + z * z / (4 * finished * finished))
    return (centre + spread) / (1 + z * z / finished)


def warehouse_headline(warehouse: Path) -> dict[str, float]:
    """The headline of the last 7 days up to and including the newest created_at, straight from `runs`."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        [row] = con.execute(
            """
            with bounds as (select max(created_at) as newest from runs),
            created as (
                select runs.* from runs, bounds
                where runs.created_at > bounds.newest - interval 7 day and runs.created_at <= bounds.newest
            )
            select
                count(*),
                count(*) filter (where status = 'completed'),
                count(*) filter (where status = 'failed'),
                count(*) filter (where status in ('queued', 'running')),
                quantile_cont(duration_s, 0.5) filter (where status in ('completed', 'failed')),
                quantile_cont(duration_s, 0.95) filter (where status in ('completed', 'failed')),
                quantile_cont(duration_s, 0.99) filter (where status in ('completed', 'failed')),
                (select count(*) from runs, bounds
                 where runs.status in ('completed', 'failed')
                    and runs.completed_at > bounds.newest - interval 7 day and runs.completed_at <= bounds.newest)
            from created
            """
        ).fetchall()
    runs, completed, failed, in_flight, p50, p95, p99, finished = row
    return {
        "runs": runs,
        "completed": completed,
        "failed": failed,
        "in_flight": in_flight,
        "failure_rate": failed / (completed + failed),
        "failure_rate_low": wilson(failed, completed + failed, -Z),
        "failure_rate_high": wilson(failed, completed + failed, Z),
        "p50_s": p50,
        "p95_s": p95,
        "p99_s": p99,
        "finished_in_window": finished,
        "throughput_per_hour": finished / (7 * 24),
    }


def test_notebook_runs_without_error_output(rendered: Rendered) -> None:
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in rendered.html  # tracebacks and warnings


def test_every_section_is_present(rendered: Rendered) -> None:
    headings = set(re.findall(r"<h[1-3][^>]*>([^<]+)<a", rendered.html))
    assert set(SECTIONS) <= headings
    for caption in TABLES:
        assert caption in rendered.html


def test_headline_numbers_equal_the_warehouse(rendered: Rendered) -> None:
    shown = HeadlineNumbers(rendered.html).values
    expected = warehouse_headline(rendered.settings.warehouse_path)
    assert shown == pytest.approx(expected, rel=1e-9)
    assert rendered.result.current == pytest.approx(expected, rel=1e-9)


def test_markup_in_data_renders_as_text(rendered: Rendered) -> None:
    assert html.escape(MARKUP_WORKFLOW, quote=False) in rendered.html
    assert html.escape(MARKUP_ERROR, quote=False) in rendered.html
    assert MARKUP_WORKFLOW not in rendered.html
    assert "<script" not in rendered.html


def test_page_is_self_contained(rendered: Rendered) -> None:
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", rendered.html, re.IGNORECASE)
    assert "<script src" not in rendered.html.lower()
    assert not re.search(r"@import|url\(\s*[\"']?(?:https?:)?//", rendered.html, re.IGNORECASE)
    images = re.findall(r'<img[^>]*src="([^"]{0,30})', rendered.html)
    assert len(images) >= 5
    assert all(src.startswith("data:image/png;base64,") for src in images)


def test_report_needs_a_warehouse_and_a_window(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no warehouse"):
        render_report(tmp_path / "warehouse.duckdb", tmp_path / "r.html")
    (tmp_path / "warehouse.duckdb").touch()
    with pytest.raises(ReportError, match="days or since"):
        render_report(tmp_path / "warehouse.duckdb", tmp_path / "r.html", days=None)


def test_asset_writes_the_report_with_its_headline(rendered: Rendered) -> None:
    assert weekly_reliability_report.cron_schedule == "0 6 * * 1"
    assert weekly_reliability_report.execution_timezone == "UTC"
    result = dg.materialize(
        [reliability_report],
        resources={"runlens": RunlensResource(data_dir=str(rendered.settings.data_dir))},
        instance=dg.DagsterInstance.ephemeral(),
    )
    [materialization] = result.asset_materializations_for_node("reliability_report")
    metadata = {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}
    assert Path(metadata["path"]) == rendered.settings.data_dir / "reports" / "reliability-review.html"
    assert Path(metadata["path"]).is_file()
    assert metadata["runs"] == rendered.result.current["runs"]
    assert metadata["failure_rate"] == pytest.approx(rendered.result.current["failure_rate"])


def test_the_report_asset_without_a_warehouse_gives_dagsters_advice_not_the_command_lines(data_dir: Path) -> None:
    """Materialized in Dagster before any warehouse, the asset failed with "run `runlens run` first or pass
    --data-dir", advice for the command line (found by a review)."""
    result = dg.materialize(
        [reliability_report],
        resources={"runlens": RunlensResource(data_dir=str(data_dir))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    message = str(failure.event_specific_data.error.message)  # type: ignore[union-attr]
    assert "materialize the warehouse asset" in message and "--data-dir" not in message, message


def test_the_report_asset_refuses_a_warehouse_of_an_earlier_runlens(data_dir: Path, run_cli: CliRunner) -> None:
    """A warehouse written before newest_created_at() existed failed the asset with DuckDB's catalog error deep in
    the notebook: it is refused, saying to materialize the warehouse asset (or run `runlens run`)."""
    (data_dir / "exports" / "a.jsonl").write_text(
        json.dumps({"runId": "r", "workflowName": "w", "status": "queued", "createdAt": "2026-03-01T00:00:00Z"})
    )
    assert run_cli("run", "--data-dir", data_dir).code == 0
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:  # as the eleventh session's runlens left it
        con.execute("drop macro newest_created_at")
        con.execute(f"comment on view ingest_log is 'runlens lake: {(data_dir / 'lake').resolve()}'")
    result = dg.materialize(
        [reliability_report],
        resources={"runlens": RunlensResource(data_dir=str(data_dir))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    [failure] = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    message = str(failure.event_specific_data.error.message)  # type: ignore[union-attr]
    assert "built by an earlier version of runlens" in message and "materialize the warehouse asset" in message


def created_between(warehouse: Path, start: datetime, end: datetime) -> int:
    """Runs created in [start, end), counted straight from `runs`."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(count,)] = con.execute(
            "select count(*) from runs where created_at >= ? and created_at < ?", [start, end]
        ).fetchall()
    return count


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "shown_since", "shown_until"),
    [
        # both bounds; only a start (the window ends just after the newest run); only an end (the 7 days before it)
        (date(2026, 11, 3), date(2026, 11, 6), date(2026, 11, 3), date(2026, 11, 6)),
        (date(2026, 11, 4), None, date(2026, 11, 4), None),
        (None, date(2026, 11, 6), date(2026, 10, 30), date(2026, 11, 6)),
    ],
)
def test_report_reviews_the_window_asked_for(
    rendered: Rendered,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    since: date | None,
    until: date | None,
    shown_since: date,
    shown_until: date | None,
) -> None:
    """--since / --until render (they failed in the notebook's window cell) and the page reviews exactly that window:
    its bounds, the previous window of the same length before it, and the runs created in each."""
    out = tmp_path / "window.html"
    bounds = [*(["--since", str(since)] if since else []), *(["--until", str(until)] if until else [])]
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("RUNLENS_")]:
            env.delenv(name)
        code = main(["report", "--data-dir", str(rendered.settings.data_dir), "--out", str(out), *bounds])
    assert code == 0, capsys.readouterr().err
    page = out.read_text(encoding="utf-8")
    start = midnight(shown_since)
    if shown_until is None:  # just after the newest created_at
        with duckdb.connect(str(rendered.settings.warehouse_path), read_only=True) as con:
            [(newest,)] = con.execute("select max(created_at) from runs").fetchall()
        end = newest.astimezone(UTC) + timedelta(microseconds=1)
    else:
        end = midnight(shown_until)
    previous_start = start - (end - start)
    assert f"This window: {start:%Y-%m-%d %H:%M:%S} → {end:%Y-%m-%d %H:%M:%S} UTC" in page
    assert f"Previous window: {previous_start:%Y-%m-%d %H:%M:%S} → {start:%Y-%m-%d %H:%M:%S} UTC" in page
    warehouse = rendered.settings.warehouse_path
    assert HeadlineNumbers(page).values["runs"] == created_between(warehouse, start, end) > 0
    assert HeadlineNumbers(page, "previous").values["runs"] == created_between(warehouse, previous_start, start)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--days", "3", "--since", "2026-11-03"], "either --days N or --since/--until"),
        (["--days", "3", "--until", "2026-11-03"], "either --days N or --since/--until"),
        (["--since", "2026-11-05", "--until", "2026-11-05"], "--since 2026-11-05 is not before --until 2026-11-05"),
        (["--since", "2026-11-06", "--until", "2026-11-05"], "--since 2026-11-06 is not before --until 2026-11-05"),
        (["--days", "0"], "--days must be a whole number of days from 1 to 36,500, got 0"),
        (["--days", "-2"], "--days must be a whole number of days from 1 to 36,500, got -2"),
        # beyond the calendar the notebook failed with "year -711 is out of range" (found by a review)
        (["--days", "1000000"], "--days must be a whole number of days from 1 to 36,500, got 1000000"),
        (["--days", "36501"], "--days must be a whole number of days from 1 to 36,500, got 36501"),
        (["--until", "0001-01-03"], "--until 0001-01-03 is outside the years 1000-8999 a review window can cover"),
        (["--since", "9999-12-30"], "--since 9999-12-30 is outside the years 1000-8999 a review window can cover"),
        (["--until", "9000-01-01"], "--until 9000-01-01 is outside the years 1000-8999 a review window can cover"),
        # each bound within those years, but the window before (1000-01-01 minus 7,999 years) is not in the calendar:
        # the notebook failed with "year -7000 is out of range" (found by a review)
        (
            ["--since", "1000-01-01", "--until", "8999-12-31"],
            "--since 1000-01-01 --until 8999-12-31: the window before it, of the same length, would start before "
            "0001-01-01 (a review window and the window before it must fit in the calendar)",
        ),
        # one day too long: 1000-01-01 is 364,877 days after 0001-01-01, and so is 1999-01-02 plus one after it
        (
            ["--since", "1000-01-01", "--until", "1999-01-02"],
            "--since 1000-01-01 --until 1999-01-02: the window before it, of the same length, would start before",
        ),
    ],
)
def test_report_refuses_a_window_it_cannot_review_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    """One line naming the arguments, before any warehouse is even looked for (none exists here)."""
    out = tmp_path / "r.html"
    assert main(["report", "--data-dir", str(tmp_path), "--out", str(out), *arguments]) == 2
    err = capsys.readouterr().err
    assert err == f"runlens: error: {err.removeprefix('runlens: error: ').strip()}\n"
    assert message in err
    assert not out.exists()


def report_cli(rendered: Rendered, capsys: pytest.CaptureFixture[str], *arguments: str | Path) -> tuple[int, str]:
    """`runlens report` on the rendered fixture's data directory: its exit code and stderr."""
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("RUNLENS_")]:
            env.delenv(name)
        code = main(["report", "--data-dir", str(rendered.settings.data_dir), *map(str, arguments)])
    return code, capsys.readouterr().err


def test_workflow_filter_reviews_that_workflow_and_refuses_unknown_names(
    rendered: Rendered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--workflow NAME reviews only that workflow; a name no run has is an error naming it (it rendered an empty
    review and exited 0), with the number of workflows the lake has when they are too many to list."""
    out = tmp_path / "one.html"
    code, err = report_cli(rendered, capsys, "--out", out, "--workflow", MARKUP_WORKFLOW)
    assert code == 0, err
    shown = HeadlineNumbers(out.read_text(encoding="utf-8")).values
    assert (shown["runs"], shown["failed"]) == (MARKUP_RUNS, MARKUP_RUNS)
    assert shown["finished_in_window"] == MARKUP_RUNS  # each finished 30 s after it was created: none of the others

    with duckdb.connect(str(rendered.settings.warehouse_path), read_only=True) as con:
        [(workflows,)] = con.execute("select count(distinct workflow_name) from runs").fetchall()
    assert workflows > 12  # too many to list
    out = tmp_path / "none.html"
    code, err = report_cli(rendered, capsys, "--out", out, "--workflow", MARKUP_WORKFLOW, "--workflow", "nosuchwf")
    assert code == 2
    assert err.startswith("runlens: error: unknown workflow 'nosuchwf':") and err.count("\n") == 1
    assert f"it has {workflows} workflows" in err
    assert MARKUP_WORKFLOW not in err  # the known one is not called unknown
    assert not out.exists()


def review_of(records: list[dict[str, Any]], data_dir: Path, run_cli: CliRunner) -> str:
    """The review page of a lake holding ``records`` (one NDJSON export), rendered with the default window."""
    (data_dir / "exports" / "a.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    assert run_cli("run", "--data-dir", data_dir).code == 0
    out = data_dir / "review.html"
    result = run_cli("report", "--data-dir", data_dir, "--out", out)
    assert (result.code, result.out) == (0, f"{out}\n"), result.err  # its result on stdout: the page written
    return out.read_text(encoding="utf-8")


def test_report_path_errors_name_the_path_given(
    rendered: Rendered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out an existing folder, or a name too long for the temporary file written first: the error names the path
    given, never the temporary file (a hidden .tmp name the user never gave)."""
    code, err = report_cli(rendered, capsys, "--out", tmp_path)
    assert code == 2
    assert (
        err
        == f"runlens: error: {tmp_path}: is a folder; the report is written to a file: name the .html file to write\n"
    )
    long_name = tmp_path / ("r" * 240 + ".html")  # a valid name; the temporary ".<name>.<hex>.tmp" is too long
    code, err = report_cli(rendered, capsys, "--out", long_name)
    assert code == 2
    assert err.startswith(f"runlens: error: {long_name}: cannot write the report there:") and err.count("\n") == 1
    assert ".tmp" not in err
    assert list(tmp_path.iterdir()) == []


def rewrite_in_place(path: Path) -> None:
    """What a refresh does to a lake file, keeping its bytes: a new file renamed over it (another inode)."""
    copy = path.with_name(f".{path.name}.tmp")
    copy.write_bytes(path.read_bytes())
    os.replace(copy, path)


def test_a_review_whose_lake_is_written_while_it_renders_is_rendered_again(
    rendered: Rendered, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh replaces the lake's files one by one while the notebook's queries read them one by one, so a
    review rendered meanwhile could mix tables from before and after it (a known gap until the thirteenth
    session). A runs partition replaced during the first rendering (with the same bytes, so the other tests'
    lake is unchanged) makes `runlens report` say so and render again; the page written is the second one."""
    real = report_module._execute
    renders: list[dict[str, Any]] = []
    partition = sorted((rendered.settings.lake_dir / "runs").rglob("*.parquet"))[-1]

    def written_during_the_first(parameters: dict[str, Any], warehouse: Path) -> nbformat.NotebookNode:
        renders.append(parameters)
        if len(renders) == 1:
            rewrite_in_place(partition)
            return nbformat.v4.new_notebook()  # a page that must not be written
        return real(parameters, warehouse)

    monkeypatch.setattr(report_module, "_execute", written_during_the_first)
    out = tmp_path / "again.html"
    code, err = report_cli(rendered, capsys, "--out", out)
    assert code == 0, err
    assert len(renders) == 2
    lake_dir = rendered.settings.lake_dir
    assert err == f"runlens: {lake_dir} was written to while the review was rendered (a refresh?): rendering it again\n"
    assert HeadlineNumbers(out.read_text(encoding="utf-8")).values == HeadlineNumbers(rendered.html).values


def test_a_review_whose_lake_is_written_during_every_rendering_is_not_written(
    rendered: Rendered, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lake written to during each of the RENDERS renderings (a new ingest folder, then metric files replaced):
    `runlens report` fails with one line saying why and what to do, and writes no page; so does the
    reliability_report asset, whose run log has the two "rendering it again" warnings."""
    lake_dir = rendered.settings.lake_dir
    metric_files = sorted((lake_dir / "metrics").rglob("*.parquet"))
    new_ingest = lake_dir / "ingest" / "0000-a-new-ingest"
    renders: list[int] = []

    def written_during_each(parameters: dict[str, Any], warehouse: Path) -> nbformat.NotebookNode:
        renders.append(len(renders))
        if len(renders) == 1:
            new_ingest.mkdir()
        else:
            rewrite_in_place(metric_files[len(renders)])
        return nbformat.v4.new_notebook()

    monkeypatch.setattr(report_module, "_execute", written_during_each)
    out = tmp_path / "never.html"
    asset_page = rendered.settings.data_dir / "reports" / "reliability-review.html"
    asset_page_before = asset_page.stat().st_mtime_ns if asset_page.exists() else None
    instance = dg.DagsterInstance.ephemeral()
    try:
        code, err = report_cli(rendered, capsys, "--out", out)
        assert len(renders) == report_module.RENDERS == 3
        new_ingest.rmdir()
        renders.clear()
        result = dg.materialize(
            [reliability_report],
            resources={"runlens": RunlensResource(data_dir=str(rendered.settings.data_dir))},
            instance=instance,
            raise_on_error=False,
        )
    finally:
        if new_ingest.exists():
            new_ingest.rmdir()
    again = f"{lake_dir} was written to while the review was rendered (a refresh?): rendering it again"
    refused = (
        f"{lake_dir} was written to while the review was rendered, 3 times in a row, so it could mix tables from "
        "before and after a refresh: nothing written; render it again once the refresh has ended"
    )
    assert err == f"runlens: {again}\n" * 2 + f"runlens: error: {refused}\n"
    assert code == 2
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert len(renders) == 3 and not result.success
    warned = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == logging.WARNING]
    assert warned == [again, again]
    [failure] = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    assert refused in str(failure.event_specific_data.error.message)  # type: ignore[union-attr]
    assert (asset_page.stat().st_mtime_ns if asset_page.exists() else None) == asset_page_before


def test_the_notebook_run_by_hand_says_when_its_lake_was_written_while_it_ran(
    rendered: Rendered, tmp_path: Path
) -> None:
    """Run by hand (Jupyter, papermill), the notebook has no `runlens report` to render it again: its last cell says
    the lake was written to while it ran, and nothing when it was not. Here a cell added before the last one replaces
    a runs partition (with the same bytes, as a refresh would with new ones)."""
    written = "was written to while this review ran (a refresh?)"
    assert not re.search(f'<p class="note">[^<]*{re.escape(written)}', rendered.html)  # the code shows it, folded
    notebook = nbformat.read(report_module.NOTEBOOK, as_version=4)
    partition = sorted((rendered.settings.lake_dir / "runs").rglob("*.parquet"))[0]
    copy = partition.with_name(f".{partition.name}.tmp")
    refresh = (
        f"import os, shutil\nshutil.copyfile({str(partition)!r}, {str(copy)!r})\n"
        f"os.replace({str(copy)!r}, {str(partition)!r})"
    )
    notebook.cells.insert(len(notebook.cells) - 1, nbformat.v4.new_code_cell(refresh, id="refresh"))
    nbformat.write(notebook, tmp_path / "review.ipynb")
    executed = papermill.execute_notebook(
        str(tmp_path / "review.ipynb"),
        None,
        parameters={"warehouse": str(rendered.settings.warehouse_path)},
        kernel_name="python3",
        kernel_manager_class=report_module.CurrentInterpreterKernelManager,
        progress_bar=False,
        cwd=str(report_module.NOTEBOOK.parent),
    )
    said = html.unescape(cell_html(executed.cells[-1]))
    assert f"{rendered.settings.lake_dir} {written}: its tables may mix data from before and after it." in said


def test_the_review_names_the_exports_ingested_after_the_last_complete_refresh(
    data_dir: Path, run_cli: CliRunner
) -> None:
    """An export ingested and not yet refreshed (the export sensor's run, before the refresh sensor's): the data
    quality tables list it, runs does not hold its records. The review says so under its window, with the count of
    files and valid records, and no longer once `runlens run` has refreshed the lake."""

    def export(name: str, day: int, runs: int) -> Path:
        records = [
            {
                "runId": f"run_{name}_{i}",
                "workflowName": "checkout",
                "status": "completed",
                "createdAt": f"2026-11-{day:02d}T10:{i:02d}:00Z",
                "completedAt": f"2026-11-{day:02d}T10:{i:02d}:30Z",
            }
            for i in range(runs)
        ]
        path = data_dir / "exports" / f"{name}.jsonl"
        path.write_text("".join(json.dumps(record) + "\n" for record in records) + "not json\n")
        return path

    export("first", 3, 5)
    assert run_cli("run", "--data-dir", data_dir).code == 0
    settings = Settings.from_env(data_dir)
    with lake_write_lock(settings.lake_dir):
        ingest_file(export("second", 4, 7), settings, RecordValidator.from_file(settings.schema_path))
    pending = '<p class="note">1 export file(s) ingested after the last complete refresh (7 valid records) are not'
    out = data_dir / "review.html"
    assert run_cli("report", "--data-dir", data_dir, "--out", out).code == 0
    page = out.read_text(encoding="utf-8")
    assert pending in page
    assert page.index(pending) < page.index('id="Headline"')
    assert run_cli("run", "--data-dir", data_dir).code == 0
    assert run_cli("report", "--data-dir", data_dir, "--out", out).code == 0
    assert not re.search(r'<p class="note">[^<]*after the last complete refresh', out.read_text(encoding="utf-8"))


def test_each_review_kernel_has_its_own_sockets_outside_the_project(rendered: Rendered) -> None:
    """jupyter_client names a kernel's Unix sockets `kernel-ipc-1` .. `-5` in the current folder, which papermill makes
    `notebooks/`: every review wrote its sockets into the project under the same names, and two reviews at once (two
    test processes, the CLI and the asset) connected to each other's kernel ("Invalid Signature", found by a review).
    Each kernel now has a name of its own under Jupyter's runtime folder."""
    first, second = report_module.CurrentInterpreterKernelManager(), report_module.CurrentInterpreterKernelManager()
    assert first.transport == "ipc"
    assert first.ip != second.ip
    for ip in (Path(first.ip), Path(second.ip)):
        assert ip.is_absolute() and ip.parent == Path(jupyter_runtime_dir())
    assert not list(report_module.NOTEBOOK.parent.glob("kernel-ipc*"))  # the rendered review left none there


def cell_html(cell: nbformat.NotebookNode) -> str:
    """The HTML a code cell displayed (its errors fail the test: nbclient raises them)."""
    return "".join(output.get("data", {}).get("text/html", "") for output in cell.get("outputs", []))


def test_a_lake_reaching_the_calendars_last_instant_is_reviewed_up_to_it(data_dir: Path, run_cli: CliRunner) -> None:
    """The newest run created at 9999-12-31 23:59:59.999999 UTC, the last instant the lake holds: the default window
    cannot end just after it (Python has no year 10000; the window cell failed with "OverflowError: date value out
    of range", and matplotlib then could not draw an axis ending there), so it ends at that instant, says that run
    is left out, and reviews the 7 days before it (found by a review). Every run is dated after its ingest
    (after_ingest), so the newest created_at is theirs (newest_created_at())."""
    records = [
        {
            "runId": "run_late",
            "workflowName": "wf.a",
            "status": "completed",
            "createdAt": "9999-12-31T12:00:00Z",
            "completedAt": "9999-12-31T12:30:00Z",
        },
        {
            "runId": "run_far",
            "workflowName": "wf.a",
            "status": "completed",
            "createdAt": "9999-12-31T23:59:59.9999999Z",
            "completedAt": "9999-12-31T23:59:59.9999999Z",
        },
    ]
    page = review_of(records, data_dir, run_cli)
    end = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    start, previous_start = end - timedelta(days=7), end - timedelta(days=14)
    assert f"This window: {start:%Y-%m-%d %H:%M:%S} → {end:%Y-%m-%d %H:%M:%S} UTC" in page
    assert f"Previous window: {previous_start:%Y-%m-%d %H:%M:%S} → {start:%Y-%m-%d %H:%M:%S} UTC" in page
    assert "The newest run was created at 9999-12-31 23:59:59.999999 UTC, the calendar's last instant" in page
    current = HeadlineNumbers(page).values
    assert (current["runs"], current["finished_in_window"]) == (1, 1)  # run_late; run_far is at the window's end
    assert HeadlineNumbers(page, "previous").values["runs"] == 0


def test_the_notebook_refuses_a_window_whose_previous_window_starts_before_year_1(
    data_dir: Path, run_cli: CliRunner
) -> None:
    """Run directly (Jupyter, papermill), the notebook on a lake whose newest run is early in year 1: the 7 days
    before it and the 7 before those reach into year 0, which Python's datetime does not have. The window cell
    says so instead of failing with "year 0 is out of range" (`runlens report` refuses it before, see below)."""
    run = {"runId": "run_old", "workflowName": "wf.a", "status": "completed", "createdAt": "0001-01-10T00:00:00Z"}
    (data_dir / "exports" / "a.jsonl").write_text(json.dumps(run) + "\n")
    assert run_cli("run", "--data-dir", data_dir).code == 0
    warehouse = data_dir / "warehouse.duckdb"
    parameters = {"warehouse": str(warehouse), "days": 7, "since": None, "until": None, "workflows": []}
    with pytest.raises(ReportError) as refused:
        report_module._papermill(parameters, warehouse)
    window = "[0001-01-03 00:00:00+00:00, 0001-01-10 00:00:00+00:00)"  # created_at + 1 µs, shown to the second
    assert f"cell 5: ValueError: the window before the review window {window}, of the same length, would start " in (
        str(refused.value)
    )
    assert "before 0001-01-01" in str(refused.value)


def test_a_window_whose_previous_window_starts_on_the_calendars_first_day_is_not_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """1000-01-01 -> 1999-01-01 is 364,877 days long, as many as 0001-01-01 -> 1000-01-01: the window before it
    starts on the calendar's first day, so it passes the window checks (and meets the next one: no warehouse)."""
    since, until = date(1000, 1, 1), date(1999, 1, 1)
    assert (until - since).days == (since - date(1, 1, 1)).days == 364_877
    code = main(["report", "--data-dir", str(tmp_path), "--since", str(since), "--until", str(until)])
    assert code == 2
    assert "no warehouse there" in capsys.readouterr().err


def window_refusal(data: Path, capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    """stderr of `runlens report` on ``data`` with ``arguments`` and an unknown --workflow: a window that passes
    the checks is followed by the refusal of that name, checked after it, so the notebook never runs."""
    capsys.readouterr()
    out = data / "never.html"
    assert main(["report", "--data-dir", str(data), "--out", str(out), *arguments, "--workflow", "nosuchwf"]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert err.startswith("runlens: error: ") and err.count("\n") == 1, err
    return err.removeprefix("runlens: error: ").strip()


def test_a_window_ending_at_the_newest_run_is_refused_when_the_one_before_leaves_the_calendar(
    data_dir: Path, run_cli: CliRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --until the window ends just after the newest run, known only from the lake; --since far enough
    before a run dated 9999-12-31 put the window before it into year 0 or earlier, and the notebook failed
    ("year -7000 is out of range") where docs/notebook.md promises one line before it runs."""
    run = {"runId": "run_far", "workflowName": "wf.a", "status": "completed", "createdAt": "9999-12-31T23:59:59Z"}
    (data_dir / "exports" / "a.jsonl").write_text(json.dumps(run) + "\n")
    assert run_cli("run", "--data-dir", data_dir).code == 0
    # the window [since, 9999-12-31 23:59:59.000001) and the one before it fit when since is at least halfway
    # between 0001-01-01 and that end, 3,652,058 days and almost 24 hours after it: halfway is 1,826,029 days and
    # almost 12 hours after 0001-01-01, on 5000-07-02 before noon; so 5000-07-02 is refused, 5000-07-03 is not
    end = datetime(9999, 12, 31, 23, 59, 59, 1, tzinfo=UTC)
    halfway = datetime(1, 1, 1, tzinfo=UTC) + (end - datetime(1, 1, 1, tzinfo=UTC)) / 2
    assert datetime(5000, 7, 2, tzinfo=UTC) < halfway < datetime(5000, 7, 3, tzinfo=UTC)
    newest = "the newest run (created 9999-12-31 23:59:59 UTC)"
    for since in ("1000-01-01", "5000-07-02"):
        assert window_refusal(data_dir, capsys, "--since", since) == (
            f"--since {since}: the window ends at {newest}, so the window before it, of the same length, would "
            "start before 0001-01-01 (a review window and the window before it must fit in the calendar); pass "
            "--until too"
        )
    assert window_refusal(data_dir, capsys, "--since", "5000-07-03").startswith("unknown workflow 'nosuchwf'")
    assert window_refusal(data_dir, capsys, "--since", "5000-07-02", "--until", "8999-12-31").startswith("unknown")


def test_the_days_before_a_newest_run_early_in_year_1_are_refused_when_the_window_before_leaves_the_calendar(
    data_dir: Path, run_cli: CliRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    """The newest run created 0001-01-10 00:00: the window ends 1 µs later, 9 days and 1 µs into the calendar, so
    2 x --days must be at most that: --days 4 is reviewed, 5 and the default 7 are refused with one line (the
    notebook failed with "year 0 is out of range"). A --since after that run leaves an empty window: refused too."""
    run = {"runId": "run_old", "workflowName": "wf.a", "status": "completed", "createdAt": "0001-01-10T00:00:00Z"}
    (data_dir / "exports" / "a.jsonl").write_text(json.dumps(run) + "\n")
    assert run_cli("run", "--data-dir", data_dir).code == 0
    newest = "the newest run (created 0001-01-10 00:00:00 UTC)"
    assert window_refusal(data_dir, capsys, "--days", "4").startswith("unknown workflow 'nosuchwf'")
    for days, arguments in ((5, ["--days", "5"]), (7, [])):
        assert window_refusal(data_dir, capsys, *arguments) == (
            f"the {days}-day window ends at {newest}, so the window before it, of the same length, would start "
            "before 0001-01-01 (a review window and the window before it must fit in the calendar); pass a smaller "
            "--days"
        )
    assert window_refusal(data_dir, capsys, "--since", "1000-01-01") == (
        f"--since 1000-01-01 is not before the end of the window, at {newest}: the window would be empty"
    )


def write_runs_without_created_at(data: Path) -> None:
    """Runs none of which has a createdAt: one dated by its completedAt, one by its ingestion."""
    records = [
        {"runId": "run_1", "workflowName": "solo", "status": "completed", "completedAt": "2026-01-02T00:00:00Z"},
        {"runId": "run_2", "workflowName": "solo", "status": "failed", "error": "x 1"},
    ]
    (data / "exports" / "f.ndjson").write_text("".join(json.dumps(record) + "\n" for record in records))


def test_a_lake_without_created_at_is_refused_a_window_without_until(
    data_dir: Path, run_cli: CliRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    """No run has a created_at, so a window ending just after the newest one has no end: `runlens report` rendered
    a review of the last days of year 9999 (exit 0), and with --since the notebook failed with a window "before
    0001-01-01"; both are now refused with one line before the notebook runs."""
    write_runs_without_created_at(data_dir)
    assert run_cli("run", "--data-dir", data_dir).code == 0
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*), count(created_at) from runs").fetchall() == [(2, 0)]
    for arguments in ([], ["--days", "3"], ["--since", "2026-01-01"]):
        capsys.readouterr()
        out = data_dir / "never.html"
        assert main(["report", "--data-dir", str(data_dir), "--out", str(out), *arguments]) == 2
        assert not out.exists()
        err = capsys.readouterr().err
        assert err.startswith("runlens: error: ") and err.count("\n") == 1, err
        assert "no run in the lake has a created_at" in err and "pass --until" in err, err


def test_the_notebook_refuses_a_window_without_end_when_no_run_has_a_created_at(
    data_dir: Path, run_cli: CliRunner
) -> None:
    """Run directly (papermill, Jupyter), the window cell on a lake without created_at: the window's end is NULL and
    the cell says the window needs its bounds (`least` ignoring NULL made it 9999-12-31 23:59:59.999999)."""
    write_runs_without_created_at(data_dir)
    assert run_cli("run", "--data-dir", data_dir).code == 0
    warehouse = data_dir / "warehouse.duckdb"
    for since in (None, "2026-01-01"):
        parameters = {"warehouse": str(warehouse), "days": 7, "since": since, "until": None, "workflows": []}
        with pytest.raises(ReportError) as refused:
            report_module._papermill(parameters, warehouse)
        assert "cell 5: ValueError: " in str(refused.value)
        assert "no run in the lake has a created_at, so the window needs since and until" in str(refused.value)


def test_the_notebook_says_an_empty_lake_holds_no_runs(data_dir: Path, run_cli: CliRunner) -> None:
    """Run directly on a lake with nothing ingested, the window cell said no run has a created_at (found by a
    review): true, but the lake simply holds no runs, as `runlens report` says."""
    assert run_cli("run", "--data-dir", data_dir).code == 0
    warehouse = data_dir / "warehouse.duckdb"
    parameters = {"warehouse": str(warehouse), "days": 7, "since": None, "until": None, "workflows": []}
    with pytest.raises(ReportError) as refused:
        report_module._papermill(parameters, warehouse)
    assert "cell 5: ValueError: " in str(refused.value)
    assert "the lake holds no runs yet, so there is nothing to review" in str(refused.value)


def notebook_helpers() -> dict[str, Any]:
    """The names the notebook's helper cell defines (time_axis, when, ...), run outside the notebook: after the
    imports of the cell before it (up to its ``%matplotlib`` line), without the warehouse connection."""
    cells = [c.source for c in nbformat.read(report_module.NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    [imports] = [source.split("%matplotlib")[0] for source in cells if "%matplotlib" in source]
    [helpers] = [source for source in cells if re.search(r"^def time_axis\b", source, re.M)]
    namespace: dict[str, Any] = {}
    exec(compile(imports, "imports", "exec"), namespace)
    exec(compile(helpers, "helpers", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("maxticks", [5, 6, 8])
def test_time_axes_draw_without_a_warning_for_any_window_length(maxticks: int) -> None:
    """The notebook's time axes over windows from an hour to the 36,500 days `--days` allows: drawn with every
    warning an error. With AutoDateLocator's default intervals, 2-5 days (or 1-5 hours) printed "AutoDateLocator was
    unable to pick an appropriate interval" into the review."""
    time_axis = notebook_helpers()["time_axis"]
    hours = [1, 2, 3, 4, 5, 6, 12, 18, 23]
    days = [1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 10, 14, 28, 31, 45, 60, 90, 120, 150, 155, 200, 365, 730]
    days += [1000, 1500, 1800, 1900, 3650, 10_000, 36_500]
    spans = [timedelta(hours=h) for h in hours] + [timedelta(days=d) for d in days]
    starts = [datetime(2026, 3, 1, tzinfo=UTC), datetime(1, 1, 1, 13, 7, tzinfo=UTC)]
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for start in starts:
        for span in spans:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                time_axis(ax, start, start + span, maxticks=maxticks)
                fig.canvas.draw()
            ticks = ax.xaxis.get_major_locator()()
            assert 2 <= len(ticks) <= max(maxticks, 5) + 2, (start, span, len(ticks))


def test_reviews_of_a_few_days_print_no_warning(tmp_path: Path, run_cli: CliRunner) -> None:
    """--days 3 and --days 4 drew their time axes with a matplotlib UserWarning ("AutoDateLocator was unable to
    pick an appropriate interval") printed into the review's HTML, as stderr output of the figure cells."""
    data = tmp_path / "data"
    assert run_cli("generate", "--out", data / "exports", "--runs", "400", "--days", "10").code == 0
    assert run_cli("run", "--data-dir", data).code == 0
    for days in (3, 4):
        out = tmp_path / f"review-{days}.html"
        result = run_cli("report", "--data-dir", data, "--out", out, "--days", days)
        assert result.code == 0, result.err
        page = out.read_text(encoding="utf-8")
        assert f"({days:.1f} days)" in page
        assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page, days
        assert "Warning" not in re.sub(r"<details class=\"code\">.*?</details>", "", page, flags=re.S), days


# a date whose year has fewer than four digits, as strftime's %Y wrote years 1-999 on Linux ("1-01-13 22:59")
UNPADDED_DATE = re.compile(r"(?<![\w.:-])\d{1,3}-\d\d-\d\d[ T]\d\d:\d\d")


def test_a_lake_in_year_1_shows_its_dates_with_four_digit_years(data_dir: Path, run_cli: CliRunner) -> None:
    """Runs in January of year 1: the window note, the stuck runs' caption and times and the signatures' first_seen
    showed years as "1" ("1-01-13 22:59:37"), %Y not padding years 1-999 on Linux."""
    start = datetime(1, 1, 1, 3, 0, tzinfo=UTC)
    records = []
    for i in range(40):
        created = start + timedelta(hours=11 * i)
        record = {"runId": f"run_{i:03d}", "workflowName": "wf.a", "createdAt": f"{created.isoformat()[:19]}Z"}
        if i % 10 == 3:
            record["status"] = "running"
        else:
            record["status"] = "failed" if i % 4 == 0 else "completed"
            record["completedAt"] = f"{(created + timedelta(minutes=5)).isoformat()[:19]}Z"
        if record["status"] == "failed":
            record["error"] = f"timeout after {i} s"
        records.append(record)
    page = review_of(records, data_dir, run_cli)
    newest = start + timedelta(hours=11 * 39)  # 17 days 21 hours after 0001-01-01 03:00; the window ends 1 µs later
    assert newest == datetime(1, 1, 19, tzinfo=UTC)
    assert (
        "This window: 0001-01-12 00:00:00 → 0001-01-19 00:00:00 UTC (7.0 days). "
        "Previous window: 0001-01-05 00:00:00 → 0001-01-12 00:00:00 UTC." in page
    )
    assert re.search(r"Stuck runs at 0001-01-\d\d \d\d:\d\d UTC: [1-9]", page), "no stuck runs caption"
    assert '<td class="n">0001-01-' in page  # the stuck runs' created_at, the signatures' first_seen
    shown = re.sub(r'<details class="code">.*?</details>', "", page, flags=re.S)
    assert not UNPADDED_DATE.search(shown), UNPADDED_DATE.search(shown)


def test_year_tick_labels_have_four_digits() -> None:
    """A time axis over years 1-20 labels its ticks by year: 0001, 0006, ..., not 1, 6, ... (%Y on Linux)."""
    time_axis = notebook_helpers()["time_axis"]
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    time_axis(ax, datetime(1, 1, 1, tzinfo=UTC), datetime(20, 6, 1, tzinfo=UTC), maxticks=5)
    fig.canvas.draw()
    years = [mdates.num2date(tick).year for tick in ax.get_xticks()]
    assert len(years) >= 2 and all(date(year, 1, 1) <= date(20, 6, 1) for year in years)
    assert [label.get_text() for label in ax.get_xticklabels()] == [f"{year:04d}" for year in years]


QUOTED_WORKFLOW = 'beta\'s "quoted" $since'


class Page(HTMLParser):
    """The review's tables (by caption: rows of cell texts) and SQL blocks (summary, text) as the page shows them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.sql: list[tuple[str, str]] = []
        self._path: list[str] = []
        self._text: list[str] = []
        self._caption = ""
        self._summary = ""
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._path.append(f"details.{dict(attrs).get('class')}" if tag == "details" else tag)
        if tag in ("caption", "td", "th", "summary", "pre"):
            self._text = []
        elif tag == "tr":
            self._row: list[str] = []

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._text)
        if tag == "caption":
            self._caption = text
            self.tables[text] = []
        elif tag in ("td", "th"):
            self._row.append(text)
        elif tag == "tr" and "tbody" in self._path:
            self.tables[self._caption].append(self._row)
        elif tag == "summary":
            self._summary = text
        elif tag == "pre" and "details.sql" in self._path:
            self.sql.append((self._summary, text))
        while self._path and self._path.pop().split(".")[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        self._text.append(data)


def substituted(block: str) -> tuple[str, dict[str, str]]:
    """An SQL block's query with each $name replaced by the value listed under it (`-- $name = value`), and the
    listed values; the query must use exactly the names listed."""
    lines = block.splitlines()
    listed = dict(re.fullmatch(r"-- \$(\w+) = (.*)", line).groups() for line in lines if line.startswith("-- $"))
    query = "\n".join(line for line in lines if not line.startswith("-- $"))
    assert set(re.findall(r"\$(\w+)", query)) == set(listed), (listed, query)
    return re.sub(r"\$(\w+)", lambda name: listed[name[1]], query), listed


def test_the_values_under_each_sql_block_are_sql_literals_that_reproduce_its_rows(
    tmp_path: Path, run_cli: CliRunner
) -> None:
    """Each SQL block lists its bound values, which docs/notebook.md says can be pasted in place of its $names:
    they were Python reprs (['beta\\'s "quoted"'], timestamps unquoted), not SQL, and the failed-runs view listed
    $names its SQL does not have (it reads getvariable(...)). Substituted, every block runs on the warehouse; the
    workflow table and the signatures come out as the page shows them."""
    data = tmp_path / "data"
    assert run_cli("generate", "--out", data / "exports", "--runs", "300", "--days", "7").code == 0
    newest = datetime(2026, 11, 7, 23, tzinfo=UTC)  # the generated runs span 2026-11-01 to 11-08
    records = [
        {
            "runId": f"run_quoted_{i}",
            "workflowName": QUOTED_WORKFLOW,
            "status": "failed" if i % 2 else "completed",
            "createdAt": f"{newest - timedelta(hours=5 * i):%Y-%m-%dT%H:%M:%SZ}",
            "completedAt": f"{newest - timedelta(hours=5 * i) + timedelta(seconds=40):%Y-%m-%dT%H:%M:%SZ}",
            **({"error": f"it's {i % 4} o'clock"} if i % 2 else {}),
        }
        for i in range(24)
    ]
    (data / "exports" / "quoted.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    assert run_cli("run", "--data-dir", data).code == 0
    out = tmp_path / "review.html"
    result = run_cli(
        "report", "--data-dir", data, "--out", out, "--workflow", QUOTED_WORKFLOW, "--workflow", "billing.payment-retry"
    )
    assert result.code == 0, result.err
    page = Page(out.read_text(encoding="utf-8"))
    warehouse = data / "warehouse.duckdb"

    blocks = [(summary, *substituted(block)) for summary, block in page.sql]
    assert len(blocks) >= 10
    quoted = "'beta''s \"quoted\" $since'"
    assert sum(listed.get("workflows") == f"[{quoted}, 'billing.payment-retry']" for _, _, listed in blocks) >= 8
    for summary, query, listed in blocks:
        if listed:  # the signature SQL lists none: it reads the view of the block before it
            with duckdb.connect(str(warehouse), read_only=True) as con:
                con.execute("set TimeZone = 'UTC'")
                con.execute(query)
                assert con.description, summary

    def query_of(fragment: str) -> str:
        [query] = [query for _, query, _ in blocks if fragment in query]
        return query

    [workflow_caption] = [caption for caption in page.tables if "workflows by failed runs" in caption]
    shown = [(row[0], row[1], row[3]) for row in page.tables[workflow_caption]]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        rows = con.execute(query_of("select * from workflow_metrics(")).fetchall()
    assert [(name, f"{runs:,}", f"{failed:,}") for name, runs, _, failed, *_ in rows] == shown
    assert {name for name, *_ in rows} == {QUOTED_WORKFLOW, "billing.payment-retry"}

    [signature_caption] = [caption for caption in page.tables if "error signatures by failed runs" in caption]
    shown = sorted((row[0], row[1], int(row[2])) for row in page.tables[signature_caption])
    with duckdb.connect(str(warehouse), read_only=True) as con:  # the two blocks pasted as the page shows them
        con.execute("set TimeZone = 'UTC'")
        con.execute(query_of("create or replace temp view runs") + "\n" + query_of("partial_error_signatures as"))
        rows = con.fetchall()
        columns = [column[0] for column in con.description]
    signatures = sorted(
        (row["workflow_name"], row["signature"], row["runs"])
        for row in (dict(zip(columns, r, strict=True)) for r in rows)
    )
    assert set(shown) <= set(signatures)
    assert f"Top {len(shown)} of {len(signatures)} error signatures" in signature_caption
    assert any(name == QUOTED_WORKFLOW for name, _, _ in shown)


def test_stuck_runs_and_regressions_state_the_thresholds_their_tables_were_computed_with(
    tmp_path: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The section's text said "7 days", "1.5 x" and "20 finished runs" whatever RUNLENS_WORKFLOW_REGRESSIONS_* and
    RUNLENS_STUCK_RUNS_* the tables were computed with. The review now states the values each table's file records,
    also when the environment rendering it no longer sets them."""
    data = tmp_path / "data"
    assert run_cli("generate", "--out", data / "exports", "--runs", "200", "--days", "7").code == 0
    tuned = {
        "RUNLENS_WORKFLOW_REGRESSIONS_WINDOW_DAYS": "5",
        "RUNLENS_WORKFLOW_REGRESSIONS_P95_RATIO": "2.5",
        "RUNLENS_WORKFLOW_REGRESSIONS_MIN_RUNS": "12",
        "RUNLENS_STUCK_RUNS_MIN_AGE_S": "5400",
        "RUNLENS_STUCK_RUNS_P99_MULTIPLIER": "4",
        "RUNLENS_STUCK_RUNS_P99_WINDOW_DAYS": "14",
    }
    with monkeypatch.context() as env:
        for name, value in tuned.items():
            env.setenv(name, value)
        assert run_cli("run", "--data-dir", data).code == 0
    out = tmp_path / "review.html"
    assert run_cli("report", "--data-dir", data, "--out", out).code == 0
    page = html.unescape(
        re.sub(r'<details class="code">.*?</details>', "", out.read_text(encoding="utf-8"), flags=re.S)
    )
    times = "\N{MULTIPLICATION SIGN}"
    assert (
        f"Computed with threshold = max(1.5 h, 4 {times} the workflow's p99 duration over the 14 days before as_of)"
        in (page)
    )
    assert (
        "Computed over the 5 days before as_of against the 5 days before those (window_days); p95 regressed when it "
        f"grew by more than 2.5 {times} (p95_ratio) with at least 12 finished runs in both windows (min_runs)."
    ) in page
    section = page[page.index(">Stuck runs and regressions") : page.index(">Data quality")]
    for default in ("7 days", f"1.5 {times}", "20 finished runs", "28 days", "1 hour"):
        assert default not in section, default

    with monkeypatch.context() as env:  # one threshold for every workflow: the next run recomputes stuck_runs
        env.setenv("RUNLENS_STUCK_RUNS_THRESHOLD_S", "1800")
        assert run_cli("run", "--data-dir", data).code == 0
    assert run_cli("report", "--data-dir", data, "--out", out).code == 0
    assert "Computed with one threshold for every workflow: 30 min (threshold_s)." in out.read_text(encoding="utf-8")


def columns(warehouse: Path, relation: str) -> list[tuple[str, str]]:
    with connect_readonly(warehouse) as con:
        return [(row[0], row[1]) for row in con.execute(f"describe {relation}").fetchall()]


def test_a_lake_where_no_run_finished_has_every_metric_relation_and_is_reviewed(
    rendered: Rendered, data_dir: Path, run_cli: CliRunner
) -> None:
    """No finished run means no workflow_hourly_throughput partition: the warehouse had no such relation, and the
    review (and every query of it) failed with "Table ... does not exist" on a new deployment's first exports."""
    records = [
        {"runId": "run_done", "workflowName": "w", "status": "completed", "createdAt": "2026-02-01T10:00:00Z"},
        {"runId": "run_busy", "workflowName": "w", "status": "running", "createdAt": "2026-02-01T11:00:00Z"},
    ]
    page = review_of(records, data_dir, run_cli)
    assert "No run finished in the window" in page
    warehouse = Settings.from_env(data_dir).warehouse_path
    assert not list((data_dir / "lake" / "metrics" / "workflow_hourly_throughput").glob("*/*.parquet"))
    for table in METRIC_TABLES:  # the same columns, in the same order and of the same types, as over files
        assert columns(warehouse, table.name) == columns(rendered.settings.warehouse_path, table.name), table.name


def test_every_sql_example_runs_on_a_lake_with_runs_and_on_an_empty_one_as_the_docs_show_it(
    rendered: Rendered, data_dir: Path, run_cli: CliRunner
) -> None:
    """The examples that read metric tables failed with "Table ... does not exist" on a lake with nothing ingested
    (found by a review); nothing ran them, and docs/metrics.md shows each one in full."""
    assert run_cli("run", "--data-dir", data_dir).code == 0  # an empty exports folder: an empty lake
    docs = (Path(__file__).parents[1] / "docs" / "metrics.md").read_text(encoding="utf-8")
    examples = sorted((SQL_DIR / "examples").glob("*.sql"))
    assert len(examples) >= 6
    shown = 0
    for example in examples:
        query = example.read_text(encoding="utf-8")
        assert f"### `sql/examples/{example.name}`\n\n```sql\n{query}```" in docs, example.name
        with connect_readonly(rendered.settings.warehouse_path) as con:
            shown += len(con.execute(query).fetchall())
        with connect_readonly(Settings.from_env(data_dir).warehouse_path) as con:
            assert con.execute(query).fetchall() == [], example.name
    assert shown > 0


def test_a_run_created_decades_after_its_ingest_does_not_move_the_default_window(
    data_dir: Path, run_cli: CliRunner
) -> None:
    """One createdAt mistyped as 2099 made the default review the week before 2099-03-10, holding that run alone
    (found by a review): the window ends just after newest_created_at(), which leaves out runs flagged after_ingest."""
    records = [
        {"runId": f"run_{i}", "workflowName": "w", "status": "completed", "createdAt": f"2026-03-0{i}T10:00:00Z"}
        for i in range(1, 4)
    ]
    records.append({"runId": "run_typo", "workflowName": "w", "status": "running", "createdAt": "2099-03-10T10:00:00Z"})
    page = html.unescape(review_of(records, data_dir, run_cli))
    assert "This window: 2026-02-24 10:00:00 → 2026-03-03 10:00:00 UTC" in page


@pytest.mark.parametrize("how", ["renamed over with its old mtime", "rewritten in place, same size"])
def test_the_lake_stamp_changes_when_a_file_is_replaced_however_alike(tmp_path: Path, how: str) -> None:
    """A runs file replaced by another of the same bytes and mtime (only its inode differs), or rewritten in place
    by other bytes of the same size (only its mtime differs): either is a write, and the stamp the review compares
    differs (each was only changed with the other: found by a mutation audit)."""
    path = tmp_path / "lake" / "runs" / "created_date=2026-03-01" / "data.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"A" * 100)
    before, old = lake.stamp(tmp_path / "lake"), path.stat()
    if how.startswith("renamed"):
        replacement = path.with_name(".data.parquet.tmp")
        replacement.write_bytes(b"A" * 100)
        os.utime(replacement, ns=(old.st_atime_ns, old.st_mtime_ns))
        os.link(path, tmp_path / "old")  # the old inode stays in use, so its number is not reused
        os.replace(replacement, path)
    else:
        with open(path, "r+b") as handle:
            handle.write(b"B" * 100)
        os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns + 1_000_000_000))
    assert lake.stamp(tmp_path / "lake") != before


def review_cells(warehouse: Path, *names: str, **parameters: Any) -> tuple[dict[str, Any], list[str]]:
    """The notebook's code cells run in this process, without a kernel (a second or so, not a rendering): the
    parameters cell and ``parameters`` set after it as papermill sets them, the imports and the helpers, the window
    cell, and the cells that assign each of ``names``. The names they define and the HTML they displayed, in order;
    their figures are closed unshown and matplotlib's settings put back."""
    cells = [c.source for c in nbformat.read(report_module.NOTEBOOK, as_version=4).cells if c.cell_type == "code"]

    def assigns(source: str, name: str) -> bool:
        return re.search(rf"^{name}(?:, \w+)* = ", source, re.M) is not None

    chosen = cells[1:3] + [s for s in cells[3:] if any(assigns(s, name) for name in ("SINCE", *names))]
    shown: list[str] = []

    def display(*objects: Any, raw: bool = False) -> None:
        shown.extend(obj["text/html"] if raw else obj.data for obj in objects)

    namespace: dict[str, Any] = {}
    exec(compile(cells[0], "parameters", "exec"), namespace)
    namespace.update(parameters, warehouse=str(warehouse))
    with matplotlib.rc_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plt.show() on a backend that shows nothing
        try:
            for source in chosen:
                exec(compile(source.replace("%matplotlib inline", ""), "review cell", "exec"), namespace)
                namespace["display"] = display  # after the cell that imports IPython's
        finally:
            plt.close("all")
            if "con" in namespace:
                namespace["con"].close()
    return namespace, shown


def table_of(shown: list[str], caption: str) -> tuple[str, list[list[str]]]:
    """The one table displayed whose caption holds ``caption``: its caption and its rows of cell texts."""
    [table] = [(c, rows) for page in shown for c, rows in Page(page).tables.items() if caption in c]
    return table


@pytest.mark.parametrize(
    ("since", "until", "bucket"),
    [
        (date(2026, 11, 1), date(2026, 11, 4), "6 hours"),
        (date(2026, 10, 31), date(2026, 11, 4), "1 day"),
        (date(2026, 9, 20), date(2026, 11, 4), "1 day"),
        (date(2026, 9, 19), date(2026, 11, 4), "7 days"),
    ],
)
def test_time_series_buckets_are_6_hours_up_to_3_days_and_1_day_up_to_45_days(
    review_lake: Settings, since: date, until: date, bucket: str
) -> None:
    """docs/notebook.md: buckets of 6 hours for windows up to 3 days, 1 day up to 45 days, else 7 days; a window of
    exactly 3 (or 45) days takes the shorter buckets (`<` for `<=` went unseen: found by a mutation audit)."""
    days = (until - since).days
    _, shown = review_cells(review_lake.warehouse_path, since=since.isoformat(), until=until.isoformat())
    assert f"({days:.1f} days)" in shown[0]
    assert f"Time series use buckets of {bucket} from the window start" in shown[0]


def test_the_headline_shows_percentiles_from_exactly_min_runs_finished_runs(review_lake: Settings) -> None:
    """min_runs is how many finished runs the percentiles need: a window with exactly that many shows them, one more
    hides them (`>` for `>=` went unseen: found by a mutation audit)."""
    since, until = date(2026, 11, 3), date(2026, 11, 4)
    with duckdb.connect(str(review_lake.warehouse_path), read_only=True) as con:
        [(finished, p50)] = con.execute(
            "select count(*), quantile_cont(duration_s, 0.5) from runs"
            " where status in ('completed', 'failed') and created_at >= ? and created_at < ?",
            [midnight(since), midnight(until)],
        ).fetchall()
    assert finished > 0
    for min_runs, expected in ((finished, pytest.approx(p50, rel=1e-9)), (finished + 1, None)):
        namespace, _ = review_cells(
            review_lake.warehouse_path, "headline", since=str(since), until=str(until), min_runs=min_runs
        )
        assert namespace["headline"]["current"]["p50_s"] == expected, min_runs


def test_the_headline_changes_are_relative_but_for_the_failure_rate_in_points(review_lake: Settings) -> None:
    """docs/notebook.md: "Changes: relative for counts, durations and throughput; percentage points (pp) for the
    failure rate", each from the two windows' numbers the table shows (the change column was pinned by no test: a
    change relative to this window went unseen, found by a mutation audit)."""
    _, shown = review_cells(review_lake.warehouse_path, "headline", since="2026-11-06", until="2026-11-08")
    [table] = [page for page in shown if "Fleet headline" in page]
    changes = dict(re.findall(r"<tr><th>([^<]+)</th><td>.*?</td><td>.*?</td><td>([^<]*)</td></tr>", table))
    now, before = HeadlineNumbers(table).values, HeadlineNumbers(table, "previous").values
    relative = {
        "runs created": "runs",
        "p95 duration": "p95_s",
        "throughput (finished runs per hour)": "throughput_per_hour",
    }
    for label, metric in relative.items():
        assert before[metric] and now[metric] != before[metric], metric
        assert changes[label] == f"{(now[metric] - before[metric]) / before[metric]:+.1%}", label
    points = (now["failure_rate"] - before["failure_rate"]) * 100
    assert changes["failure rate (Wilson 95 % interval)"] == f"{points:+.1f} pp"


def runs_per_workflow(warehouse: Path, start: datetime, end: datetime) -> dict[str, tuple[int, int, int]]:
    """Runs, finished runs and failed runs of each workflow created in [start, end), straight from `runs`."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            """
            select workflow_name, count(*), count(*) filter (where status in ('completed', 'failed')),
                count(*) filter (where status = 'failed')
            from runs where created_at >= ? and created_at < ? group by workflow_name
            """,
            [start, end],
        ).fetchall()
    return {name: (runs, finished, failed) for name, runs, finished, failed in rows}


def test_the_workflow_table_lists_the_most_failed_first_with_their_previous_failure_rate(review_lake: Settings) -> None:
    """Over 2026-11-06 -> 11-08 against 11-04 -> 11-06: the top_n workflows by failed runs (then runs, then name),
    each with its failure rate in the previous window, a dash without a finished run there, as for the markup workflow
    whose runs are all on 11-07 (the order reversed, an inner join dropping a workflow new in the window, or this
    window's rate shown as the previous one went unseen: found by a mutation audit)."""
    warehouse = review_lake.warehouse_path
    previous, since, until = (datetime(2026, 11, day, tzinfo=UTC) for day in (4, 6, 8))
    now, before = runs_per_workflow(warehouse, since, until), runs_per_workflow(warehouse, previous, since)

    def previous_rate(name: str) -> str:
        _, finished, failed = before.get(name, (0, 0, 0))
        return f"{failed / finished:.1%}" if finished else "\N{EN DASH}"

    top = sorted(now, key=lambda name: (-now[name][2], -now[name][0], name))[:6]
    assert MARKUP_WORKFLOW in top and MARKUP_WORKFLOW not in before
    _, shown = review_cells(warehouse, "per_workflow", since="2026-11-06", until="2026-11-08")
    caption, rows = table_of(shown, "workflows by failed runs")
    assert caption == f"Top 6 of {len(now)} workflows by failed runs in the window"
    assert [[row[0], row[1], row[2], row[3], row[7]] for row in rows] == [
        [name, f"{now[name][0]:,}", f"{now[name][1]:,}", f"{now[name][2]:,}", previous_rate(name)] for name in top
    ]


def test_the_signature_table_counts_each_window_apart_and_shows_twice_top_n_signatures(review_lake: Settings) -> None:
    """The markup workflow's 30 failed runs, all created on 2026-11-07 with one error: over 11-07 -> 11-08 its
    signature has 30 runs, none in the previous window (11-06 -> 11-07), a change of +30; and the table shows
    2 x top_n signatures (docs/notebook.md). Counting the previous window up to this one's end, or showing top_n
    rows, went unseen (found by a mutation audit)."""
    _, shown = review_cells(review_lake.warehouse_path, "signatures", since="2026-11-07", until="2026-11-08", top_n=2)
    caption, rows = table_of(shown, "error signatures by failed runs")
    total = int(re.fullmatch(r"Top \d+ of (\d+) error signatures by failed runs in the window", caption)[1])
    assert total > 4 and len(rows) == 4
    [markup] = [row for row in rows if row[0] == MARKUP_WORKFLOW]
    assert markup[2:5] == [str(MARKUP_RUNS), "0", f"+{MARKUP_RUNS}"]


def test_the_stuck_runs_table_shows_the_oldest(review_lake: Settings) -> None:
    """ "the N oldest" stuck runs, oldest first, as the caption says (youngest first went unseen: found by a mutation
    audit)."""
    with connect_readonly(review_lake.warehouse_path) as con:
        stuck = con.execute("select run_id, age_s from stuck_runs").fetchall()
    assert len(stuck) >= 2
    oldest = [run_id for run_id, _ in sorted(stuck, key=lambda row: (-row[1], row[0]))][:6]
    _, shown = review_cells(review_lake.warehouse_path, "stuck")
    caption, rows = table_of(shown, "Stuck runs")
    assert caption.endswith(f": {len(stuck)}; the {len(oldest)} oldest")
    assert [row[0] for row in rows] == oldest


def test_the_result_names_the_window_it_reviewed(rendered: Rendered) -> None:
    """ReportResult.headline["window"], which the asset records as its "window" metadata: the 7 days up to just after
    the newest created_at and the 7 before, all workflows, min_runs 20 (its end given as its start went unseen: found
    by a mutation audit)."""
    with duckdb.connect(str(rendered.settings.warehouse_path), read_only=True) as con:
        [(newest,)] = con.execute("select max(created_at) from runs").fetchall()
    until = newest.astimezone(UTC) + timedelta(microseconds=1)
    window = rendered.result.headline["window"]
    bounds = {name: datetime.fromisoformat(window[name]) for name in ("since", "until", "previous_since")}
    assert bounds == {"since": until - timedelta(days=7), "until": until, "previous_since": until - timedelta(days=14)}
    assert (window["workflows"], window["min_runs"]) == ([], 20)


def test_the_longest_window_and_the_last_day_allowed_pass_the_window_checks(
    review_lake: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """--days 36,500 and --until 8999-12-31 are within the bounds docs/notebook.md gives (1-36,500 days, years
    1000-8999): they pass the window checks and meet the next refusal, of an unknown --workflow (`<` for `<=` went
    unseen: found by a mutation audit)."""
    for arguments in (["--days", "36500"], ["--since", "8999-12-30", "--until", "8999-12-31"]):
        assert window_refusal(review_lake.data_dir, capsys, *arguments).startswith("unknown workflow 'nosuchwf'")


def one_run_warehouse(data: Path, created: datetime) -> Path:
    """The warehouse of a lake holding one completed run created at ``created``, written directly (no Dagster run)."""
    row = {"run_id": "run_1", "workflow_name": "w", "status": "completed", "created_at": created, "anomalies": []}
    row |= {"created_date_source": "createdAt", "source_file": "a.jsonl", "ingested_at": created}
    path = data / "lake" / lake.RUNS / f"created_date={created.date()}" / "data.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row], schema=RUNS_SCHEMA), path)
    refresh_warehouse(data / "lake", data / "warehouse.duckdb")
    return data / "warehouse.duckdb"


def test_a_window_ending_at_midnight_after_the_newest_run_is_checked_at_its_exact_bounds(tmp_path: Path) -> None:
    """The newest run created at 23:59:59.999999 UTC: the window ends just after it, at the next midnight. --since
    that day leaves the window empty: refused. --days 7 when that midnight is 0001-01-15, 14 days into the calendar,
    starts the window before it on 0001-01-01 exactly, which fits: it passes to the next check, an unknown --workflow
    (`>` for `>=`, and `<=` for `<`, went unseen: found by a mutation audit)."""
    last = timedelta(days=1, microseconds=-1)
    out = tmp_path / "never.html"
    late = one_run_warehouse(tmp_path / "late", datetime(2026, 3, 1, tzinfo=UTC) + last)
    with pytest.raises(ReportError) as refused:
        render_report(late, out, since=date(2026, 3, 2), workflows=["nosuchwf"])
    assert str(refused.value) == (
        "--since 2026-03-02 is not before the end of the window, at the newest run (created 2026-03-01 "
        "23:59:59.999999 UTC): the window would be empty"
    )
    early = one_run_warehouse(tmp_path / "early", datetime(1, 1, 14, tzinfo=UTC) + last)
    with pytest.raises(ReportError, match=r"^unknown workflow 'nosuchwf'"):
        render_report(early, out, days=7, workflows=["nosuchwf"])
    assert not out.exists()


def test_the_review_kernel_is_this_interpreter_whatever_python3_kernelspec_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A python3 kernelspec of the user's (here on JUPYTER_PATH) may start another environment's Python, without
    runlens: the review's kernel is ipykernel's own, this interpreter, whatever is installed (the installed
    kernelspecs searched went unseen: found by a mutation audit)."""
    spec = tmp_path / "kernels" / "python3" / "kernel.json"
    spec.parent.mkdir(parents=True)
    argv = ["/elsewhere/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.write_text(json.dumps({"argv": argv, "display_name": "Python 3 (elsewhere)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    assert report_module.CurrentInterpreterKernelManager(kernel_name="python3").kernel_spec.argv[0] == sys.executable


def test_a_report_path_under_a_file_is_refused_before_anything_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out under a file, also an executable one (which os.access says root may search): one line naming the file,
    before anything else is looked at (here the missing warehouse), as docs/notebook.md says. Only the access check
    left, or none, went unseen (found by a mutation audit): the review would render, then fail to be written."""
    for mode in (0o644, 0o755):
        file = tmp_path / f"file-{mode:o}"
        file.write_text("")
        file.chmod(mode)
        out = file / "review.html"
        assert main(["report", "--data-dir", str(tmp_path / "data"), "--out", str(out)]) == 2
        assert capsys.readouterr().err == (
            f"runlens: error: {out}: cannot write the report there: {file} is not a folder you can write to\n"
        )


def test_every_code_cell_is_folded_under_code(rendered: Rendered) -> None:
    """docs/notebook.md: "Code cells are folded under "code"": the input of each code cell of the review, and of the
    parameters papermill injects, opens its <details class="code"> (the template's folding dropped went unseen: found
    by a mutation audit)."""
    cells = re.split(r'(?=<div class="jp-Cell )', rendered.html)[1:]
    code = [cell for cell in cells if cell.startswith('<div class="jp-Cell jp-CodeCell')]
    notebook = nbformat.read(report_module.NOTEBOOK, as_version=4)
    assert len(code) == 1 + sum(cell.cell_type == "code" for cell in notebook.cells)
    folded = re.compile(r'<div class="jp-Cell jp-CodeCell[^>]*>\s*<details class="code"><summary>code</summary>\s*<div')
    assert all(folded.match(cell) for cell in code)


def test_the_quarantine_reasons_count_records_and_violations_apart(review_lake: Settings) -> None:
    """Per JSON Schema keyword, the records quarantined for it and its violations: a record missing two required
    keys is one record and two violations (each counted as a record went unseen: found by a mutation audit)."""
    with connect_readonly(review_lake.warehouse_path) as con:
        quarantined = con.execute("select export_id, record_index, errors from quarantine").fetchall()
    records: dict[str, set[tuple[str, int]]] = {}
    violations: dict[str, int] = {}
    for export_id, index, errors in quarantined:
        for error in errors:
            records.setdefault(error["keyword"], set()).add((export_id, index))
            violations[error["keyword"]] = violations.get(error["keyword"], 0) + 1
    assert len(records["required"]) < violations["required"]
    _, shown = review_cells(review_lake.warehouse_path, "reasons")
    _, rows = table_of(shown, "Quarantined records by reason")
    assert {row[0]: (int(row[1]), int(row[2])) for row in rows} == {
        keyword: (len(records[keyword]), violations[keyword]) for keyword in records
    }
