"""Metric tables against plain-Python computations of their definitions (tests/metrics_reference.py)."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import metrics_reference as ref
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from runlens import lake
from runlens.config import PROJECT_DIR, SQL_DIR, Settings
from runlens.contracts import RUNS_SCHEMA
from runlens.errors import ConfigError
from runlens.ingest import ingest_file
from runlens.metrics import METRIC_TABLES, env_params, macro_sql, metric_globs, refresh_metrics, stale_params
from runlens.validation import RecordValidator

D0 = date(2026, 3, 1)
AS_OF = datetime(2026, 3, 15, 12, tzinfo=UTC)
BILLING = "billing-sync"
QUOTED = 'it\'s "quoted"'
SLASHED = "etl/daily/load"
UNICODE = "Zürich-Übertragung 数据"
SLOW = "slow-batch"
LATE = "late: 42 retries"
EXAMPLES = sorted((SQL_DIR / "examples").glob("*.sql"))

COUNT, RATE, TIME = "BIGINT", "DOUBLE", "TIMESTAMP WITH TIME ZONE"
STATS = {
    **dict.fromkeys(("runs", "completed", "failed", "in_flight"), COUNT),
    **dict.fromkeys(("failure_rate", "failure_rate_low", "failure_rate_high"), RATE),
    **dict.fromkeys(("p50_s", "p90_s", "p95_s", "p99_s", "max_s"), RATE),
}
COLUMNS = {
    "workflow_daily_metrics": {"workflow_name": "VARCHAR", **STATS, "day": "DATE"},
    "workflow_hourly_throughput": {
        "workflow_name": "VARCHAR",
        "hour": TIME,
        **dict.fromkeys(("finished", "completed", "failed"), COUNT),
        "day": "DATE",
    },
    "error_signatures": {
        "workflow_name": "VARCHAR",
        "signature": "VARCHAR",
        "runs": COUNT,
        "first_seen": TIME,
        "last_seen": TIME,
        "example": "VARCHAR",
    },
    "stuck_runs": {
        "run_id": "VARCHAR",
        "workflow_name": "VARCHAR",
        "status": "VARCHAR",
        "created_at": TIME,
        **dict.fromkeys(("age_s", "threshold_s", "workflow_p99_s"), RATE),
        "as_of": TIME,
    },
    "workflow_regressions": {
        "workflow_name": "VARCHAR",
        **dict.fromkeys(("previous_start", "latest_start", "latest_end"), TIME),
        **dict.fromkeys(("previous_finished", "latest_finished"), COUNT),
        **{
            f"{window}_failure_rate{bound}": RATE
            for window in ("previous", "latest")
            for bound in ("", "_low", "_high")
        },
        **dict.fromkeys(("failure_rate_change", "previous_p95_s", "latest_p95_s", "p95_ratio"), RATE),
        **dict.fromkeys(("failure_rate_regressed", "p95_regressed"), "BOOLEAN"),
    },
}


# Error messages and the signatures the normalisation rules in sql/error_signatures.sql give them.
SIGNATURES = {
    "Activity task timed out after 30s (attempt 3/5) for run_8f3ka in workflow 'billing' at https://x.io/v1/jobs/1": (
        "Activity task timed out after <n>s (attempt <n>/<n>) for <id> in workflow '<str>' at <url>"
    ),
    "Activity task timed out after 45s (attempt 1/5) for run_zz in workflow 'checkout' at http://x.io/v2/j?a=2": (
        "Activity task timed out after <n>s (attempt <n>/<n>) for <id> in workflow '<str>' at <url>"
    ),
    "can't open /var/lib/app/cache.db: permission denied (uid 1001)": (
        "can't open <path>: permission denied (uid <n>)"
    ),
    "can't open ~/x: permission denied (uid 7)": "can't open <path>: permission denied (uid <n>)",
    "upstream 550e8400-e29b-41d4-a716-446655440000 returned HTTP 503 after 1.5s\n   at worker.py": (
        "upstream <uuid> returned HTTP <n> after <n>s at worker.py"
    ),
    "checksum mismatch: expected 0xDEADBEEF got 4bf92f3577b34da6": "checksum mismatch: expected <hex> got <hex>",
    "trace 123456ab failed after 12345678 ms, span 9e8d7c6b": "trace <hex> failed after <n> ms, span <hex>",
    "trace 3f9a2b1c failed after 250 ms, span 0000001ef": "trace <hex> failed after <n> ms, span <hex>",
    'json {"code": 500, "msg": "boom"}': 'json {"<str>": <n>, "<str>": "<str>"}',
    "Ошибка 42: задача не найдена": "Ошибка <n>: задача не найдена",
    "C:\\jobs\\run.ps1 exited with code 2 for req-42 on src/app/main.py": (
        "<path> exited with code <n> for <id> on <path>"
    ),
}


# The rules of sql/partial_error_signatures.sql on the cases that decide between them, written by hand: numbers with
# a unit against hex ids (a word of digits and one final letter is a number with a unit, anything else of 8+ hex
# digits holding a letter is hex), ISO dates and date-times, which become one <ts> unless inside a word or path,
# numbers with units, Go durations and exponents, and words with digits that stay.
SIGNATURE_RULES = {
    " \tqueue   stalled\r\n\r\nwhile draining\f ": "queue stalled while draining",
    "lease\tlost": "lease lost",
    "single spaces stay as they are": "single spaces stay as they are",
    "buffer of 4194304B exceeds the limit": "buffer of <n>B exceeds the limit",
    "wrote 1048576b in 1500000ms": "wrote <n>b in <n>ms",
    "retry budget of 10000000d exhausted": "retry budget of <n>d exhausted",
    "object deadbeef missing, flags 0x1f": "object <hex> missing, flags <hex>",
    "trace 123456ab and span 1234567ab failed": "trace <hex> and span <hex> failed",
    "span 0000001e is digits and one letter": "span <n>e is digits and one letter",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736 dropped": "trace <hex> dropped",
    "lease 550e8400-e29b-41d4-a716-446655440000 expired": "lease <uuid> expired",
    "deadline 2026-03-01T12:00:00Z passed": "deadline <ts> passed",
    "at 2026-03-01 12:00:00.123+02:00, retrying": "at <ts>, retrying",
    "batch for 2026-03-01 failed": "batch for <ts> failed",
    "lease until 2026-03-01t12:00:00.5z (now 2026-03-01T12:00:05.123456-0330)": "lease until <ts> (now <ts>)",
    "2026-03-01 12:00:00,123 ERROR worker 7 died": "<ts> ERROR worker <n> died",
    "window 2026-03-01T00:00:00Z/2026-03-08T00:00+05 is empty": "window <ts>/<ts> is empty",
    "timeout 30s after 2026-03-01T12:00:00+05:30 on node 7": "timeout <n>s after <ts> on node <n>",
    "cannot read /data/2026-03-01.csv": "cannot read <path>",
    "job-2026-03-01 failed": "<id> failed",
    "invalid date 2026-13-45": "invalid date <n>-<n>-<n>",
    "at 12:00:00 today": "at <n>:<n>:<n> today",
    "buffer of 4194304B full since 2026-03-01T12:00:00Z (trace 4bf92f3577b34da6)": (
        "buffer of <n>B full since <ts> (trace <hex>)"
    ),  # the example of docs/metrics.md
    # a number glued to letters is a number with a unit, however long the unit, decimals included
    "container exceeded memory limit 512MiB": "container exceeded memory limit <n>MiB",
    "container exceeded memory limit 1024MiB": "container exceeded memory limit <n>MiB",
    "memory 1.5GiB over 1GiB": "memory <n>GiB over <n>GiB",
    "read 1536KiB of 2TiB, 4096bytes left": "read <n>KiB of <n>TiB, <n>bytes left",
    "the 3rd retry on a 64bit host got 404NotFound": "the <n>rd retry on a <n>bit host got <n>NotFound",
    "waited 500ms then 1.5µs": "waited <n>ms then <n>µs",
    # Go durations: the numbers and units before the last number belong to it, so a minute or more (1m0s) reads
    # like less (59.5s); so do those of other words made of numbers and letters
    "context deadline exceeded after 1m30s": "context deadline exceeded after <n>s",
    "context deadline exceeded after 2m0s": "context deadline exceeded after <n>s",
    "context deadline exceeded after 5m0.5s": "context deadline exceeded after <n>s",
    "context deadline exceeded after 59.5s": "context deadline exceeded after <n>s",
    "took 1h2m3.5s, limit 1h30m": "took <n>s, limit <n>m",
    "frame 1920x1080, batch 2026_03_01, budget 1_000_000": "frame <n>, batch <n>, budget <n>",
    # scientific notation; 8 or more hex digits holding a letter stay hex even when they could be a number
    "value 1e10 overflows, 1.5e-3 underflows, 2E+7 fits": "value <n> overflows, <n> underflows, <n> fits",
    "span 12345e10 dropped": "span <hex> dropped",
    # ISO 8601 basic date-times (a date alone in basic form is a number)
    "snapshot 20260301T120000Z expired": "snapshot <ts> expired",
    "signed at 20260301t1200+0530, now 20260301T120000.123z": "signed at <ts>, now <ts>",
    "batch 20260301 failed": "batch <n> failed",
    # left as they are: digits after letters belong to the word
    "v2 api over http2 with sha256, ipv4 and utf8 on k8s": "v2 api over http2 with sha256, ipv4 and utf8 on k8s",
    "version 1.2.3 at 10.0.1.2:8080": "version <n>.<n> at <n>.<n>:<n>",
    # ids: words joined by _ or - that hold a digit (x86_64 among them)
    "image for x86_64 and arm64 by run_8f3ka, req-42, job_7f3a": "image for <id> and arm64 by <id>, <id>, <id>",
    # a run id needs no digit
    "lost run_abc_def": "lost <id>",
    # seven hex digits are a word, not <hex> (commit ids are shortened to seven); a date inside a dotted word is
    # no timestamp, only numbers (both found by a mutation audit)
    "commit deadbee pushed": "commit deadbee pushed",
    "rotated app.2026-03-01 away": "rotated app.<n>-<n>-<n> away",
    # a leap second (second 60) is a time too
    "at 2016-12-31T23:59:60Z": "at <ts>",
    # the quote in "can't" opens nothing, so the quoted value after it is one
    "can't read 'config.yaml'": "can't read '<str>'",
}


def test_error_signature_rules_on_hand_written_cases() -> None:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(
        "create table runs as select 'run_' || i as run_id, 'wf_' || i as workflow_name, 'failed' as status,"
        " date '2026-03-01' as created_date, timestamptz '2026-03-01 00:00:00+00' as created_at, error"
        " from unnest($errors) with ordinality as t(error, i)",
        {"errors": list(SIGNATURE_RULES)},
    )
    query = f"select example, signature from ({(SQL_DIR / 'partial_error_signatures.sql').read_text()})"
    assert dict(con.execute(query).fetchall()) == SIGNATURE_RULES


# Messages of edge_runs() only (kept out of SIGNATURES, whose messages the generated runs draw from).
EDGE_SIGNATURES = {
    "can't open ./tmp/q0: permission denied (uid 3)": "can't open <path>: permission denied (uid <n>)",
    **{f"lost worker {i} on node {i + 4}": "lost worker <n> on node <n>" for i in (1, 2, 3)},
}


def signature_of(error: str | None) -> str:
    return {**SIGNATURES, **EDGE_SIGNATURES}[error] if error and error.strip() else "<no error>"


def at(days: float, hours: float = 0, seconds: float = 0) -> datetime:
    return datetime(D0.year, D0.month, D0.day, tzinfo=UTC) + timedelta(days=days, hours=hours, seconds=seconds)


def window_runs(name: str, start: datetime, count: int, failures: int, duration_s: float) -> list[ref.Run]:
    """``count`` runs spread over the 7 days from ``start``, the first ``failures`` failed, durations rising."""
    messages = list(SIGNATURES)
    runs: list[ref.Run] = []
    for i in range(count):
        created = start + timedelta(hours=i * 7 * 24 / count + 1)
        failed = i < failures
        runs.append(
            ref.Run(
                f"run_{name}_{start:%m%d}_{i}",
                name,
                "failed" if failed else "completed",
                created,
                created + timedelta(seconds=duration_s + i * 0.1),
                messages[i % len(messages)] if failed else None,
            )
        )
    return runs


def steady_runs(name: str, start: datetime, count: int, duration_s: float) -> list[ref.Run]:
    """``count`` completed runs spread over the 7 days from ``start``, each lasting exactly ``duration_s``."""
    return [
        ref.Run(f"run_{name}_{start:%m%d}_{i}", name, "completed", created, created + timedelta(seconds=duration_s))
        for i in range(count)
        for created in [start + timedelta(hours=i * 7 * 24 / count + 1)]
    ]


def edge_runs() -> list[ref.Run]:
    previous, latest = AS_OF - timedelta(days=14), AS_OF - timedelta(days=7)
    offset = datetime.fromisoformat
    return [
        ref.Run("run_b1", BILLING, "completed", at(0, 10), at(0, 10, 12.5)),
        ref.Run("run_b2", BILLING, "completed", at(0, 11), at(0, 11, 30.25)),
        ref.Run("run_b3", BILLING, "failed", at(0, 12), at(0, 12, 60), next(iter(SIGNATURES))),
        # completed before created: no duration, but it did finish, in the hour before D0
        ref.Run("run_b4", BILLING, "completed", at(0, 0, 600), at(-1, 23, 3300)),
        # created just before midnight, finished after it
        ref.Run("run_b5", BILLING, "completed", at(0, 23, 3000), at(1, 0, 1200)),
        ref.Run("run_b6", BILLING, "running", at(0, 14)),
        # no createdAt: cohort of its completion day, no duration, in no time window
        ref.Run("run_b7", BILLING, "completed", None, at(2, 9)),
        ref.Run("run_b8", BILLING, "completed", at(1, 8, 0.000001), at(1, 8, 7.654321)),
        # all failed, one without a duration, one without a message
        ref.Run("run_q1", QUOTED, "failed", at(0, 9), at(0, 9, 5), 'json {"code": 500, "msg": "boom"}'),
        ref.Run("run_q2", QUOTED, "failed", at(0, 9, 60), at(0, 9, 67), "Ошибка 42: задача не найдена"),
        ref.Run("run_q3", QUOTED, "failed", at(0, 9, 120), None, None),
        ref.Run("run_q4", QUOTED, "failed", at(1, 3), at(1, 3, 1), "   "),
        # one signature, created at the same moment: the example is the message of the smaller run id
        ref.Run(
            "run_q6",
            QUOTED,
            "failed",
            at(1, 4),
            at(1, 4, 2),
            "can't open /var/lib/app/cache.db: permission denied (uid 1001)",
        ),
        ref.Run("run_q5", QUOTED, "failed", at(1, 4), at(1, 4, 3), "can't open ~/x: permission denied (uid 7)"),
        # the same signature in the same created_date partition, without createdAt: it sorts last for the example
        ref.Run("run_q0", QUOTED, "failed", None, at(1, 5), "can't open ./tmp/q0: permission denied (uid 3)"),
        # one signature, no run with createdAt, in two created_date partitions (their completion days): the example
        # is the message of the smallest run id, run_t1, whose partition also holds run_t3
        ref.Run("run_t1", "orphans", "failed", None, at(5, 1), "lost worker 1 on node 5"),
        ref.Run("run_t2", "orphans", "failed", None, at(6, 1), "lost worker 2 on node 6"),
        ref.Run("run_t3", "orphans", "failed", None, at(5, 2), "lost worker 3 on node 7"),
        # none finished; a running run carrying completedAt does not count as finished
        ref.Run("run_s1", SLASHED, "queued", at(0, 9)),
        ref.Run("run_s2", SLASHED, "running", at(0, 9, 1800), at(0, 10)),
        ref.Run("run_s3", SLASHED, "queued", AS_OF - timedelta(minutes=10)),
        ref.Run("run_s4", SLASHED, "queued", AS_OF + timedelta(hours=1)),
        ref.Run("run_u1", UNICODE, "completed", at(0, 8), at(0, 8, 42.5)),
        # offsets: 01:30Z and 02:10Z on D0 + 1 (local time says D0 20:30 / 21:10); one-run cohort
        ref.Run(
            "run_u2",
            UNICODE,
            "failed",
            offset("2026-03-01T20:30:00-05:00"),
            offset("2026-03-01T21:10:00-05:00"),
            "upstream 550e8400-e29b-41d4-a716-446655440000 returned HTTP 503 after 1.5s\n   at worker.py",
        ),
        # 14:30Z to 15:15Z on D0, although the local dates say D0 + 1
        ref.Run(
            "run_u3", UNICODE, "completed", offset("2026-03-01T23:30:00+09:00"), offset("2026-03-02T00:15:00+09:00")
        ),
        # p99 of about 2 hours: a 3-hour-old run is not stuck by default, an 8-hour-old one is
        *window_runs(SLOW, AS_OF - timedelta(days=7), 10, 0, 7200),
        ref.Run("run_slow_3h", SLOW, "running", AS_OF - timedelta(hours=3)),
        ref.Run("run_slow_8h", SLOW, "running", AS_OF - timedelta(hours=8)),
        # regressions: checkout worse on both counts, steady not, tiny fails more but has too few runs for p95
        *window_runs("checkout", previous, 40, 2, 10),
        *window_runs("checkout", latest, 40, 24, 30),
        *window_runs("steady", previous, 30, 3, 20),
        *window_runs("steady", latest, 30, 3, 21),
        *window_runs("tiny", previous, 5, 0, 1),
        *window_runs("tiny", latest, 5, 5, 10),
        # 10x slower, but only 5 finished runs in the latest window: too few for p95_regressed
        *window_runs("few-latest", previous, 25, 0, 10),
        *window_runs("few-latest", latest, 5, 0, 100),
        # p95 exactly 1.5 x the previous one (constant durations): not above it, so not regressed
        *steady_runs("exact-ratio", previous, 20, 10.0),
        *steady_runs("exact-ratio", latest, 20, 15.0),
        # created half an hour after the 28-day p99 window of stuck runs opens: its 5 hours are that workflow's
        # p99, so a run 2 hours old is not stuck
        ref.Run(
            "run_long_ago",
            "long-ago",
            "completed",
            AS_OF - timedelta(days=28, minutes=-30),
            AS_OF - timedelta(days=28, minutes=-330),
        ),
        ref.Run("run_long_ago_now", "long-ago", "running", AS_OF - timedelta(hours=2)),
        # 3 x p99 (about 3 minutes) is below min_age_s: a run half an hour old is not stuck (an hour applies)
        *window_runs("fast", AS_OF - timedelta(days=7), 20, 0, 60.0),
        ref.Run("run_fast_30m", "fast", "running", AS_OF - timedelta(minutes=30)),
        # p95 0 s before, 10 s now: regressed, with no ratio to give (not infinity)
        *steady_runs("instant", previous, 20, 0.0),
        *steady_runs("instant", latest, 20, 10.0),
        # created exactly at AS_OF: outside every window that ends there (half-open)
        ref.Run("run_at_until", "at-until", "completed", AS_OF, AS_OF + timedelta(seconds=5)),
    ]


def random_runs(seed: int, count: int, days: float = 10) -> list[ref.Run]:
    """``count`` runs created over ``days`` days from D0, in several zones; the failed ones carry one of the
    SIGNATURES messages or none."""
    rng = random.Random(seed)
    messages = [*SIGNATURES, None]
    names = [BILLING, QUOTED, SLASHED, UNICODE, "a", "b"]
    zones = [UTC, *(datetime.fromisoformat(f"2026-01-01T00:00:00{z}").tzinfo for z in ("-05:00", "+05:30", "+14:00"))]
    runs = []
    for i in range(count):
        status = rng.choices(["completed", "failed", "running", "queued"], [70, 20, 6, 4])[0]
        created = at(rng.uniform(0, days)).astimezone(rng.choice(zones)).replace(microsecond=rng.randrange(10**6))
        completed = created + timedelta(seconds=rng.lognormvariate(3, 1.5) * rng.choice([1, 1, 1, 1, 1, 1, 1, -1]))
        runs.append(
            ref.Run(
                f"run_r{i}",
                rng.choice(names),
                status,
                None if rng.random() < 0.02 else created,
                completed if status in ref.FINISHED or rng.random() < 0.05 else None,
                rng.choice(messages) if status == "failed" else None,
            )
        )
    return runs


def write_runs(lake_dir: Path, runs: Iterable[ref.Run]) -> None:
    """Write the runs lake: one Parquet file per created_date, columns per contracts.RUNS_SCHEMA."""
    for day, members in ref.group(runs, lambda run: run.created_date).items():
        rows = [
            {
                "run_id": run.run_id,
                "workflow_name": run.workflow_name,
                "status": run.status,
                "created_at": run.created_at,
                "completed_at": run.completed_at,
                "duration_s": run.duration_s,
                "error": run.error,
                "input": "{}",
                "output": None,
                "extra": None,
                "anomalies": run.anomalies,
                "created_date_source": run.created_date_source,
                "source_file": "exports/runs.json",
                "ingested_at": run.ingested_at,
            }
            for run in members
        ]
        path = lake_dir / lake.RUNS / f"created_date={day.isoformat()}" / "data.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=RUNS_SCHEMA), path)


def read_metric(lake_dir: Path, table: str) -> list[dict[str, object]]:
    with duckdb.connect() as con:
        relation = con.sql(
            "select * from read_parquet($glob, hive_partitioning = true)",
            params={"glob": metric_globs(lake_dir)[table]},
        )
        return relation.to_arrow_table().to_pylist()


def assert_matches(rows: list[dict[str, object]], key: tuple[str, ...], expected: Mapping[object, Mapping]) -> None:
    """Rows keyed by the ``key`` columns equal ``expected``: the same keys, counts exact, floats to 1e-6."""
    actual = {tuple(row[column] for column in key): row for row in rows}
    expected = {item if isinstance(item, tuple) else (item,): values for item, values in expected.items()}
    assert sorted(actual, key=repr) == sorted(expected, key=repr)
    for item, values in expected.items():
        for column, value in values.items():
            got = actual[item][column]
            if isinstance(value, float) and got is not None:
                assert got == pytest.approx(value, rel=0, abs=1e-6), (item, column)
            else:
                assert got == value, (item, column)


def as_multiset(rows: list[dict[str, object]]) -> Counter[tuple[tuple[str, object], ...]]:
    """Rows regardless of order and column order; aware datetimes compare by instant, whatever their zone."""
    return Counter(tuple(sorted(row.items())) for row in rows)


def partition_files(lake_dir: Path) -> dict[str, int]:
    metrics_dir = lake_dir / lake.METRICS
    return {str(path.relative_to(metrics_dir)): path.stat().st_mtime_ns for path in metrics_dir.rglob("*.parquet")}


def all_metrics(lake_dir: Path) -> dict[str, list[dict[str, object]]]:
    return {table.name: sorted(read_metric(lake_dir, table.name), key=repr) for table in METRIC_TABLES}


def create_warehouse_views(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> None:
    """What the warehouse holds: ``runs`` and the metric tables as views over the lake, and the macros."""
    globs = {"runs": lake.table_glob(lake_dir, lake.RUNS, partitioned=True), **metric_globs(lake_dir)}
    for name, glob in globs.items():  # names come from the registry, paths are bound
        con.execute(f"set variable {name}_glob = $glob", {"glob": glob})
        con.execute(
            f"create view {name} as select * from read_parquet(getvariable('{name}_glob'), hive_partitioning = true)"
        )
    con.execute(macro_sql())


@pytest.fixture(scope="module")
def edge_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake_dir = tmp_path_factory.mktemp("edge") / "lake"
    write_runs(lake_dir, edge_runs())
    refresh_metrics(lake_dir, as_of=AS_OF)
    return lake_dir


def test_metric_tables_have_the_contract_columns(edge_lake: Path) -> None:
    with duckdb.connect() as con:
        create_warehouse_views(con, edge_lake)
        for name, columns in COLUMNS.items():
            described = con.sql(
                "select column_name, data_type from information_schema.columns"
                " where table_name = $name order by ordinal_position",
                params={"name": name},
            ).fetchall()
            assert described == list(columns.items()), name
        fleet = con.sql("select column_name, column_type from (describe from fleet_metrics(null, null))").fetchall()
        assert fleet == list(STATS.items())


def test_a_subset_of_tables_can_be_refreshed(tmp_path: Path) -> None:
    write_runs(tmp_path, edge_runs())
    assert refresh_metrics(tmp_path, tables=["workflow_daily_metrics"]).keys() == {"workflow_daily_metrics"}
    assert [path.name for path in (tmp_path / lake.METRICS).iterdir()] == ["workflow_daily_metrics"]
    with pytest.raises(ValueError, match="unknown metric tables"):
        refresh_metrics(tmp_path, tables=["workflow_daily_metric"])


def test_daily_metrics_match_reference(edge_lake: Path) -> None:
    rows = read_metric(edge_lake, "workflow_daily_metrics")
    assert_matches(rows, ("workflow_name", "day"), ref.daily_metrics(edge_runs()))
    by_key = {(row["workflow_name"], row["day"]): row for row in rows}
    one_run = by_key[UNICODE, D0 + timedelta(days=1)]
    assert one_run["runs"] == 1 and one_run["p50_s"] == one_run["p99_s"] == one_run["max_s"] == 2400.0
    assert by_key[QUOTED, D0]["failure_rate"] == 1.0
    assert by_key[QUOTED, D0]["failure_rate_high"] == pytest.approx(1.0)
    none_finished = by_key[SLASHED, D0]
    assert none_finished["in_flight"] == 2 and none_finished["failure_rate"] is None
    assert none_finished["failure_rate_low"] is None and none_finished["p50_s"] is None
    # run_b4 counts as completed but its negative duration is not a latency; run_b7 belongs to its completion day
    assert by_key[BILLING, D0]["completed"] == 4 and by_key[BILLING, D0]["max_s"] == 1800.0
    assert by_key[BILLING, D0 + timedelta(days=2)]["runs"] == 1


def test_daily_metrics_sql_computes_only_the_days_it_is_given(edge_lake: Path) -> None:
    """sql/workflow_daily_metrics.sql's $days: over the whole runs view, days = [D0 + 1] gives that cohort's rows
    alone (the refresh also points runs at those partitions only, which hid a filter that did nothing)."""
    day = D0 + timedelta(days=1)
    table = next(table for table in METRIC_TABLES if table.name == "workflow_daily_metrics")
    with duckdb.connect() as con:
        create_warehouse_views(con, edge_lake)
        rows = con.sql(table.sql_file.read_text(), params={**table.params, "days": [day]}).to_arrow_table().to_pylist()
    expected = {key: values for key, values in ref.daily_metrics(edge_runs()).items() if key[1] == day}
    assert len(expected) > 1
    assert_matches(rows, ("workflow_name", "day"), expected)


def test_hourly_throughput_buckets_completion_in_utc(edge_lake: Path) -> None:
    rows = read_metric(edge_lake, "workflow_hourly_throughput")
    assert_matches(rows, ("workflow_name", "hour"), ref.hourly_throughput(edge_runs()))
    hours = {(row["workflow_name"], row["hour"]): row for row in rows}
    assert hours[BILLING, at(-1, 23)]["finished"] == 1  # completed before created
    assert hours[BILLING, at(1, 0)]["day"] == D0 + timedelta(days=1)  # after midnight
    assert hours[UNICODE, at(1, 2)]["failed"] == 1  # -05:00 offset: 21:10 local is 02:10 UTC the next day
    assert hours[UNICODE, at(0, 15)]["completed"] == 1  # +09:00 offset: 00:15 local is 15:15 UTC the day before
    assert not any(name == SLASHED for name, _ in hours)


def test_error_signatures_match_reference(edge_lake: Path) -> None:
    rows = read_metric(edge_lake, "error_signatures")
    assert_matches(rows, ("workflow_name", "signature"), ref.error_signatures(edge_runs(), signature_of))
    assert {row["signature"] for row in rows} == {*SIGNATURES.values(), *EDGE_SIGNATURES.values(), "<no error>"}
    # run_q5 and run_q6 were created at the same moment, run_q0 without createdAt (it sorts last)
    tie = next(row for row in rows if row["workflow_name"] == QUOTED and row["signature"].startswith("can't open"))
    assert (tie["runs"], tie["example"]) == (3, "can't open ~/x: permission denied (uid 7)")
    # no createdAt anywhere: the smallest run id, run_t1, across two partitions
    orphans = next(row for row in rows if row["workflow_name"] == "orphans")
    assert (orphans["runs"], orphans["first_seen"], orphans["example"]) == (3, None, "lost worker 1 on node 5")


def test_stuck_runs_match_reference(edge_lake: Path) -> None:
    rows = read_metric(edge_lake, "stuck_runs")
    assert_matches(rows, ("run_id",), ref.stuck_runs(edge_runs(), AS_OF))
    assert {"run_b6", "run_s1", "run_s2", "run_slow_8h"} <= {row["run_id"] for row in rows}
    assert {"run_s3", "run_s4", "run_slow_3h", "run_fast_30m", "run_long_ago_now"}.isdisjoint(
        row["run_id"] for row in rows
    )
    assert {row["as_of"] for row in rows} == {AS_OF}
    # docs/metrics.md: oldest first, then by run id
    written = pq.read_table(edge_lake / lake.METRICS / "stuck_runs" / "data.parquet").to_pylist()
    assert len(written) > 2 and [row["run_id"] for row in written] == [
        row["run_id"] for row in sorted(written, key=lambda row: (-row["age_s"], row["run_id"]))
    ]


@pytest.mark.parametrize(
    ("params", "three_hours_is_stuck"),
    [
        ({"threshold_s": 3600.0}, True),
        ({"min_age_s": 600.0, "p99_multiplier": 1.0}, True),
        ({"p99_window_days": 1}, False),
    ],
    ids=["fixed", "rule", "window"],
)
def test_stuck_runs_thresholds_are_configurable(
    tmp_path: Path, params: dict[str, float], three_hours_is_stuck: bool
) -> None:
    write_runs(tmp_path, edge_runs())
    refresh_metrics(tmp_path, as_of=AS_OF, params=params)
    rows = read_metric(tmp_path, "stuck_runs")
    assert_matches(rows, ("run_id",), ref.stuck_runs(edge_runs(), AS_OF, **params))
    assert ("run_slow_3h" in {row["run_id"] for row in rows}) is three_hours_is_stuck


def test_stuck_run_thresholds_come_from_the_environment_and_the_table_records_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_runs(tmp_path, edge_runs())
    refresh_metrics(tmp_path, as_of=AS_OF)
    assert stale_params(tmp_path) == []
    monkeypatch.setenv("RUNLENS_STUCK_RUNS_THRESHOLD_S", "3600")
    monkeypatch.setenv("RUNLENS_WORKFLOW_REGRESSIONS_MIN_RUNS", "5")
    assert stale_params(tmp_path) == ["stuck_runs", "workflow_regressions"]
    refresh_metrics(tmp_path, as_of=AS_OF, tables=["stuck_runs"])
    assert stale_params(tmp_path) == ["workflow_regressions"]
    rows = read_metric(tmp_path, "stuck_runs")
    assert_matches(rows, ("run_id",), ref.stuck_runs(edge_runs(), AS_OF, threshold_s=3600.0))
    refresh_metrics(tmp_path, as_of=AS_OF, params={"threshold_s": 7 * 3600.0})  # an argument wins
    rows = read_metric(tmp_path, "stuck_runs")
    assert_matches(rows, ("run_id",), ref.stuck_runs(edge_runs(), AS_OF, threshold_s=7 * 3600.0))
    assert stale_params(tmp_path) == ["stuck_runs"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RUNLENS_WORKFLOW_REGRESSIONS_MIN_RUNS", "0"),
        ("RUNLENS_WORKFLOW_REGRESSIONS_WINDOW_DAYS", "2.5"),
        ("RUNLENS_STUCK_RUNS_P99_MULTIPLIER", "-1"),
        ("RUNLENS_STUCK_RUNS_MIN_AGE_S", "nan"),
        ("RUNLENS_STUCK_RUNS_THRESHOLD_S", "inf"),
        ("RUNLENS_WORKFLOW_REGRESSIONS_P95_RATIO", "fast"),
        ("RUNLENS_WORKFLOW_REGRESSIONS_WINDOW_DAYS", "36501"),
        ("RUNLENS_STUCK_RUNS_P99_WINDOW_DAYS", "100000000"),
        ("RUNLENS_WORKFLOW_REGRESSIONS_MIN_RUNS", "3000000000"),
    ],
)
def test_a_metric_parameter_that_does_not_fit_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    write_runs(tmp_path, edge_runs())
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"^{variable}={value!r}: expected a"):
        refresh_metrics(tmp_path, as_of=AS_OF)


def test_the_largest_metric_parameters_accepted_are_computed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every value env_params lets through must refresh: the whole-number ones at their bounds (the SQL's date
    arithmetic and INTEGER casts failed beyond them), the others far beyond any sensible threshold."""
    write_runs(tmp_path, edge_runs())
    for variable, value in {
        "RUNLENS_STUCK_RUNS_P99_WINDOW_DAYS": "36500",
        "RUNLENS_WORKFLOW_REGRESSIONS_WINDOW_DAYS": "36500",
        "RUNLENS_WORKFLOW_REGRESSIONS_MIN_RUNS": str(2**31 - 1),
        "RUNLENS_STUCK_RUNS_MIN_AGE_S": "1e300",
        "RUNLENS_STUCK_RUNS_P99_MULTIPLIER": "1e300",
        "RUNLENS_WORKFLOW_REGRESSIONS_P95_RATIO": "1e300",
    }.items():
        monkeypatch.setenv(variable, value)
    refresh_metrics(tmp_path, as_of=AS_OF)
    assert read_metric(tmp_path, "stuck_runs") == [] and read_metric(tmp_path, "workflow_regressions") == []
    monkeypatch.setenv("RUNLENS_STUCK_RUNS_THRESHOLD_S", "1e300")
    refresh_metrics(tmp_path, as_of=AS_OF, tables=["stuck_runs"])
    assert read_metric(tmp_path, "stuck_runs") == []


