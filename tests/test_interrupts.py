"""Ctrl-C and SIGTERM end every command with one line (`runlens: interrupted`, exit 130; `runlens: terminated`, exit
143) and nothing else on stderr, whatever was running: a DuckDB query that does not hear the signal, a notebook
kernel, a log line being written to the Dagster instance (all found by a review)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import types
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import nbformat
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import CliRunner
from processes import start_runlens
from runlens import entry, interrupts, lake, warehouse
from runlens.contracts import RUNS_SCHEMA

# DuckDB runs this filtered cross join on after SIGINT (without end: 10^12 pairs), but stops it on `interrupt()`
ENDLESS_QUERY = "select count(*) from range(1000000) a cross join range(1000000) b where a.range + b.range = 7"
REPORT_PARAMETERS = ["warehouse", "days", "since", "until", "workflows"]  # what runlens report passes
SIGNALS = [
    pytest.param(signal.SIGINT, "runlens: interrupted\n", 130, id="ctrl-c"),
    pytest.param(signal.SIGTERM, "runlens: terminated\n", 143, id="sigterm"),
]


def send(process: subprocess.Popen[str], signum: int) -> None:
    """Ctrl-C as a terminal sends it (to the whole process group), SIGTERM as `kill PID` does."""
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)


def wait_for(path: Path, process: subprocess.Popen[str], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def ended(process: subprocess.Popen[str], signum: int, after: Path, delay_s: float = 0.5) -> tuple[int, str, str]:
    """``delay_s`` after ``after`` appears (what it announces has begun), signal the process and return its exit
    code, stdout and stderr (killed if it does not end within a generous minute)."""
    try:
        wait_for(after, process)
        time.sleep(delay_s)
        send(process, signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    return process.returncode, out, err


@pytest.mark.parametrize(("signum", "line", "code"), SIGNALS)
def test_sql_ends_on_a_signal_even_when_duckdb_does_not_stop_the_query(
    tmp_path: Path, signum: int, line: str, code: int
) -> None:
    """The query ran on (Ctrl-C was ignored until it ended, SIGTERM killed the process without a word): it runs on a
    worker thread now, and the main thread calls `interrupt()`."""
    data = tmp_path / "data"
    warehouse.refresh_warehouse(data / "lake", data / "warehouse.duckdb")
    started = tmp_path / "started.csv"  # written by the statement just before the endless one
    query = f"copy (select 1) to '{started}'; {ENDLESS_QUERY}"
    process = start_runlens(
        "sql", query, "--data-dir", data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert ended(process, signum, after=started) == (code, "", line)


@pytest.mark.parametrize(("signum", "line", "code"), SIGNALS)
def test_work_that_does_not_stop_when_asked_ends_the_process_after_the_grace(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], signum: int, line: str, code: int
) -> None:
    class Ended(BaseException):
        pass

    def exit_now(status: int) -> None:
        raise Ended(status)

    monkeypatch.setattr(interrupts.os, "_exit", exit_now)
    release, asked = threading.Event(), threading.Event()
    main = threading.main_thread().ident

    def work() -> None:  # signals the main thread once it runs (a timer raced the set-up on a slow machine)
        signal.pthread_kill(main, signum)
        release.wait()

    guard = threading.Timer(60, release.set)  # were the signal lost, the test fails instead of waiting for ever
    guard.start()
    try:
        with interrupts.sigterm_raises(), pytest.raises(Ended) as stopped:
            interrupts.run_stoppable(work, stop=asked.set, grace_s=0.5)
    finally:
        guard.cancel()
        release.set()
    assert asked.is_set() and stopped.value.args == (code,)
    assert capsys.readouterr().err == line


def test_a_signal_while_the_work_thread_starts_stops_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """`Thread.start()` waits for the thread to begin, and a signal landing in that wait (CI did, on a slow machine)
    left the work running unstopped while the interrupt went on."""
    started = threading.Thread.start

    def start_then_interrupted(thread: threading.Thread) -> None:
        started(thread)
        raise KeyboardInterrupt

    monkeypatch.setattr(interrupts.threading.Thread, "start", start_then_interrupted)
    release = threading.Event()
    with pytest.raises(KeyboardInterrupt):
        interrupts.run_stoppable(release.wait, stop=release.set, grace_s=30)
    assert release.is_set()


def test_a_signal_during_a_deferred_call_is_raised_once_it_returns() -> None:
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt), interrupts.interrupts_deferred():
        signal.raise_signal(signal.SIGINT)
        steps.append("the call went on to its end")
    assert steps == ["the call went on to its end"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_while_the_ingest_logs_a_file_lets_the_line_be_written(
    data_dir: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log line is a write to the Dagster instance, and Dagster raises on Ctrl-C at once inside a step: a signal in
    SQLAlchemy's connection handling printed an "Exception closing connection" traceback (about 1 in 18 tries). The
    signal is raised here in the middle of writing the ingest's line for the file; the line must be stored whole and
    the run end as interrupted."""
    (data_dir / "exports" / "a.jsonl").write_text(
        '{"runId": "run_1", "workflowName": "w", "status": "queued", "createdAt": "2026-11-01T10:00:00Z"}\n'
    )
    store = dg.DagsterInstance.handle_new_event
    stored: list[str] = []

    def interrupted_store(instance: dg.DagsterInstance, event: dg.EventLogEntry, **kwargs: object) -> None:
        if event.user_message.startswith("a.jsonl: "):
            signal.raise_signal(signal.SIGINT)
        store(instance, event, **kwargs)
        stored.append(event.user_message)

    monkeypatch.setattr(dg.DagsterInstance, "handle_new_event", interrupted_store)
    result = run_cli("run", "--data-dir", data_dir)
    assert (result.code, result.err) == (130, "runlens: interrupted\n")
    assert [m for m in stored if m.startswith("a.jsonl: ")] == ["a.jsonl: ingested, 1 read = 1 valid + 0 quarantined"]


