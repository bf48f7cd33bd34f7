"""Ingest: export files -> validated, typed records (staged), quarantine and the ingest log."""

import dagster as dg

from runlens import exports
from runlens.defs.failures import one_line_failure
from runlens.defs.partitions import export_files
from runlens.defs.resources import LAKE_POOL, RunlensResource
from runlens.ingest import COMMITTED, NOT_READ, IngestResult, ingest_file, next_ingest_seq, schema_change_notice
from runlens.interrupts import interrupts_deferred
from runlens.locks import lake_write_lock
from runlens.validation import RecordValidator


@dg.asset(
    partitions_def=export_files,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="ingest",
    kinds={"python", "parquet"},
    pool=LAKE_POOL,
)
def ingested_exports(context: dg.AssetExecutionContext, runlens: RunlensResource) -> dg.MaterializeResult:
    """One committed ingest per export file version: every record it holds, either valid and typed (staged for
    `runs`) or quarantined with the raw text and each reason, plus one ingest_log row with the file's counts.

    Files are ingested in path order; content that was already ingested is skipped, so re-materializing is a no-op.
    """
    settings = runlens.settings()
    with one_line_failure():
        by_key = {f.key: f for f in exports.discover(settings).files}
        validator = RecordValidator.from_file(settings.schema_path)
        results: list[IngestResult] = []
        missing: list[str] = []
        with lake_write_lock(settings.lake_dir):
            notice = schema_change_notice(settings.lake_dir, validator)
            if notice:
                with interrupts_deferred():
                    context.log.warning(notice)
            seq = next_ingest_seq(settings.lake_dir)  # counted up here: looked up per file, it read every ingest log
            for key in sorted(context.partition_keys, key=lambda k: by_key[k].name if k in by_key else k):
                export = by_key.get(key)
                if export is None:
                    missing.append(key)
                    continue
                result = ingest_file(export.path, settings, validator, export.name, seq)
                results.append(result)
                if result.outcome in COMMITTED:
                    seq += 1
                # a log line is a write to the Dagster instance: Ctrl-C must come before or after it, not inside
                with interrupts_deferred():
                    (context.log.warning if result.outcome == "unreadable" else context.log.info)(_describe(result))
    if missing:
        with interrupts_deferred():
            context.log.warning(f"export files no longer present under {settings.exports_dir}: {', '.join(missing)}")
    return dg.MaterializeResult(metadata=ingest_metadata(results, missing))


def _describe(result: IngestResult) -> str:
    text = (
        f"{result.source_file}: {result.outcome}, {result.records_read} read = "
        f"{result.records_valid} valid + {result.records_quarantined} quarantined"
    )
    return text + (f" ({result.message})" if result.message else "")


def ingest_metadata(results: list[IngestResult], missing: list[str]) -> dict[str, dg.MetadataValue]:
    rows = "\n".join(
        f"| {md_escape(r.source_file)} | {r.outcome} | {r.records_read} | {r.records_valid} | {r.records_quarantined} |"
        for r in results
    )
    return {
        "files": dg.MetadataValue.int(len(results)),
        "records_read": dg.MetadataValue.int(sum(r.records_read for r in results)),
        "records_valid": dg.MetadataValue.int(sum(r.records_valid for r in results)),
        "records_quarantined": dg.MetadataValue.int(sum(r.records_quarantined for r in results)),
        "missing_files": dg.MetadataValue.int(len(missing)),
        NOT_READ: dg.MetadataValue.json([[r.source_file, r.message] for r in results if r.outcome == "unreadable"]),
        "preview": dg.MetadataValue.md(
            "| file | outcome | read | valid | quarantined |\n|---|---|---|---|---|\n" + rows
        ),
    }


def md_escape(text: str) -> str:
    """Data shown in markdown metadata is escaped, never interpreted."""
    return "".join(f"\\{c}" if c in "\\`*_{}[]()#+-.!|<>" else c for c in text)