def test_regressions_match_reference(edge_lake: Path) -> None:
    rows = read_metric(edge_lake, "workflow_regressions")
    expected = ref.regressions(edge_runs(), AS_OF)
    assert_matches(rows, ("workflow_name",), expected)
    assert {name: (v["failure_rate_regressed"], v["p95_regressed"]) for name, v in expected.items()} == {
        "checkout": (True, True),
        "tiny": (True, False),
        "instant": (False, True),
    }
    assert next(row for row in rows if row["workflow_name"] == "instant")["p95_ratio"] is None
    # few-latest: 10x slower on 5 latest runs (min_runs is 20); exact-ratio: p95 15 s after 10 s, exactly 1.5x
    assert {"few-latest", "exact-ratio"}.isdisjoint(row["workflow_name"] for row in rows)
    checkout = next(row for row in rows if row["workflow_name"] == "checkout")
    assert checkout["p95_ratio"] == pytest.approx(checkout["latest_p95_s"] / checkout["previous_p95_s"])
    assert checkout["latest_start"] == AS_OF - timedelta(days=7) and checkout["latest_end"] == AS_OF


@pytest.mark.parametrize("window_days", [6, 10])
def test_regression_windows_are_configurable(tmp_path: Path, window_days: int) -> None:
    """Other window lengths: the SQL's windows and the runs partitions the refresh reads for them must agree
    (``drift`` got 10x slower; its earlier runs lie up to 20 days before as_of)."""
    window = timedelta(days=window_days)
    runs = [
        *edge_runs(),
        *window_runs("drift", AS_OF - 2 * window, 25, 0, 10.0),
        *window_runs("drift", AS_OF - window, 25, 0, 100.0),
    ]
    write_runs(tmp_path, runs)
    refresh_metrics(tmp_path, as_of=AS_OF, params={"window_days": window_days})
    rows = read_metric(tmp_path, "workflow_regressions")
    assert_matches(rows, ("workflow_name",), ref.regressions(runs, AS_OF, window_days=window_days))
    assert "drift" in {row["workflow_name"] for row in rows}
    assert {row["previous_start"] for row in rows} == {AS_OF - 2 * window}


