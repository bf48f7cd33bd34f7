"""The ``runlens`` command: run the pipeline, validate exports, generate synthetic exports."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import traceback
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path

from runlens.config import Settings
from runlens.errors import RunlensError
from runlens.interrupts import ending, run_stoppable, sigterm_raises

REPORT_DAYS = 7  # the review window of `runlens report` without --days or --since


def _note(text: str) -> None:
    """A progress line of a command, on stderr (stdout carries its result)."""
    print(f"runlens: {text}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from runlens.pipeline import run_pipeline
    from runlens.summary import render_summary

    settings = Settings.from_env(args.data_dir)
    report = run_pipeline(settings, echo=_note)
    print(render_summary(settings, report))
    return 0


def _dagster_home(args: argparse.Namespace) -> int:
    from runlens.pipeline import ensure_dagster_home, make_data_dir

    settings = Settings.from_env(args.data_dir)
    make_data_dir(settings)  # with exports/, the folder the export sensor watches
    print(ensure_dagster_home(settings))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from runlens.ingest import ExportReader, os_reason, worker_pool
    from runlens.validation import RecordValidator

    settings = Settings.from_env()
    if args.schema:
        settings = settings.with_overrides(schema_path=Path(args.schema).resolve())
    validator = RecordValidator.from_file(settings.schema_path)
    invalid = checked = unread = not_read = 0
    for name in args.files:
        path = Path(name)
        problem = _not_an_export(path)
        if problem is not None:
            print(f"{name}: {problem}", file=sys.stderr)
            not_read += 1
            continue
        params = {"source_file": name, "export_id": "", "ingest_seq": 0, "ingested_at": datetime.now(UTC)}
        before = checked
        with worker_pool(path, settings.limits, validator) as pool:
            reader = ExportReader(path, settings, validator, params, pool)
            try:
                for batch, _staged, quarantined in reader:
                    checked += batch.size
                    invalid += len(quarantined)
                    for row in quarantined:
                        where = f"{name}:{row['line']}: record {row['record_index']}"
                        for error in row["errors"]:
                            print(f"{where}: {error['path']}: {error['message']}")
            except OSError as exc:  # no permission to open it, or a failed read: said, and on to the next file
                print(f"{name}: {os_reason(exc)}", file=sys.stderr)
                if checked == before:  # nothing of it checked
                    not_read += 1
                else:  # checked in part
                    unread += 1
                continue
        for note in reader.notes:
            print(f"{name}: {note}")
        if reader.source.error is not None:  # read in part or not at all: what was not read was not checked
            unread += 1
    print(
        f"{checked} record(s) checked, {invalid} invalid"
        + (f", {not_read} file(s) not read" if not_read else "")
        + (f", {unread} file(s) not read whole" if unread else "")
        + (" (see above)" if not_read or unread else ""),
        file=sys.stderr,
    )
    return 1 if invalid or unread or not_read else 0


def _not_an_export(path: Path) -> str | None:
    """Why ``runlens validate`` cannot read ``path`` as an export, or None when it can try. The reason is named (it
    said "not a readable file" for a missing file, a folder and a .txt alike) and the caller counts the file as not
    read, apart from invalid records."""
    from runlens.ingest import os_reason
    from runlens.readers import export_format

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:  # a folder on the way that cannot be searched, a file on the way
        return os_reason(exc)
    if stat.S_ISDIR(mode):
        return "is a folder"
    if not stat.S_ISREG(mode):  # a pipe or a device could block the reading or never end
        return "not a regular file"
    if export_format(path) is None:
        return "not a .json/.jsonl/.ndjson[.gz] file"
    return None


def _generate(args: argparse.Namespace) -> int:
    from runlens.generate import generate_exports

    try:
        summary = generate_exports(
            Path(args.out),
            runs=args.runs,
            days=args.days,
            seed=args.seed,
            fmt=args.format,
            snapshots_per_day=args.snapshots_per_day,
            invalid_ratio=args.invalid_ratio,
        )
    except ValueError as exc:  # an argument out of range: the generator's message names it
        raise RunlensError(str(exc)) from None
    print(
        f"wrote {summary.files} export file(s) to {args.out}: {summary.records} records "
        f"({summary.invalid_records} deliberately invalid) for {summary.runs} runs"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from runlens.report import default_report_path, render_report
    from runlens.runs import refuse_stray_folders
    from runlens.warehouse import refuse_foreign

    if args.days is not None and (args.since or args.until):
        raise RunlensError(
            "pass either --days N or --since/--until DATE, not both: they are two ways to set the window"
        )
    days = REPORT_DAYS if args.days is None else args.days
    settings = Settings.from_env(args.data_dir)
    refuse_stray_folders(settings.lake_dir)  # the notebook reads runs: say so in runlens's words, not DuckDB's
    refuse_foreign(settings.warehouse_path, settings.lake_dir, settings.data_dir)
    out = Path(args.out) if args.out else default_report_path(settings)
    result = render_report(
        settings.warehouse_path,
        out,
        days=days,
        since=args.since,
        until=args.until,
        workflows=args.workflow,
        data_dir=settings.data_dir,
        echo=_note,
    )
    print(result.path)
    return 0


def _sql(args: argparse.Namespace) -> int:
    import duckdb

    from runlens.adhoc_sql import run_statements
    from runlens.runs import refuse_stray_folders
    from runlens.warehouse import open_warehouse, refuse_foreign

    settings = Settings.from_env(args.data_dir)
    if not settings.warehouse_path.exists():
        raise RunlensError(f"{settings.warehouse_path}: no warehouse yet; run `runlens run` first")
    if not args.query.strip():
        raise RunlensError("the query is empty")
    refuse_foreign(settings.warehouse_path, settings.lake_dir, settings.data_dir)
    con = open_warehouse(settings.warehouse_path)

    def query() -> None:
        result = run_statements(con, args.query, settings.lake_dir, settings.warehouse_path)
        if result is not None:  # None: a statement without rows (SET, a comment only)
            result.show(max_rows=args.max_rows, max_width=200)

    with con:
        try:
            # DuckDB does not always stop a query on Ctrl-C (a filtered cross join ran on); `interrupt()` does
            run_stoppable(query, stop=con.interrupt)
        except duckdb.Error as exc:
            failed = f"query failed: {str(exc).splitlines()[0]}"
            try:  # a stray folder in lake/runs fails every query of runs with an error that names only a value
                refuse_stray_folders(settings.lake_dir)
            except RunlensError as stray:
                raise RunlensError(f"{failed}; {stray}") from None
            raise RunlensError(failed) from None
    return 0


def _at_least_one(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return number


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date, YYYY-MM-DD, got {text}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="runlens", description="Reliability analytics over workflow-run exports.")
    parser.add_argument("--version", action="version", version=f"runlens {version('runlens')}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="ingest new exports, refresh runs, metrics and the warehouse, print a summary")
    run.add_argument("--data-dir", help="data root holding exports/ (default: $RUNLENS_DATA_DIR or ./data)")
    run.set_defaults(handler=_run)

    home = sub.add_parser(
        "dagster-home",
        help="prepare the Dagster instance `runlens run` records its runs in (<data dir>/.dagster with this project's"
        " dagster.yaml, or $DAGSTER_HOME when set) and print its path, for DAGSTER_HOME of the `dagster` commands",
    )
    home.add_argument("--data-dir", help="data root (default: $RUNLENS_DATA_DIR or ./data)")
    home.set_defaults(handler=_dagster_home)

    validate = sub.add_parser("validate", help="check export files against the schema without ingesting them")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--schema", help="schema file (default: $RUNLENS_SCHEMA or the bundled one)")
    validate.set_defaults(handler=_validate)

    generate = sub.add_parser("generate", help="write realistic synthetic exports")
    generate.add_argument("--out", required=True, help="folder to write the export files into")
    generate.add_argument("--runs", type=int, default=2000, help="number of distinct runs (default 2000)")
    generate.add_argument("--days", type=int, default=7, help="days the runs are spread over (default 7)")
    generate.add_argument("--seed", type=int, default=7, help="random seed; same arguments, same bytes (default 7)")
    generate.add_argument(
        "--format", default="mixed", choices=["mixed", "jsonl", "json", "jsonl.gz", "json.gz"], help="file format"
    )
    generate.add_argument(
        "--snapshots-per-day", type=int, default=4, help="export files per day; must divide 24 (default 4)"
    )
    generate.add_argument(
        "--invalid-ratio", type=float, default=0.01, help="share of deliberately invalid records (default 0.01)"
    )
    generate.set_defaults(handler=_generate)

    report = sub.add_parser("report", help="render the reliability review notebook to one self-contained HTML file")
    report.add_argument("--data-dir", help="data root (default: $RUNLENS_DATA_DIR or ./data)")
    report.add_argument("--out", help="HTML file to write (default: <data dir>/reports/reliability-review.html)")
    report.add_argument(
        "--days", type=int, help=f"review the last N days of data (default {REPORT_DAYS}; not with --since/--until)"
    )
    report.add_argument("--since", type=_day, help="window start date (UTC, included); not with --days")
    report.add_argument("--until", type=_day, help="window end date (UTC, excluded; default: after the newest run)")
    report.add_argument("--workflow", action="append", default=[], help="only this workflow (repeatable)")
    report.set_defaults(handler=_report)

    sql = sub.add_parser("sql", help="run a query against the warehouse (opened read-only)")
    sql.add_argument("query")
    sql.add_argument("--data-dir", help="data root (default: $RUNLENS_DATA_DIR or ./data)")
    sql.add_argument("--max-rows", type=_at_least_one, default=40, help="rows to show (default 40)")
    sql.set_defaults(handler=_sql)
    return parser


def _interrupted_query(exc: Exception) -> bool:
    """Whether ``exc`` is a DuckDB query stopped by Ctrl-C: DuckDB turns the KeyboardInterrupt into its own error
    (``RuntimeError: Query interrupted``, or ``InterruptException`` when stopped by ``interrupt()``)."""
    import duckdb

    return isinstance(exc, duckdb.InterruptException) or (
        isinstance(exc, RuntimeError) and str(exc) == "Query interrupted"
    )


def _stopped(exc: BaseException) -> int:
    line, code = ending(exc)
    print(line, file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with sigterm_raises():
            return int(args.handler(args))
    except RunlensError as exc:
        print(f"runlens: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated)
        return _stopped(exc)
    except OSError as exc:  # a path that cannot be used as asked: a file where a folder must be, no permission, ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"runlens: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, not bad input: one line, the traceback only on request
        if _interrupted_query(exc):
            return _stopped(exc)
        if os.environ.get("RUNLENS_DEBUG"):
            traceback.print_exc()
        print(
            f"runlens: internal error: {type(exc).__name__}: {exc} (RUNLENS_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
