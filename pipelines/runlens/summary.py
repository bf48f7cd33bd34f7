"""The short reliability summary ``runlens run`` prints, read from the warehouse (read-only)."""

from __future__ import annotations

from runlens import metrics
from runlens.config import SQL_DIR, Settings, sql_command
from runlens.pipeline import PipelineReport
from runlens.warehouse import connect_readonly

TOP_N = 5
MIN_FINISHED = 20


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}min"
    return f"{seconds / 3600:.1f}h"


def _printable(text: str) -> str:
    """``text`` with each character that is not printable as its Python escape (``\\n``, ``\\x1b``, ``\\u200b``):
    names are data, and a newline would break a table's rows, an escape sequence reach the terminal. Printable
    characters, any script's, are kept as they are."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    if not rows:
        return ["  (none)"]
    cells = [tuple(_printable(str(c)) for c in row) for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]


def render_summary(settings: Settings, report: PipelineReport) -> str:
    lines = [
        f"runlens: {len(report.new_files)} new export file(s) ingested, {report.already_ingested} already ingested"
        + (
            f", {len(report.ignored)} ignored (not a .json/.jsonl/.ndjson[.gz] file, or a link): "
            f"{', '.join(map(_printable, report.ignored[:5]))}"
            if report.ignored
            else ""
        )
    ]
    if report.unreadable:
        lines.append(f"not read now (left for the next run): {'; '.join(map(_printable, report.unreadable))}")
    with connect_readonly(settings.warehouse_path) as con:
        totals = con.execute((SQL_DIR / "summary_totals.sql").read_text()).fetchone()
        (files, read, valid, quarantined, runs, completed, failed, in_flight, conflicts, ahead, first, last) = totals
        share = f" ({quarantined / read:.2%})" if read else ""
        lines.append(f"records: {read} read = {valid} valid + {quarantined} quarantined{share}, from {files} file(s)")
        partly = con.execute(  # this run's readings only: a file's earlier parts were reported by their own runs
            "select source_file, message from ingest_log where outcome = 'partial' and ingest_seq >= $first"
            " order by ingest_seq",
            {"first": report.first_ingest_seq},
        ).fetchall()
        for name, message in partly:
            lines.append(f"PARTLY READ: {_printable(name)}: {message} (the records before the problem are in the lake)")
        if not runs:
            lines.append("runs: none yet; drop exports into " + str(settings.exports_dir))
            lines.append(_checks_line(report.checks))  # with only quarantined records, the checks say how it went
            lines += _check_problems(report)
            return "\n".join(lines)
        lines.append(
            f"runs: {runs} ({first} .. {last} UTC): {completed} completed, {failed} failed, {in_flight} in flight"
            + (f"; {conflicts} seen both completed and failed (latest kept)" if conflicts else "")
        )
        # the day after `last` is added in SQL: after 9999-12-31 Python has no date (OverflowError)
        params = {"first_day": first, "last_day": last, "min_finished": MIN_FINISHED}
        top = con.execute((SQL_DIR / "summary_top_workflows.sql").read_text(), params).fetchall()
        by_rate = sorted(top, key=lambda r: (-(r[4] or 0), r[0]))[:TOP_N]
        lines.append(f"highest failure rate (workflows with >= {MIN_FINISHED} finished runs, Wilson 95% interval):")
        lines += _table(
            [(r[0], f"{r[3]}/{r[2]}", f"{r[4]:.1%}", f"[{r[5]:.1%}, {r[6]:.1%}]") for r in by_rate],
            ("workflow", "failed/finished", "rate", "95% interval"),
        )
        by_p95 = sorted(top, key=lambda r: (-(r[8] or 0), r[0]))[:TOP_N]
        lines.append(f"slowest p95 duration (exact, workflows with >= {MIN_FINISHED} finished runs):")
        lines += _table(
            [(r[0], _fmt_s(r[7]), _fmt_s(r[8]), _fmt_s(r[9])) for r in by_p95], ("workflow", "p50", "p95", "p99")
        )
        relations = {row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()}
        extras = []
        for name in ("stuck_runs", "workflow_regressions"):
            if name in relations:
                extras.append(f"{name.replace('_', ' ')}: {con.execute(f'select count(*) from {name}').fetchone()[0]}")
        if extras:
            lines.append("; ".join(extras))
        if ahead:
            lines.append(metrics.after_ingest_notice(ahead))
    lines.append(_checks_line(report.checks))
    lines += _check_problems(report)
    lines.append(
        f"warehouse: {settings.warehouse_path} (query it read-only: {sql_command('select ...', settings.data_dir)})"
    )
    return "\n".join(lines)


def _checks_line(checks: dict[str, str]) -> str:
    if not checks:
        return "checks: none run (this run changed no checked table)"
    named = {
        outcome: sorted(name for name, got in checks.items() if got == outcome) for outcome in ("failed", "warning")
    }
    passed = len(checks) - len(named["failed"]) - len(named["warning"])
    return f"checks: {passed}/{len(checks)} passed" + "".join(
        f"; {outcome.upper()}: {', '.join(names)}" for outcome, names in named.items() if names
    )


def _check_problems(report: PipelineReport) -> list[str]:
    """One line per check that did not pass: what it found."""
    return [f"  {name}: {problem}" for name, problem in sorted(report.check_problems.items())]