def test_wilson_interval_is_exact_at_the_ends_and_holds_the_rate() -> None:
    """For every cohort size up to 3,000: no failure gives low = 0 and every run failed gives high = 1 exactly (the
    closed form gives 1e-17 and 1 - 2e-16 in floating point, which the daily_metrics_valid check flagged), the
    interval always holds the rate, and the bounds agree with the reference's bisection of the score statistic."""
    with duckdb.connect() as con:
        con.execute("create table runs (created_at timestamptz, anomalies varchar[])")  # the macros bind runs
        con.execute(macro_sql())
        rows = con.sql(
            "select n, f, f / n as rate, wilson_bound(f, n, -1.959963984540054) as low, "
            "wilson_bound(f, n, 1.959963984540054) as high "
            "from range(1, 3001) a(n), lateral (select unnest([0, n // 3, n]) as f)"
        ).fetchall()
    for n, failed, rate, low, high in rows:
        assert low <= rate <= high, (n, failed)
        assert (low == 0.0) is (failed == 0) and (high == 1.0) is (failed == n), (n, failed)
    for n, failed, _, low, high in rows[::97]:
        assert (low, high) == pytest.approx(ref.wilson(failed, n), rel=0, abs=1e-12), (n, failed)


def test_windows_open_only_their_partitions(tmp_path: Path) -> None:
    """Stuck runs' p99 window and the regression windows, and workflow_metrics over the warehouse, must leave the
    runs partitions outside their windows unread: those are overwritten with bytes that are not Parquet, and the
    same rows must come out (were every partition read, DuckDB would fail on them). The oldest partition is kept
    whole: a view over the partitions takes its columns from the first file's footer."""
    runs = [*edge_runs(), *window_runs("old", AS_OF - timedelta(days=60), 30, 3, 5.0)]
    write_runs(tmp_path, runs)
    windowed = ["stuck_runs", "workflow_regressions"]
    refresh_metrics(tmp_path, as_of=AS_OF)
    before = {table: read_metric(tmp_path, table) for table in windowed}
    first = (AS_OF - timedelta(days=28)).date()  # the longest window: stuck runs' 28 days of p99
    outside = [
        path
        for path in sorted((tmp_path / lake.RUNS).glob("created_date=*/data.parquet"))[1:]
        if date.fromisoformat(path.parent.name.removeprefix("created_date=")) < first
    ]
    assert len(outside) >= 5
    for path in outside:
        path.write_bytes(b"not parquet")
    refresh_metrics(tmp_path, [], as_of=AS_OF, tables=windowed)
    for table in windowed:
        assert as_multiset(read_metric(tmp_path, table)) == as_multiset(before[table]), table
    with duckdb.connect() as con:
        create_warehouse_views(con, tmp_path)
        rows = con.sql(
            "from workflow_metrics($since, $until)", params={"since": AS_OF - timedelta(days=7), "until": AS_OF}
        )
        assert_matches(
            rows.to_arrow_table().to_pylist(),
            ("workflow_name",),
            ref.workflow_metrics(runs, AS_OF - timedelta(days=7), AS_OF),
        )


