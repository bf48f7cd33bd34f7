"""The reliability review: ``notebooks/reliability_review.ipynb`` executed headless and rendered to one HTML page.

The notebook reads the warehouse (read-only). papermill injects the parameters and runs it on an ipykernel of
this very interpreter, whatever kernelspecs the user has installed; nbconvert turns the result into a single HTML
file with the plots embedded and no script or style loaded from the network. The headline numbers come back from the
notebook's ``headline`` cell, whose output carries them as ``application/json``.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jinja2 import DictLoader
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from nbconvert import HTMLExporter
from traitlets import default

from runlens import lake
from runlens.config import PROJECT_DIR, Settings, sql_command
from runlens.errors import RunlensError
from runlens.interrupts import run_stoppable
from runlens.warehouse import built_for, open_warehouse

NOTEBOOK = PROJECT_DIR / "notebooks" / "reliability_review.ipynb"
HEADLINE_TAG = "headline"
HEADLINE_MIME = "application/json"
RENDERS = 3  # how many times a review is rendered while its lake is written to (see render_report)
TEMPLATE_NAME = "runlens_report.html.j2"
# The lab template without what it would fetch from the network (require.js, MathJax, Mermaid, widget managers),
# with code cells folded under <details> and some styling for the report's own tables and SQL blocks.
TEMPLATE = """
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
main { max-width: 1400px; margin: 0 auto; padding: 0 16px; }
details.code > summary, details.sql > summary { cursor: pointer; color: #57606a; font-size: 12px;
  font-family: var(--jp-ui-font-family), sans-serif; }
details.sql { margin: 0 0 12px; }
details.sql pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 8px; font-size: 11.5px;
  font-family: var(--jp-code-font-family), monospace; max-height: 260px; overflow: auto; white-space: pre; }