def test_sigterm_ends_a_command_that_holds_no_signal_with_one_line(tmp_path: Path) -> None:
    """Outside `runlens run`'s Dagster window SIGTERM ended every command at once, without a word (exit 143)."""
    out = tmp_path / "exports"
    process = start_runlens(
        "generate", "--out", out, "--runs", "3000000", "--days", "30", stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert ended(process, signal.SIGTERM, after=out) == (143, "", "runlens: terminated\n")


def slow_notebook(path: Path, started: Path) -> None:
    """A review notebook whose first cell writes its kernel's pid to ``started`` and then runs for ten minutes."""
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("\n".join(f"{name} = None" for name in REPORT_PARAMETERS))
    parameters.metadata["tags"] = ["parameters"]
    cell = f"import os, pathlib, time\npathlib.Path({str(started)!r}).write_text(str(os.getpid()))\ntime.sleep(600)"
    notebook.cells = [parameters, nbformat.v4.new_code_cell(cell)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


def one_run_lake(lake_dir: Path) -> None:
    """A runs lake holding one queued run."""
    created = datetime(2026, 11, 1, 10, tzinfo=UTC)
    row = {"run_id": "run_1", "workflow_name": "w", "status": "queued", "created_at": created, "anomalies": []}
    row |= {"created_date_source": "createdAt", "source_file": "a.jsonl", "ingested_at": created}
    path = lake_dir / lake.RUNS / "created_date=2026-11-01" / "data.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row], schema=RUNS_SCHEMA), path)


def gone(pid: int, timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("delay_s", [0.6, 0.7, 0.8, 0.9, 1.0])
def test_ctrl_c_during_a_report_ends_with_one_line_and_no_kernel_left(tmp_path: Path, delay_s: float) -> None:
    """nbclient, stopped by a KeyboardInterrupt in its event loop, shut the kernel down while a cell's task still
    waited for it: the task's `DeadKernelError` came out as a traceback after `runlens: interrupted`. It did when
    nbclient's liveness poll, once a second from the cell's start, fell between the kernel's end and the end of the
    shutdown, so the attempts step Ctrl-C across that second."""
    data = tmp_path / "data"
    one_run_lake(data / "lake")  # `runlens report` refuses a lake without runs before it starts a kernel
    warehouse.refresh_warehouse(data / "lake", data / "warehouse.duckdb")
    notebook, started = tmp_path / "slow.ipynb", tmp_path / "kernel.pid"
    slow_notebook(notebook, started)
    with_notebook = (
        "import sys; from pathlib import Path; from runlens import cli, report; "
        "report.NOTEBOOK = Path(sys.argv[1]); sys.exit(cli.main(sys.argv[2:]))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", with_notebook, str(notebook), "report", "--data-dir", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert ended(process, signal.SIGINT, after=started, delay_s=delay_s) == (130, "", "runlens: interrupted\n")
    assert gone(int(started.read_text())), "the kernel outlived the command"


class _ImportInterrupted(types.ModuleType):
    """A module whose import is cut short by Ctrl-C: ``from runlens.cli import main`` raises KeyboardInterrupt. Only
    ``main`` does: pytest looks up ``__file__`` of the modules in a failed test's traceback, and a KeyboardInterrupt
    there aborted the whole session instead of reporting the failure (seen in a mutation audit)."""

    def __getattr__(self, name: str) -> object:
        if name == "main":
            raise KeyboardInterrupt
        raise AttributeError(name)


def test_a_ctrl_c_while_the_command_is_imported_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "runlens.cli", _ImportInterrupted("runlens.cli"))
    try:
        code = entry.main()
    except KeyboardInterrupt:  # escaped: pytest would take it for the user's Ctrl-C and stop the session
        pytest.fail("the Ctrl-C during the import escaped runlens.entry.main")
    assert code == 130
    assert capsys.readouterr().err == "runlens: interrupted\n"


def test_the_console_command_runs_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "one.jsonl").write_text('{"runId": "run_1", "workflowName": "wf", "status": "queued"}\n')
    monkeypatch.setattr(sys, "argv", ["runlens", "validate", str(tmp_path / "one.jsonl")])
    assert entry.main() == 0
    monkeypatch.setattr(sys, "argv", ["runlens", "validate", str(tmp_path / "missing.jsonl")])
    assert entry.main() != 0
    assert "missing.jsonl" in capsys.readouterr().err


def test_a_sigterm_that_duckdb_turns_into_its_own_error_ends_as_terminated_and_the_next_ctrl_c_as_interrupted(
    run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB turns the exception a signal raises inside a query into its own error (`Query interrupted`), which no
    longer says which signal it was: a SIGTERM must still end the command with `runlens: terminated` and 143. The
    signals a command received are its own: the next command stopped by Ctrl-C ends with `runlens: interrupted`
    and 130 (both survived a mutation audit)."""
    from runlens import cli

    def terminated_in_a_query(_args: object) -> int:
        try:
            signal.raise_signal(signal.SIGTERM)
        except interrupts.Terminated:
            raise RuntimeError("Query interrupted") from None  # what DuckDB makes of it
        return 0

    def interrupted_in_a_query(_args: object) -> int:
        raise RuntimeError("Query interrupted")  # what DuckDB 2.0 raises when SIGINT stops a query

    monkeypatch.setattr(cli, "_sql", terminated_in_a_query)
    result = run_cli("sql", "select 1")
    assert (result.code, result.err) == (143, "runlens: terminated\n")
    monkeypatch.setattr(cli, "_sql", interrupted_in_a_query)
    result = run_cli("sql", "select 1")
    assert (result.code, result.err) == (130, "runlens: interrupted\n")


def test_what_was_printed_is_written_out_before_the_process_ends_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`os._exit` ends the process without flushing Python's buffers: the rows `runlens sql` had printed into a pipe
    (block-buffered) were lost when work that did not stop ended the process (survived a mutation audit)."""

    class Ended(BaseException):
        pass

    def exit_now(status: int) -> None:
        raise Ended(status)

    monkeypatch.setattr(interrupts.os, "_exit", exit_now)
    written = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(written, encoding="utf-8"))  # buffered, as into a pipe
    print("the rows so far")
    with pytest.raises(Ended) as ended:
        interrupts.end_now(KeyboardInterrupt())
    assert ended.value.args == (130,)
    assert written.getvalue() == b"the rows so far\n"
    assert capsys.readouterr().err == "runlens: interrupted\n"


@pytest.mark.parametrize(
    ("signals", "raised"),
    [
        ((signal.SIGTERM,), interrupts.Terminated),
        ((signal.SIGINT, signal.SIGTERM), KeyboardInterrupt),
        ((signal.SIGTERM, signal.SIGINT), interrupts.Terminated),
    ],
    ids=["sigterm", "ctrl-c-first", "sigterm-first"],
)
def test_sigterm_is_held_back_too_and_the_first_signal_is_the_one_raised(
    signals: tuple[int, ...], raised: type[BaseException]
) -> None:
    """SIGTERM is held back during a deferred call like Ctrl-C; when both came, the first one is raised after the
    call (Ctrl-C then SIGTERM ends as interrupted, not terminated). Both survived a mutation audit."""
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt) as stopped, interrupts.sigterm_raises(), interrupts.interrupts_deferred():
        for signum in signals:
            signal.raise_signal(signum)
        steps.append("the call went on to its end")
    assert steps == ["the call went on to its end"]
    assert type(stopped.value) is raised