def test_windows_are_exact_and_utc_in_any_session_zone(edge_lake: Path) -> None:
    runs = edge_runs()
    since, until = AS_OF - timedelta(days=14), AS_OF  # spans the US switch to summer time on 2026-03-08
    expected = ref.workflow_metrics(runs, since, until)
    spellings = [
        {"since": since, "until": until},
        {"since": "2026-03-01 12:00:00", "until": "2026-03-15 12:00:00"},
        {"since": "2026-03-01T07:00:00-05:00", "until": until},
        {"since": "2026-03-01 07:00:00 America/New_York", "until": "2026-03-15 08:00:00 America/New_York"},  # EST, EDT
    ]
    with duckdb.connect() as con:
        create_warehouse_views(con, edge_lake)
        con.execute("set TimeZone = 'America/St_Johns'")
        for bounds in spellings:
            rows = con.sql("from workflow_metrics($since, $until)", params=bounds).to_arrow_table().to_pylist()
            assert_matches(rows, ("workflow_name",), expected)
            assert "at-until" not in {row["workflow_name"] for row in rows}  # created at until exactly
        fleet = con.sql("from fleet_metrics(date '2026-03-02', date '2026-03-09')").to_arrow_table().to_pylist()
    assert_matches(fleet, (), {(): ref.cohort_stats(ref.in_window(runs, at(1), at(8)))})