.jp-RenderedHTMLCommon table.runlens { border-collapse: collapse; font-size: 13px; margin: 8px 0 6px; }
.jp-RenderedHTMLCommon table.runlens caption { text-align: left; font-weight: bold; padding: 4px 0; }
.jp-RenderedHTMLCommon table.runlens th, .jp-RenderedHTMLCommon table.runlens td {
  border: 1px solid #d0d7de; padding: 3px 8px; font-variant-numeric: tabular-nums; }
.jp-RenderedHTMLCommon table.runlens thead th { background: #f6f8fa; text-align: left; }
.jp-RenderedHTMLCommon table.runlens td.t { text-align: left; max-width: 640px; }
.jp-RenderedHTMLCommon table.headline tbody th { text-align: left; }
table.headline .interval { color: #57606a; font-size: 12px; }
p.note { color: #24292f; font-size: 13px; }
</style>
{%- endblock extra_css -%}
{%- block input_group -%}
<details class="code"><summary>code</summary>
{{ super() }}
</details>
{%- endblock input_group -%}
"""


class ReportError(RunlensError):
    """The report could not be rendered: no warehouse, no runs, no window, an unknown workflow, a path it cannot
    write, or a notebook cell failed."""


@dataclass(frozen=True)
class ReportResult:
    """Where the report was written and its headline numbers.

    ``headline`` is the notebook's machine-readable headline: ``window`` (since, until, previous_since as ISO
    strings, workflows, min_runs) and, for the ``current`` and ``previous`` windows, runs, completed, failed,
    in_flight, failure_rate (with failure_rate_low / _high, Wilson 95 %), p50_s, p95_s, p99_s, finished_in_window
    and throughput_per_hour.
    """

    path: Path
    headline: dict[str, Any]

    @property
    def current(self) -> dict[str, Any]:
        return self.headline["current"]


class KernelStop(logging.Filter):
    """The kernels one report starts, so that Ctrl-C, heard on the main thread while a worker thread executes the
    notebook, can end them: ``stop`` kills those running (each leads its own process group) and any started later.
    As a filter on papermill's logger, it drops what nbclient logs once they are stopped ("Kernel died while waiting
    for execute reply.").

    nbclient stopped by a KeyboardInterrupt in its event loop shut the kernel down while a cell's task was still
    waiting for it, and that task's ``DeadKernelError`` came out as a traceback after ``runlens: interrupted``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: list[int] = []
        self._stopped = False

    def started(self, group: int) -> None:
        with self._lock:
            self._groups.append(group)
            if self._stopped:
                os.killpg(group, signal.SIGKILL)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for group in self._groups:
                with suppress(ProcessLookupError):  # ended already
                    os.killpg(group, signal.SIGKILL)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._stopped


# the KernelStop of the report being executed (in the worker thread's context)
_kernel_stop: ContextVar[KernelStop | None] = ContextVar("runlens_kernel_stop", default=None)


class CurrentInterpreterKernelManager(AsyncKernelManager):
    """Starts ipykernel's own ``python3`` kernel, i.e. this interpreter, ignoring installed kernelspecs (a user-level
    ``python3`` spec may point at another environment without runlens)."""

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        await super()._async_launch_kernel(kernel_cmd, **kw)
        stop = _kernel_stop.get()
        group = getattr(self.provisioner, "pgid", None)
        if stop is not None and group is not None:
            stop.started(group)

    @default("transport")
    def _transport_default(self) -> str:
        # Unix sockets, for this user only (the kernel warns that tcp is unencrypted)
        return "ipc" if os.name == "posix" else "tcp"

    @default("ip")
    def _ip_default(self) -> str:
        """Where the kernel's sockets go (``<ip>-1`` .. ``-5``): under Jupyter's runtime dir, a name of this kernel's
        own. jupyter_client's default is ``kernel-ipc`` in the current folder, which papermill makes ``notebooks/``:
        every review wrote its sockets into the project under the same names, and two at once (the CLI and the asset,
        or two test processes) could connect to each other's kernel ("Invalid Signature")."""
        if self.transport != "ipc":
            return super()._ip_default()
        runtime = Path(jupyter_runtime_dir())
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        return str(runtime / f"runlens-{uuid.uuid4().hex[:12]}-ipc")

    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self) -> KernelSpecManager:
        return KernelSpecManager(kernel_dirs=[])


def default_report_path(settings: Settings) -> Path:
    return settings.data_dir / "reports" / "reliability-review.html"


def render_report(
    warehouse: Path,
    out: Path,
    *,
    days: int | None = 7,
    since: date | None = None,
    until: date | None = None,
    workflows: Sequence[str] = (),
    data_dir: Path | None = None,
    echo: Callable[[str], None] | None = None,
) -> ReportResult:
    """Execute the reliability review on ``warehouse`` and write it to ``out`` as one self-contained HTML file.

    The window holds the runs with ``since <= created_at < until`` (UTC; ``until`` is exclusive). Unset bounds
    default to: ``until`` just after the newest created_at (at it when it is the calendar's last instant,
    9999-12-31 23:59:59.999999 UTC, which leaves that run out), ``since`` = ``until`` - ``days`` days (``days`` is not
    used when ``since`` is given). ``workflows`` restricts the review to those workflow names (empty: all).
    ``data_dir``: the data directory the warehouse belongs to, named in the ``runlens sql`` hints of the errors.

    The notebook's queries read the lake's files one after the other, and a refresh replaces them one after the
    other: a review whose lake was written to while it ran (``lake.stamp`` differs before and after) could mix
    tables from before and after a refresh, so it is rendered again (``echo`` says so), ``RENDERS`` renderings at most.
    """
    _check_window(days, since, until)
    _check_out(out)
    if not warehouse.is_file():
        raise ReportError(f"{warehouse}: no warehouse there; run `runlens run` first or pass --data-dir")
    lake_dir = built_for(warehouse)
    parameters = {
        "warehouse": str(warehouse.resolve()),
        "days": days,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "workflows": list(workflows),
    }
    for rendering in range(1, RENDERS + 1):
        before = lake.stamp(lake_dir) if lake_dir else None
        _check_lake(warehouse, workflows, days, since, until, data_dir)
        executed = _execute(parameters, warehouse)
        if lake_dir is None or lake.stamp(lake_dir) == before:
            break
        if echo and rendering < RENDERS:
            echo(f"{lake_dir} was written to while the review was rendered (a refresh?): rendering it again")
    else:
        raise ReportError(
            f"{lake_dir} was written to while the review was rendered, {RENDERS} times in a row, so it could mix "
            "tables from before and after a refresh: nothing written; render it again once the refresh has ended"
        )
    _write(out, _to_html(executed))
    return ReportResult(path=out, headline=_headline(executed))


# A window and the one before it must fit in Python's calendar (years 1-9999): the notebook failed with
# "year -711 is out of range" or "date value out of range" beyond these. Bounds within CALENDAR can still make
# a previous window that starts before year 1 (--since 1000-01-01 --until 8999-12-31): that is refused too.
MAX_REVIEW_DAYS = 36_500
CALENDAR = (date(1000, 1, 1), date(9000, 1, 1))
FIRST_INSTANT = datetime(1, 1, 1, tzinfo=UTC)
# where a window that ends "just after the newest run" ends when that run is at the calendar's last instant
LAST_INSTANT = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _check_window(days: int | None, since: date | None, until: date | None) -> None:
    """Refuse a window that would be empty, has no start, or with the window before it does not fit in the calendar,
    before the notebook runs (a window without ``until`` is checked again once the newest run is known)."""
    if since is None and days is None:
        raise ReportError("the review window needs a start: pass days or since")
    if days is not None and not 1 <= days <= MAX_REVIEW_DAYS:
        raise ReportError(f"--days must be a whole number of days from 1 to {MAX_REVIEW_DAYS:,}, got {days}")
    for name, day in (("--since", since), ("--until", until)):
        if day is not None and not CALENDAR[0] <= day < CALENDAR[1]:
            raise ReportError(
                f"{name} {day} is outside the years {CALENDAR[0].year}-{CALENDAR[1].year - 1} a review window can "
                "cover (it and the window before it must fit in the calendar)"
            )
    if since is not None and until is not None and since >= until:
        raise ReportError(
            f"--since {since} is not before --until {until}: the window would be empty (until is excluded)"
        )
    if until is not None:  # else the window ends just after the newest run: see _check_lake
        length = until - since if since is not None else timedelta(days=days or 0)
        if _previous_start_days(until, length) < 0:
            named = " ".join(f"{name} {day}" for name, day in (("--since", since), ("--until", until)) if day)
            raise ReportError(
                f"{named}: the window before it, of the same length, would start before 0001-01-01 (a review window "
                "and the window before it must fit in the calendar)"
            )


def _previous_start_days(end: date | datetime, length: timedelta) -> float:
    """The days from 0001-01-01 00:00 UTC to the start of the window before the one of ``length`` ending at ``end``:
    negative when it would start before the calendar (computed on offsets, which cannot leave it)."""
    first: date | datetime = FIRST_INSTANT if isinstance(end, datetime) else date.min
    return ((end - first) - 2 * length) / timedelta(days=1)


def _check_out(out: Path) -> None:
    """Refuse, before the notebook runs, a report path that cannot be a file: a folder, or under something that is
    not a writable folder."""
    if out.is_dir():
        raise ReportError(f"{out}: is a folder; the report is written to a file: name the .html file to write")
    folder = next((parent for parent in out.parents if parent.exists()), None)
    if folder is not None and not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
        raise ReportError(f"{out}: cannot write the report there: {folder} is not a folder you can write to")


def _write(out: Path, page: str) -> None:
    """Write the page to ``out`` atomically; an error names ``out``, not the temporary file written first."""
    try:
        with lake.atomic_target(out) as tmp:
            tmp.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{out}: cannot write the report there: {exc.strerror or exc}") from None


KNOWN_WORKFLOWS_LISTED = 12  # an unknown --workflow lists the lake's workflow names up to this many, else counts them


def _check_lake(
    warehouse: Path,
    workflows: Sequence[str],
    days: int | None,
    since: date | None,
    until: date | None,
    data_dir: Path | None,
) -> None:
    """Refuse a lake without runs (only quarantined records, or nothing ingested yet): there is no window to review;
    a window without ``until`` (it ends just after the newest run) when no run has a created_at, or that is empty
    or whose previous window would start before year 1; and a workflow name that no run in the lake has (a typo
    would otherwise render an empty review)."""
    with open_warehouse(warehouse) as con:
        [(runs,)] = con.execute("select count(*) from runs").fetchall()
        if runs == 0:
            [(files, read, quarantined)] = con.execute(
                "select count(*), coalesce(sum(records_read), 0), coalesce(sum(records_quarantined), 0) from ingest_log"
            ).fetchall()
            raise ReportError(
                f"{warehouse}: the lake holds no runs yet, so there is nothing to review: {files} export file(s) "
                f"ingested, {read} record(s) read, {quarantined} quarantined "
                f"(`{sql_command('select * from quarantine', data_dir)}` shows why)"
            )
        if until is None:
            [(newest,)] = con.execute("select newest_created_at()").fetchall()  # the notebook's window end
            if newest is None:  # the window would end just after the newest created_at, and there is none
                raise ReportError(
                    f"{warehouse}: no run in the lake has a created_at (each is dated from its completedAt or its "
                    "ingestion), so the window has no newest run to end at: pass --until (with --since or --days)"
                )
            _check_window_to_newest(newest, days, since)
        if not workflows:
            return
        rows = con.execute("select distinct workflow_name from workflow_daily_metrics").fetchall()
    known = {name for (name,) in rows}
    unknown = [name for name in dict.fromkeys(workflows) if name not in known]
    if unknown:
        names = ", ".join(map(repr, unknown))
        listed = (
            "its workflows are " + ", ".join(map(repr, sorted(known)))
            if len(known) <= KNOWN_WORKFLOWS_LISTED
            else f"it has {len(known)} workflows "
            f"(`{sql_command('select distinct workflow_name from workflow_daily_metrics', data_dir)}` lists them)"
        )
        raise ReportError(f"unknown workflow {names}: no run in the lake has that name; {listed}")


def _check_window_to_newest(newest: datetime, days: int | None, since: date | None) -> None:
    """Refuse a window ending just after the newest run (at ``LAST_INSTANT`` at most, as in the notebook) that would
    be empty, or whose previous window would start before year 1."""
    end = newest if newest >= LAST_INSTANT else newest + timedelta(microseconds=1)
    created = f"the newest run (created {newest.astimezone(UTC).replace(tzinfo=None).isoformat(' ')} UTC)"
    if since is not None:
        start = datetime(since.year, since.month, since.day, tzinfo=UTC)
        if start >= end:
            raise ReportError(
                f"--since {since} is not before the end of the window, at {created}: the window would be empty"
            )
        if _previous_start_days(end, end - start) < 0:
            raise ReportError(
                f"--since {since}: the window ends at {created}, so the window before it, of the same length, would "
                "start before 0001-01-01 (a review window and the window before it must fit in the calendar); pass "
                "--until too"
            )
    elif days is not None and _previous_start_days(end, timedelta(days=days)) < 0:
        raise ReportError(
            f"the {days}-day window ends at {created}, so the window before it, of the same length, would start "
            "before 0001-01-01 (a review window and the window before it must fit in the calendar); pass a smaller "
            "--days"
        )


def _execute(parameters: dict[str, Any], warehouse: Path) -> nbformat.NotebookNode:
    """The executed notebook; on a worker thread, so that Ctrl-C (or SIGTERM) stops the kernel and nothing else."""
    stop = KernelStop()
    token = _kernel_stop.set(stop)
    log = logging.getLogger("papermill")  # nbclient logs through it
    log.addFilter(stop)
    try:
        return run_stoppable(lambda: _papermill(parameters, warehouse), stop=stop.stop)
    finally:
        log.removeFilter(stop)
        _kernel_stop.reset(token)


def _papermill(parameters: dict[str, Any], warehouse: Path) -> nbformat.NotebookNode:
    try:
        return papermill.execute_notebook(
            str(NOTEBOOK),
            None,
            parameters=parameters,
            kernel_name="python3",
            kernel_manager_class=CurrentInterpreterKernelManager,
            # the kernel's own log only says "KeyboardInterrupt caught" when jupyter_client interrupts it before
            # shutting it down; cell errors still come back through the notebook
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            progress_bar=False,
            cwd=str(NOTEBOOK.parent),
        )
    except papermill.PapermillExecutionError as exc:
        raise ReportError(f"{NOTEBOOK.name} on {warehouse}: cell {exc.exec_count}: {exc.ename}: {exc.evalue}") from exc


def _to_html(notebook: nbformat.NotebookNode) -> str:
    exporter = HTMLExporter(
        template_name="lab",
        template_file=TEMPLATE_NAME,
        extra_loaders=[DictLoader({TEMPLATE_NAME: TEMPLATE})],
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _resources = exporter.from_notebook_node(notebook)
    return body


def _headline(notebook: nbformat.NotebookNode) -> dict[str, Any]:
    for cell in notebook.cells:
        if HEADLINE_TAG in cell.metadata.get("tags", []):
            for output in cell.get("outputs", []):
                if HEADLINE_MIME in output.get("data", {}):
                    return dict(output["data"][HEADLINE_MIME])
    raise ReportError(f"{NOTEBOOK.name}: the cell tagged {HEADLINE_TAG!r} produced no {HEADLINE_MIME} output")