@pytest.mark.parametrize("zone", ["America/St_Johns", "Asia/Tokyo"])
def test_a_window_across_utc_midnight_reads_the_partitions_of_its_utc_days_in_any_session_zone(
    edge_lake: Path, zone: str
) -> None:
    """window_runs skips the runs partitions outside the window's UTC days; taken in the session's zone, those days
    were 2026-03-01 .. 03-01 in St John's (its 02:00 UTC is 22:30 the day before: run_u2, 01:30 UTC on 03-02, was
    left out) and 03-02 .. 03-02 in Tokyo (its 20:00 UTC is 05:00 the day after: run_b5, 23:50 UTC on 03-01, was
    left out). Found by a mutation audit: the other windows tested end at noon UTC."""
    since, until = at(0, 20), at(1, 2)
    expected = ref.workflow_metrics(edge_runs(), since, until)
    assert {UNICODE, BILLING} <= expected.keys()
    with duckdb.connect() as con:
        create_warehouse_views(con, edge_lake)
        con.execute(f"set TimeZone = '{zone}'")
        rows = (
            con.sql(
                "from workflow_metrics($since, $until)",
                params={"since": "2026-03-01 20:00", "until": "2026-03-02 02:00"},
            )
            .to_arrow_table()
            .to_pylist()
        )
    assert_matches(rows, ("workflow_name",), expected)


def session_rows(lake_dir: Path, zone: str, as_of: datetime) -> dict[str, list[dict[str, object]]]:
    """Every metric table's SQL run in a session of time zone ``zone`` (its partials computed over all of runs in
    that session too), as of ``as_of``."""
    tables = {}
    with duckdb.connect() as con:
        create_warehouse_views(con, lake_dir)
        con.execute(f"set TimeZone = '{zone}'")
        for partial in {partial for table in METRIC_TABLES for partial in table.partials}:
            con.execute(f"create view {partial.name} as {partial.sql_file.read_text()}")
        for table in METRIC_TABLES:
            params = {**table.params, **({"as_of": as_of} if "as_of" in table.params else {})}
            if table.partitioned_by is not None:
                params["days"] = None
            tables[table.name] = con.sql(table.sql_file.read_text(), params=params).to_arrow_table().to_pylist()
    return tables


def test_metric_sql_ignores_the_session_time_zone(edge_lake: Path) -> None:
    """Every metric SQL run in a Newfoundland session (-03:30, summer time from 2026-03-08), its partials computed
    over all of runs in that session too, gives the rows that refresh_metrics (UTC) wrote. (run_long_ago, created
    half an hour after the 28-day p99 window opens, is in that window only when its start is counted in UTC.)"""
    for name, rows in session_rows(edge_lake, "America/St_Johns", AS_OF).items():
        assert as_multiset(rows) == as_multiset(read_metric(edge_lake, name)), name


def test_window_starts_are_utc_day_arithmetic_across_a_summer_time_switch(edge_lake: Path) -> None:
    """As of 2026-03-14 12:00 UTC, St John's is on summer time (-02:30) and 7 days earlier on standard time
    (-03:30): day arithmetic on the session's wall time would start the latest regression window an hour late
    (found by a mutation audit: at AS_OF both ends of that window have the same offset, so nothing showed it)."""
    as_of = AS_OF - timedelta(days=1)
    local, utc = session_rows(edge_lake, "America/St_Johns", as_of), session_rows(edge_lake, "UTC", as_of)
    assert {name: as_multiset(rows) for name, rows in local.items()} == {
        name: as_multiset(rows) for name, rows in utc.items()
    }
    regressions = local["workflow_regressions"]
    assert regressions and {(row["previous_start"], row["latest_start"]) for row in regressions} == {
        (as_of - timedelta(days=14), as_of - timedelta(days=7))
    }


def test_default_as_of_is_newest_event(tmp_path: Path) -> None:
    """The newest created_at or completed_at: here a createdAt whose run reports a completedAt an hour earlier."""
    newest = AS_OF + timedelta(hours=2)  # after every edge run's timestamps
    runs = [*edge_runs(), ref.Run("run_skewed", BILLING, "completed", newest, newest - timedelta(hours=1))]
    write_runs(tmp_path, runs)
    refresh_metrics(tmp_path)
    assert newest == max(moment for run in runs for moment in (run.created_at, run.completed_at) if moment is not None)
    rows = read_metric(tmp_path, "stuck_runs")
    assert {row["as_of"] for row in rows} == {newest}
    assert_matches(rows, ("run_id",), ref.stuck_runs(runs, newest))


def test_incremental_refresh_rewrites_only_changed_days(tmp_path: Path) -> None:
    incremental, full = tmp_path / "incremental", tmp_path / "full"
    runs = edge_runs()
    write_runs(incremental, runs)
    refresh_metrics(incremental, as_of=AS_OF)
    before = partition_files(incremental)
    # day D0 changes: two running runs finish (one the next day, one two days later), a run is added
    changed = [
        *(run for run in runs if run.run_id not in {"run_b6", "run_s2"}),
        ref.Run("run_b6", BILLING, "completed", at(0, 14), at(1, 5)),
        ref.Run("run_s2", SLASHED, "failed", at(0, 9, 1800), at(2, 1), "boom"),
        ref.Run("run_b9", BILLING, "queued", at(0, 20)),
    ]
    shutil.rmtree(incremental / lake.RUNS)
    write_runs(incremental, changed)
    counts = refresh_metrics(incremental, {D0}, as_of=AS_OF)
    after = partition_files(incremental)

    rewritten = {name for name in after if after[name] != before.get(name)}
    recomputed_days = [D0 + timedelta(days=offset) for offset in (-1, 0, 1, 2)]  # run_b4 finished the day before
    assert after.keys() == before.keys()
    assert rewritten == {
        "workflow_daily_metrics/day=2026-03-01/data.parquet",
        *(f"workflow_hourly_throughput/day={day}/data.parquet" for day in recomputed_days),
        *(f"{table.name}/data.parquet" for table in METRIC_TABLES if table.partitioned_by is None),
        *(f"_partial/{partial.name}.parquet" for table in METRIC_TABLES for partial in table.partials),
    }
    assert counts["workflow_daily_metrics"] == len({run.workflow_name for run in changed if run.created_date == D0})
    write_runs(full, changed)
    refresh_metrics(full, as_of=AS_OF)
    assert all_metrics(incremental) == all_metrics(full)


def test_incremental_refresh_keeps_the_partials_of_unchanged_partitions(tmp_path: Path) -> None:
    """A refresh of some partitions keeps every partial's rows of the other partitions as they are, not recomputed:
    the rows of an unchanged day and of the changed day are taken out of each partial file; after a refresh of the
    changed day, its rows are back and the unchanged day's are still missing (a partial silently recomputed whole,
    as after a schema mismatch, would bring them back)."""
    runs = random_runs(seed=11, count=600, days=10)
    write_runs(tmp_path, runs)
    refresh_metrics(tmp_path, as_of=AS_OF)
    partials = {partial for table in METRIC_TABLES for partial in table.partials}
    kept = {partial: pq.read_table(partial.path(tmp_path)) for partial in partials}
    days_of = {partial: set(rows.column("created_date").to_pylist()) for partial, rows in kept.items()}
    shared = sorted(set.intersection(*days_of.values()))
    untouched, changed = shared[0], shared[-1]
    for partial, rows in kept.items():
        gone = pc.is_in(rows.column("created_date"), pa.array([untouched, changed], pa.date32()))
        assert 0 < pc.sum(gone).as_py() < rows.num_rows, partial.name
        pq.write_table(rows.filter(pc.invert(gone)), partial.path(tmp_path))
    refresh_metrics(tmp_path, [changed], as_of=AS_OF)
    for partial in partials:
        days = set(pq.read_table(partial.path(tmp_path)).column("created_date").to_pylist())
        assert days == days_of[partial] - {untouched}, partial.name


def changed_export(runs: list[ref.Run], seed: int) -> list[ref.Run]:
    """``runs`` after a new day's export: some in-flight runs finished (days later), some completions moved to
    another day (a status conflict), workflow ``a`` fails a lot in the newest days, and the first day lost its
    runs."""
    rng = random.Random(seed)
    newest = max(run.created_at for run in runs if run.created_at is not None)
    first_day = min(run.created_date for run in runs)
    changed = []
    for run in runs:
        if run.created_date == first_day:
            continue
        if run.status in ref.UNFINISHED and run.created_at is not None and rng.random() < 0.3:
            finished = run.created_at + timedelta(days=rng.uniform(0, 3))
            run = ref.Run(run.run_id, run.workflow_name, "failed", run.created_at, finished, LATE)
        elif run.status == "completed" and run.completed_at is not None and rng.random() < 0.02:
            run = ref.Run(run.run_id, run.workflow_name, run.status, run.created_at, run.completed_at + timedelta(1))
        changed.append(run)
    burst = [
        ref.Run(f"run_burst_{i}", "a", "failed", newest - timedelta(hours=i), newest - timedelta(hours=i, minutes=-5))
        for i in range(60)
    ]
    return changed + burst


@pytest.mark.parametrize("partials_lost", [False, True], ids=["partials_kept", "partials_lost"])
def test_incremental_refresh_equals_full_refresh(tmp_path: Path, partials_lost: bool) -> None:
    """Over 60 days of runs, an incremental refresh of the changed partitions gives exactly the tables of a full
    refresh from scratch, and the reference's (default as_of: the newest event); also when the partial results
    are missing (a lake refreshed by an older version), which the refresh then computes whole."""
    incremental, full = tmp_path / "incremental", tmp_path / "full"
    runs = random_runs(seed=20260302, count=3000, days=60)
    write_runs(incremental, runs)
    refresh_metrics(incremental)
    changed = changed_export(runs, seed=5)
    days = {run.created_date for run in set(runs) ^ set(changed)}
    shutil.rmtree(incremental / lake.RUNS)
    write_runs(incremental, changed)
    if partials_lost:
        shutil.rmtree(incremental / lake.METRICS / "_partial")
    refresh_metrics(incremental, days)
    write_runs(full, changed)
    refresh_metrics(full)
    assert all_metrics(incremental) == all_metrics(full)

    newest = max(moment for run in changed for moment in (run.created_at, run.completed_at) if moment is not None)
    stuck = read_metric(incremental, "stuck_runs")
    assert stuck and {row["as_of"] for row in stuck} == {newest}
    assert_matches(stuck, ("run_id",), ref.stuck_runs(changed, newest))
    regressions = ref.regressions(changed, newest)
    assert "a" in regressions
    assert_matches(read_metric(incremental, "workflow_regressions"), ("workflow_name",), regressions)
    signatures = ref.error_signatures(
        changed, lambda error: "late: <n> retries" if error == LATE else signature_of(error)
    )
    assert_matches(read_metric(incremental, "error_signatures"), ("workflow_name", "signature"), signatures)
    hourly = ref.hourly_throughput(changed)
    assert_matches(read_metric(incremental, "workflow_hourly_throughput"), ("workflow_name", "hour"), hourly)
    assert_matches(
        read_metric(incremental, "workflow_daily_metrics"), ("workflow_name", "day"), ref.daily_metrics(changed)
    )


def test_partitions_without_rows_are_removed(tmp_path: Path) -> None:
    runs = [ref.Run(f"run_{day}", BILLING, "completed", at(day, 1), at(day, 2)) for day in range(3)]
    write_runs(tmp_path, runs)
    refresh_metrics(tmp_path, as_of=AS_OF)
    metrics_dir = tmp_path / lake.METRICS
    partitions = [
        metrics_dir / table / "day=2026-03-02" for table in ("workflow_daily_metrics", "workflow_hourly_throughput")
    ]
    assert all(partition.is_dir() for partition in partitions)

    shutil.rmtree(tmp_path / lake.RUNS / "created_date=2026-03-02")
    refresh_metrics(tmp_path, {date(2026, 3, 2)}, as_of=AS_OF)
    assert not any(partition.exists() for partition in partitions)

    shutil.rmtree(tmp_path / lake.RUNS / "created_date=2026-03-03")
    refresh_metrics(tmp_path, as_of=AS_OF)
    assert sorted(path.name for path in (metrics_dir / "workflow_daily_metrics").iterdir()) == ["day=2026-03-01"]
    assert_matches(
        read_metric(tmp_path, "workflow_hourly_throughput"), ("workflow_name", "hour"), ref.hourly_throughput(runs[:1])
    )


def test_hourly_throughput_floors_completions_before_1970_and_at_the_calendars_ends_to_their_own_hour(
    tmp_path: Path,
) -> None:
    """The hour is grouped as a whole number of hours since 1970; a time before 1970 is a negative number, which
    integer division rounds up toward zero: 1969-12-31 23:30 would have been counted in 1970-01-01 00:00. Each run
    here counts in the hour that contains its completion, down to the microsecond before an hour ends."""

    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    completions = {
        "run_before_epoch": ("1969-12-31T23:00:00", "1969-12-31T23:30:00", "1969-12-31T23:00:00"),
        "run_last_microsecond_before_epoch": ("1969-12-31T22:00:00", "1969-12-31T23:59:59.999999", "1969-12-31T23:00"),
        "run_at_epoch": ("1969-12-31T23:59:00", "1970-01-01T00:00:00", "1970-01-01T00:00:00"),
        "run_first_year": ("0001-01-01T00:00:00", "0001-01-01T00:30:00", "0001-01-01T00:00:00"),
        "run_last_year": ("9999-12-31T23:00:00", "9999-12-31T23:59:59.999999", "9999-12-31T23:00:00"),
    }
    runs = [
        ref.Run(run_id, "a", "completed", utc(created), utc(done)) for run_id, (created, done, _) in completions.items()
    ]
    write_runs(tmp_path, runs)
    refresh_metrics(tmp_path, as_of=AS_OF)
    rows = read_metric(tmp_path, "workflow_hourly_throughput")
    assert_matches(rows, ("workflow_name", "hour"), ref.hourly_throughput(runs))
    expected: dict[datetime, int] = {}
    for _, _, hour in completions.values():
        expected[utc(hour)] = expected.get(utc(hour), 0) + 1
    assert {row["hour"]: row["finished"] for row in rows} == expected
    assert {row["hour"]: row["day"] for row in rows} == {hour: hour.date() for hour in expected}


def test_empty_lake_gives_empty_tables(tmp_path: Path) -> None:
    counts = refresh_metrics(tmp_path, as_of=AS_OF)
    assert counts == {table.name: 0 for table in METRIC_TABLES}
    assert read_metric(tmp_path, "stuck_runs") == []


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown metric parameters"):
        refresh_metrics(tmp_path, params={"p95_ration": 2})
    with pytest.raises(ValueError, match="no time zone"):
        refresh_metrics(tmp_path, as_of=datetime(2026, 3, 15))


def test_random_runs_match_reference(tmp_path: Path) -> None:
    runs = random_runs(seed=20260301, count=4000)
    write_runs(tmp_path, runs)
    counts = refresh_metrics(tmp_path, as_of=AS_OF)
    daily, hourly = ref.daily_metrics(runs), ref.hourly_throughput(runs)
    assert counts["workflow_daily_metrics"] == len(daily) and counts["workflow_hourly_throughput"] == len(hourly)
    assert_matches(read_metric(tmp_path, "workflow_daily_metrics"), ("workflow_name", "day"), daily)
    assert_matches(read_metric(tmp_path, "workflow_hourly_throughput"), ("workflow_name", "hour"), hourly)


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_queries_run(edge_lake: Path, example: Path) -> None:
    with duckdb.connect() as con:
        create_warehouse_views(con, edge_lake)
        rows = con.sql(example.read_text()).fetchall()
    assert rows, f"{example.name} returned no rows on the test lake"


def test_docs_show_every_example() -> None:
    docs = (PROJECT_DIR / "docs" / "metrics.md").read_text()
    assert len(EXAMPLES) >= 4
    for example in EXAMPLES:
        assert f"sql/examples/{example.name}" in docs and example.read_text().strip() in docs, example.name


def test_reference_anomalies_are_those_staging_flags(tmp_path: Path, isolated_env: Path) -> None:
    """The reference's runs carry the anomalies ingest gives the same records, for every status and order of the two
    timestamps. completedAt before createdAt is flagged whatever the status (the reference flagged finished runs
    only): a queued or running record so gets both completed_before_created and completed_at_on_unfinished."""
    created = datetime(2026, 3, 1, 10, tzinfo=UTC)
    runs = [
        ref.Run(f"run_{status}_{i}", "w", status, created, completed, "boom" if status == "failed" else None)
        for status in ("queued", "running", "completed", "failed")
        for i, completed in enumerate((None, created + timedelta(seconds=5), created - timedelta(seconds=5)))
    ]
    # docs/metrics.md: only a missing (NULL) message carries failed_without_error; a blank one is an error
    runs += [
        ref.Run("run_failed_blank", "w", "failed", created, created + timedelta(seconds=5), " "),
        ref.Run("run_failed_missing", "w", "failed", created, created + timedelta(seconds=5), None),
    ]
    records = [
        {
            "runId": run.run_id,
            "workflowName": run.workflow_name,
            "status": run.status,
            "createdAt": f"{run.created_at:%Y-%m-%dT%H:%M:%SZ}",
            **({"completedAt": f"{run.completed_at:%Y-%m-%dT%H:%M:%SZ}"} if run.completed_at else {}),
            **({"error": run.error} if run.error is not None else {}),
        }
        for run in runs
    ]
    (tmp_path / "exports").mkdir()
    path = tmp_path / "exports" / "runs.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    settings = Settings.from_env(tmp_path)
    result = ingest_file(path, settings, RecordValidator.from_file(settings.schema_path), path.name)
    staged = pq.read_table(settings.lake_dir / "ingest" / result.export_id / "staged.parquet").to_pylist()
    flagged = {row["run_id"]: set(row["anomalies"]) for row in staged}
    assert flagged == {run.run_id: set(run.anomalies) for run in runs}
    assert flagged["run_queued_2"] == {"completed_before_created", "completed_at_on_unfinished"}
    assert flagged["run_completed_2"] == {"completed_before_created"}
    assert (flagged["run_failed_blank"], flagged["run_failed_missing"]) == (set(), {"failed_without_error"})


def test_windows_that_would_start_before_year_1_start_at_its_first_instant(tmp_path: Path) -> None:
    """A lake early in year 1 (the first the lake accepts): the regression windows start 7 and 14 days before as_of,
    in year 0, which Python's datetime does not have, so the table's previous_start made every reader of the row
    fail ("year 0 is out of range"). Such a start is 0001-01-01 00:00 UTC: the same runs, readable. Stuck runs'
    p99 window reaches back there too."""
    first = datetime(1, 1, 1, tzinfo=UTC)
    as_of = datetime(1, 1, 10, tzinfo=UTC)
    runs = [
        *(
            ref.Run(f"run_before_{i}", "ancient", "completed", at, at + timedelta(seconds=10))
            for i in range(20)
            for at in [first + timedelta(minutes=i)]
        ),
        *(
            ref.Run(f"run_after_{i}", "ancient", "failed", at, at + timedelta(seconds=30), "boom")
            for i in range(20)
            for at in [datetime(1, 1, 6, tzinfo=UTC) + timedelta(minutes=i)]
        ),
        ref.Run("run_waiting", "ancient", "running", first),
    ]
    write_runs(tmp_path, runs)
    refresh_metrics(tmp_path, as_of=as_of)
    [regression] = read_metric(tmp_path, "workflow_regressions")
    assert {column: regression[column] for column in ("workflow_name", "previous_start", "latest_start")} == {
        "workflow_name": "ancient",
        "previous_start": first,  # 0001-01-10 - 14 days is in year 0
        "latest_start": datetime(1, 1, 3, tzinfo=UTC),
    }
    assert regression["latest_end"] == as_of
    assert (regression["previous_finished"], regression["latest_finished"]) == (20, 20)
    assert (regression["previous_failure_rate"], regression["latest_failure_rate"]) == (0.0, 1.0)
    assert (regression["previous_p95_s"], regression["latest_p95_s"]) == (10.0, 30.0)
    assert regression["failure_rate_regressed"] and regression["p95_regressed"]
    [stuck] = read_metric(tmp_path, "stuck_runs")
    assert (stuck["run_id"], stuck["age_s"], stuck["as_of"]) == ("run_waiting", 9 * 86400.0, as_of)
    assert stuck["workflow_p99_s"] == pytest.approx(30.0)  # the p99 of the 40 durations of the last 28 days


def test_zero_fractions_and_an_empty_variable_are_metric_parameters_docs_allow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/metrics.md: the parameters other than the windows and min_runs take any finite number of at least 0; a
    variable set to nothing is not set (both survived a mutation audit)."""
    write_runs(tmp_path, edge_runs())
    monkeypatch.setenv("RUNLENS_STUCK_RUNS_MIN_AGE_S", "0")
    monkeypatch.setenv("RUNLENS_STUCK_RUNS_P99_MULTIPLIER", "0.5")
    monkeypatch.setenv("RUNLENS_STUCK_RUNS_THRESHOLD_S", "")
    refresh_metrics(tmp_path, as_of=AS_OF)
    expected = ref.stuck_runs(edge_runs(), AS_OF, min_age_s=0.0, p99_multiplier=0.5)
    assert expected.keys() - ref.stuck_runs(edge_runs(), AS_OF).keys()  # the parameters change the table
    assert_matches(read_metric(tmp_path, "stuck_runs"), ("run_id",), expected)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("RUNLENS_WORKFLOW_REGRESSIONS_WINDOW_DAYS", "0", "a whole number from 1 to 36,500 (unset: 7"),
        ("RUNLENS_WORKFLOW_REGRESSIONS_MIN_RUNS", "many", "a whole number from 1 to 2,147,483,647 (unset: 20"),
        ("RUNLENS_STUCK_RUNS_MIN_AGE_S", "-1", "a number of at least 0 (unset: 3600.0"),
        ("RUNLENS_STUCK_RUNS_THRESHOLD_S", "soon", "a number of at least 0 (unset: no fixed threshold"),
    ],
)
def test_a_refused_metric_parameter_says_what_it_takes_and_its_default(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    """The line names the variable, the values docs/metrics.md allows it and what applies when it is unset (a
    message that gave the other kind's rule survived a mutation audit: the tests matched its first words only)."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as refused:
        env_params()
    assert str(refused.value) == f"{variable}={value!r}: expected {expected}; see docs/metrics.md)"


def test_a_table_written_before_files_recorded_their_parameters_counts_as_computed_with_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/metrics.md: a whole-lake table's file records its parameters; one written before files did so was
    computed with the defaults, so it is stale only when the environment sets other values (survived a mutation
    audit: read as computed with nothing, every such table was recomputed at the next run)."""
    write_runs(tmp_path, edge_runs())
    refresh_metrics(tmp_path, as_of=AS_OF)
    for name in ("stuck_runs", "workflow_regressions"):
        path = tmp_path / lake.METRICS / name / "data.parquet"
        pq.write_table(pq.read_table(path).replace_schema_metadata(None), path)
    assert stale_params(tmp_path) == []
    monkeypatch.setenv("RUNLENS_STUCK_RUNS_MIN_AGE_S", "3600")  # the default, set
    assert stale_params(tmp_path) == []
    monkeypatch.setenv("RUNLENS_WORKFLOW_REGRESSIONS_MIN_RUNS", "5")
    assert stale_params(tmp_path) == ["workflow_regressions"]


def test_partials_written_by_another_version_are_recomputed_whole(tmp_path: Path) -> None:
    """A partial file of other columns (an older version's) is not merged with the new rows but computed whole from
    every partition, even when the refresh names only some changed days (survived a mutation audit)."""
    runs = random_runs(seed=13, count=500, days=6)
    write_runs(tmp_path, runs)
    refresh_metrics(tmp_path, as_of=AS_OF)
    expected = all_metrics(tmp_path)
    partials = {partial for table in METRIC_TABLES for partial in table.partials}
    columns = {}
    for partial in partials:
        rows = pq.read_table(partial.path(tmp_path))
        columns[partial] = rows.column_names
        legacy = rows.slice(0, rows.num_rows // 2)  # half its rows, and a column the current version has not
        pq.write_table(legacy.append_column("legacy", pa.array([0] * legacy.num_rows)), partial.path(tmp_path))
    refresh_metrics(tmp_path, [D0], as_of=AS_OF)
    assert all_metrics(tmp_path) == expected
    assert {partial: pq.read_schema(partial.path(tmp_path)).names for partial in partials} == columns
