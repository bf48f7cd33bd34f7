"""Synthetic Restack / Temporal workflow-run exports: realistic, deliberately messy, deterministic, streamable.

The model
---------
* A fixed catalog of workflows (``WORKFLOWS``): names with ``/``, ``.``, ``-`` and one non-ASCII letter, each with
  its own lognormal run latency (median from 0.5 s to 30 min, its own sigma), base failure rate (0.5 % to 15 %),
  popularity, input/output shape and a few recurring error templates.
* Arrivals: ``runs`` distinct runs are spread over ``days`` days from ``start`` with an hourly intensity that peaks
  in UTC business hours and is lower at weekends; batch workflows run mostly at night. The per-hour counts are
  fixed by rounding the cumulative intensity, so the number of distinct runs is exactly ``runs``.
* Lifecycle of a run: created → queued for about a second → running for its workflow's latency → completed or
  failed. Failure bursts (a dependency outage) raise one workflow's failure rate for 1-6 hours and make one error
  dominate; worker outages leave the new runs of one domain's task queue queued for 1-4 hours until the backlog
  drains. About 0.3 % of the runs never finish (stuck queued or stuck running).
* Exports: one snapshot every ``24 / snapshots_per_day`` hours, named by its export time
  (``runs-2026-11-01T06.jsonl``). A snapshot holds the runs created in its period, in their state at export
  time, plus the current state of older runs whose state changed since the previous snapshot. A run still queued
  or running therefore reappears completed or failed in a later file.
* Mess that ingest must survive: a few exact duplicate records and a few earlier-state records of the same run
  inside one file; stale re-exports (an older state of a run repeated in a file after its final state was
  exported); unknown extra top-level fields (``taskQueue``, ``attempt``); timestamps mostly ``Z`` with 3 or 6
  fraction digits, some with 0 or 9 digits or with offsets such as ``+02:00``; absent keys are omitted, never null.
* Invalid records (``invalid_ratio``, 1 % by default): corrupted *extra copies* of real records inserted next to
  them (missing required key, status outside the enum, runId off-pattern, number for a string, bad date-time,
  input as array or null, a record that is not an object) and, in NDJSON, truncated lines and garbage lines.
  Because they are extra copies, every run has at least one valid record: the valid records name exactly
  ``runs`` distinct runIds. The count of records that fail the schema (or JSON parsing) is ``invalid_records``.
  Leap seconds are never generated (Python ``jsonschema`` rejects them, unlike the specification).

Scale: snapshots are generated one after the other and created runs in chunks of at most ``CHUNK_RUNS``; only
runs whose state will still change are carried from one snapshot to the next; files are streamed (gzip too) via
a hidden ``.part`` file renamed when complete. Random draws are vectorised with numpy per chunk; a chunk's
generator is seeded by (seed, snapshot, chunk), so output is byte-identical for identical arguments (and numpy
version). A run's input and output are serialised once with orjson; a record is then one per-status byte template
filled with those parts and with timestamps and ids formatted by numpy, which gives exactly the bytes of
``orjson.dumps(record)`` at a fraction of the cost of a dict and a dumps call per record.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import numpy as np
import orjson

FORMATS = ("mixed", "jsonl", "json", "jsonl.gz", "json.gz")
CHUNK_RUNS = 20000
STUCK_RATE = 0.003
DUPLICATE_RATE = 0.003
PROGRESSION_RATE = 0.003
STALE_RATE = 0.25
STALE_POOL_MAX = 10_000
GZIP_LEVEL = 3  # 2x faster than 6 for 15 % larger files
EXTRA_FIELD_P = (0.96, 0.025, 0.01, 0.005)  # none, taskQueue, attempt, both
US = 1_000_000
HOUR_US = 3600 * US
DAY_US = 24 * HOUR_US
NEVER = np.iinfo(np.int64).max
QUEUED, RUNNING, COMPLETED, FAILED = range(4)


@dataclass(frozen=True)
class Workflow:
    name: str
    domain: str
    median_s: float
    sigma: float
    failure_rate: float
    weight: float
    batch: bool
    errors: tuple[int, ...]  # indexes into ERROR_TEMPLATES, most frequent first


ERROR_TEMPLATES = (
    "Timeout after {ms}ms calling https://api.example.com/v1/users/{n}",
    "ActivityTaskFailed: activity '{q}' (id=act_{n}) failed: connection reset",
    "KeyError: 'customer_{h}'",
    "File /srv/app/worker_{w}.py line {line}: ValueError",
    "HTTP 503 Service Unavailable from https://payments.example.com/v2/charges/ch_{h}",
    "RateLimitError: 429 Too Many Requests, retry after {w}s (tenant '{tenant}')",
    'OperationalError: connection to server at "10.0.{w}.{line}", port 5432 failed: timeout expired',
    "ScheduleToCloseTimeout: workflow {u} exceeded {ms}ms",
    "ValidationError: field 'amount' must be positive, got -{n}.{w}",
    "S3 GetObject failed for s3://runlens-data/raw/part-{n}.parquet: AccessDenied",
    "ModelProviderError: context length {n} exceeds limit 128000 (request req_{h})",
    "FileNotFoundError: [Errno 2] No such file or directory: '/tmp/jobs/{u}/input.csv'",
    "panic: runtime error: index out of range [{w}] with length {line}",
    "SMTPRecipientsRefused: 550 5.1.1 <user{n}@example.com>: mailbox unavailable",
    "ffmpeg exited with code {w}: Invalid data found when processing input /data/media/{u}.mp4",
    "CertificateExpiredError: certificate for svc-{w}.internal.example.com expired",
    'Traceback (most recent call last):\n  File "/srv/app/handlers/{q}.py", line {line}, in handle\n'
    "KeyError: 'customer_{h}'",
)

W = Workflow
WORKFLOWS = (
    W("agents/support-triage", "agents", 45, 0.8, 0.04, 8, False, (10, 1, 0)),
    W("agents/sales-outreach", "agents", 90, 0.9, 0.06, 3, False, (10, 5, 1)),
    W("agents/research-assistant", "agents", 420, 1.2, 0.08, 4, False, (10, 0, 11)),
    W("agents/code-review", "agents", 180, 0.7, 0.05, 2, False, (10, 16, 1)),
    W("billing.invoice-sync", "billing", 4, 0.6, 0.02, 6, False, (4, 0, 8)),
    W("billing.payment-retry", "billing", 2.5, 0.5, 0.15, 3, False, (4, 8, 5)),
    W("billing.dunning-emails", "notify", 12, 0.7, 0.01, 1.5, True, (13, 6)),
    W("billing.tax-calculation", "billing", 0.9, 0.4, 0.005, 5, False, (8, 2)),
    W("résumé-parser", "documents", 25, 0.7, 0.07, 2.5, False, (11, 3, 2)),
    W("documents/ocr-extract", "documents", 60, 0.9, 0.05, 3, False, (11, 0, 12)),
    W("documents/pdf-render", "documents", 6, 0.5, 0.01, 4, False, (12, 11)),
    W("documents/contract-summary", "documents", 150, 0.8, 0.06, 1.5, False, (10, 11)),
    W("data.nightly-etl", "data", 1800, 0.5, 0.03, 1, True, (9, 6, 0)),
    W("data.warehouse-backfill", "data", 1500, 1.1, 0.10, 0.6, True, (6, 9, 7)),
    W("data/s3-ingest", "data", 240, 0.9, 0.02, 4, True, (9, 11)),
    W("data/dedupe-customers", "data", 600, 0.6, 0.015, 1.5, True, (6, 16)),
    W("notifications.email-digest", "notify", 20, 0.6, 0.01, 2, True, (13, 5)),
    W("notifications/sms-send", "notify", 0.7, 0.5, 0.03, 10, False, (5, 0)),
    W("notifications.push-fanout", "notify", 1.5, 0.8, 0.005, 7, False, (5, 12)),
    W("onboarding/kyc-check", "account", 35, 1.0, 0.09, 2, False, (0, 4, 8)),
    W("onboarding.welcome-sequence", "notify", 8, 0.5, 0.008, 3, False, (13, 2)),
    W("crm.hubspot-sync", "account", 15, 0.9, 0.05, 3, False, (5, 0, 2)),
    W("crm/salesforce-export", "account", 300, 0.8, 0.04, 1.5, True, (0, 5, 7)),
    W("search/reindex-catalog", "data", 900, 0.7, 0.02, 1, True, (6, 7)),
    W("media/video-transcode", "documents", 1800, 0.9, 0.06, 2.5, False, (14, 7, 11)),
    W("media/thumbnail-gen", "documents", 0.5, 0.4, 0.01, 6, False, (14, 12)),
    W("ml.embedding-refresh", "data", 1200, 0.8, 0.05, 1.2, True, (10, 9, 7)),
    W("ml/churn-scoring", "data", 30, 0.6, 0.02, 1, True, (3, 16)),
    W("ops.cert-rotation", "data", 20, 0.5, 0.02, 0.2, True, (15, 6)),
    W("ops/backup-verify", "data", 700, 0.6, 0.03, 0.6, True, (9, 15)),
    W("webhook-dispatcher", "account", 0.8, 1.0, 0.12, 12, False, (0, 4, 5)),
    W("user-signup", "account", 2, 0.5, 0.006, 5, False, (2, 8, 3)),
)
del W

ERROR_SLOT_WEIGHTS = (0.6, 0.3, 0.1)
BURSTS_PER_WORKFLOW_DAY = 0.08
OUTAGES_PER_DOMAIN_DAY = 0.1
# (UTC offset in minutes, fraction digits, probability) of a run's timestamp rendering
TIME_STYLES = (
    (0, 3, 0.50),
    (0, 6, 0.30),
    (0, 0, 0.05),
    (0, 9, 0.04),
    (120, 3, 0.04),
    (-300, 6, 0.04),
    (330, 3, 0.015),
    (60, 6, 0.015),
)

TENANTS = (
    "acme-corp",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark-industries",
    "wayne-ent",
    "tyrell",
    "soylent",
    "cyberdyne",
    "wonka",
    "oscorp",
)
SOURCES = ("api", "schedule", "webhook", "console", "retry")
ACTIVITIES = (
    "fetch_user",
    "charge_card",
    "send_email",
    "render_pdf",
    "call_llm",
    "upsert_contact",
    "load_batch",
    "resize_image",
)
SCHEMA_FAULTS = (
    "missing_key",
    "bad_status",
    "bad_run_id",
    "number_for_string",
    "bad_datetime",
    "input_not_object",
    "not_object",
)
LINE_FAULTS = ("truncated", "garbage")
GARBAGE_LINES = (
    b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    b"--- export interrupted: worker restarted, resuming ---",
    b"runId,workflowName,status,createdAt,completedAt",
    b'{"runId": "run_x", "status": completed}',
    b"\\x00\\x00\\x00 PARTIAL WRITE",
)

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_B62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


@dataclass(frozen=True)
class GenerateSummary:
    files: int
    records: int
    invalid_records: int
    runs: int


# ---------------------------------------------------------------------------------------------------------------
# vectorised string helpers


def _rows(chars: np.ndarray) -> list[bytes]:
    """Rows of an (n, width) uint8 matrix as bytes."""
    return np.ascontiguousarray(chars).view(f"S{chars.shape[1]}").ravel().tolist()


def _decode(chars: np.ndarray) -> list[str]:
    """Rows of an (n, width) uint8 ASCII matrix as Python strings."""
    return [row.decode() for row in _rows(chars)]


def _hex(rng: np.random.Generator, n: int, digits: int) -> list[str]:
    return _decode(_HEX[rng.integers(0, 16, (n, digits))])


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    nibbles = rng.integers(0, 16, (n, 32))
    nibbles[:, 12] = 4
    nibbles[:, 16] = 8 + (nibbles[:, 16] & 3)
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    cols = np.r_[0:8, 9:13, 14:18, 19:23, 24:36]
    chars[:, cols] = _HEX[nibbles]
    return _decode(chars)


def _pick(rng: np.random.Generator, options: tuple, n: int, p: tuple[float, ...] | None = None) -> list:
    values = np.empty(len(options), dtype=object)
    values[:] = options
    return values[rng.choice(len(options), n, p=p)].tolist()


def _ints(rng: np.random.Generator, low: int, high: int, n: int) -> list[int]:
    return rng.integers(low, high, n).tolist()


def _put_digits(chars: np.ndarray, col: int, width: int, values: np.ndarray) -> None:
    for k in range(width - 1, -1, -1):
        chars[:, col + k] = 48 + values % 10
        values = values // 10


def _zone(offset_min: int) -> bytes:
    if offset_min == 0:
        return b"Z"
    hours, minutes = divmod(abs(offset_min), 60)
    return f"{'+' if offset_min > 0 else '-'}{hours:02d}:{minutes:02d}".encode()


def _format_group(us: np.ndarray, offset_min: int, digits: int) -> list[bytes]:
    local = us + offset_min * 60 * US
    day = local // DAY_US
    tod = local - day * DAY_US
    d64 = day.astype("datetime64[D]")
    month_start = d64.astype("datetime64[M]")
    zone = _zone(offset_min)
    width = 19 + (digits + 1 if digits else 0) + len(zone)
    chars = np.empty((len(us), width), dtype=np.uint8)
    chars[:, [4, 7]] = ord("-")
    chars[:, 10] = ord("T")
    chars[:, [13, 16]] = ord(":")
    _put_digits(chars, 0, 4, month_start.astype("datetime64[Y]").astype(np.int64) + 1970)
    _put_digits(chars, 5, 2, month_start.astype(np.int64) % 12 + 1)
    _put_digits(chars, 8, 2, (d64 - month_start).astype(np.int64) + 1)
    _put_digits(chars, 11, 2, tod // HOUR_US)
    _put_digits(chars, 14, 2, tod // (60 * US) % 60)
    _put_digits(chars, 17, 2, tod // US % 60)
    if digits:
        chars[:, 19] = ord(".")
        fraction = tod % US if digits <= 6 else (tod % US) * 1000 + (us * 37) % 1000
        _put_digits(chars, 20, digits, fraction // 10 ** max(6 - digits, 0))
    chars[:, width - len(zone) :] = np.frombuffer(zone, dtype=np.uint8)
    return _rows(chars)


def _format_times(us: np.ndarray, style: np.ndarray) -> np.ndarray:
    """RFC 3339 texts (ASCII bytes) of UTC epoch microseconds, rendered in each row's ``TIME_STYLES`` entry."""
    out = np.empty(len(us), dtype=object)
    for code, (offset_min, digits, _) in enumerate(TIME_STYLES):
        rows = np.flatnonzero(style == code)
        if len(rows):
            out[rows] = _format_group(us[rows], offset_min, digits)
    return out


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijection on uint64, so distinct run numbers give distinct ids."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _run_ids(numbers: np.ndarray, seed: int) -> list[bytes]:
    x = _mix64(numbers.astype(np.uint64) + np.uint64((seed * 0x9E3779B1) % 2**64))
    chars = np.empty((len(numbers), 15), dtype=np.uint8)
    chars[:, :4] = np.frombuffer(b"run_", dtype=np.uint8)
    for k in range(14, 3, -1):
        chars[:, k] = _B62[(x % np.uint64(62)).astype(np.int64)]
        x = x // np.uint64(62)
    return _rows(chars)


def _json(value: object) -> bytes:
    """``orjson.dumps`` copied into a right-sized bytes object: orjson 3.13 returns bytes that keep a 4 KiB
    buffer each, which multiplied the memory of the serialised inputs held per chunk by ten."""
    return b"%b" % orjson.dumps(value)


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


# ---------------------------------------------------------------------------------------------------------------
# inputs and outputs per workflow domain


def _common(rng: np.random.Generator, n: int) -> tuple[list[str], list[str], list[str]]:
    return _uuids(rng, n), _pick(rng, TENANTS, n), _pick(rng, SOURCES, n, (0.55, 0.2, 0.15, 0.05, 0.05))


def _agents_input(rng: np.random.Generator, n: int) -> list[dict]:
    req, tenant, source = _common(rng, n)
    fields = zip(
        req,
        tenant,
        source,
        _hex(rng, n, 12),
        _pick(rng, ("email", "chat", "slack", "voice"), n),
        _pick(rng, ("en", "fr", "de", "es", "ja"), n, (0.6, 0.1, 0.12, 0.12, 0.06)),
        _pick(rng, ("gpt-4o-mini", "claude-haiku", "llama-3.1-70b"), n),
        _pick(rng, (1024, 2048, 4096), n),
        _ints(rng, 1, 40, n),
        strict=True,
    )
    return [
        {
            "requestId": r,
            "tenant": t,
            "source": s,
            "conversationId": f"conv_{c}",
            "channel": ch,
            "language": lang,
            "model": m,
            "maxTokens": mt,
            "messageCount": mc,
        }
        for r, t, s, c, ch, lang, m, mt, mc in fields
    ]


def _billing_input(rng: np.random.Generator, n: int) -> list[dict]:
    req, tenant, source = _common(rng, n)
    fields = zip(
        req,
        tenant,
        source,
        _hex(rng, n, 14),
        _ints(rng, 10_000_000, 99_999_999, n),
        _ints(rng, 100, 2_500_000, n),
        _pick(rng, ("EUR", "USD", "GBP", "CHF"), n, (0.4, 0.45, 0.1, 0.05)),
        _ints(rng, 1, 25, n),
        (rng.random(n) < 0.05).tolist(),
        strict=True,
    )
    return [
        {
            "requestId": r,
            "tenant": t,
            "source": s,
            "customerId": f"cus_{c}",
            "invoiceId": f"inv_{i}",
            "amountCents": a,
            "currency": cur,
            "lineItems": li,
            "dryRun": dry,
        }
        for r, t, s, c, i, a, cur, li, dry in fields
    ]


def _documents_input(rng: np.random.Generator, n: int) -> list[dict]:
    req, tenant, source = _common(rng, n)
    kinds = (
        ("pdf", "application/pdf"),
        ("docx", "application/vnd.openxmlformats"),
        ("png", "image/png"),
        ("mp4", "video/mp4"),
    )
    fields = zip(
        req,
        tenant,
        source,
        _uuids(rng, n),
        _pick(rng, kinds, n, (0.6, 0.15, 0.15, 0.1)),
        _ints(rng, 1, 300, n),
        _ints(rng, 20_000, 80_000_000, n),
        strict=True,
    )
    return [
        {
            "requestId": r,
            "tenant": t,
            "source": s,
            "documentUrl": f"https://files.example.com/{t}/{u}.{k[0]}",
            "mimeType": k[1],
            "pages": p,
            "sizeBytes": b,
        }
        for r, t, s, u, k, p, b in fields
    ]


def _data_input(rng: np.random.Generator, n: int) -> list[dict]:
    req, tenant, source = _common(rng, n)
    fields = zip(
        req,
        tenant,
        source,
        _ints(rng, 0, 2048, n),
        _ints(rng, 1_000, 50_000_000, n),
        _pick(rng, ("incremental", "full", "repair"), n, (0.8, 0.15, 0.05)),
        _pick(rng, ("parquet", "csv", "jsonl"), n),
        strict=True,
    )
    return [
        {
            "requestId": r,
            "tenant": t,
            "source": s,
            "dataset": f"s3://runlens-data/{t}/raw/part-{p:05d}.{fmt}",
            "expectedRows": rows,
            "mode": mode,
        }
        for r, t, s, p, rows, mode, fmt in fields
    ]


def _notify_input(rng: np.random.Generator, n: int) -> list[dict]:
    req, tenant, source = _common(rng, n)
    fields = zip(
        req,
        tenant,
        source,
        _ints(rng, 1000, 999_999, n),
        _pick(rng, ("welcome_v3", "invoice_due", "weekly_digest", "password_reset", "otp_code"), n),
        _pick(rng, ("email", "sms", "push"), n),
        _pick(rng, ("en-US", "de-DE", "fr-FR", "pt-BR"), n),
        strict=True,
    )
    return [
        {
            "requestId": r,
            "tenant": t,
            "source": s,
            "recipient": f"user{u}@{t}.example.com",
            "template": tpl,
            "channel": ch,
            "locale": loc,
        }
        for r, t, s, u, tpl, ch, loc in fields
    ]


def _account_input(rng: np.random.Generator, n: int) -> list[dict]:
    req, tenant, source = _common(rng, n)
    fields = zip(
        req,
        tenant,
        source,
        _hex(rng, n, 10),
        _pick(rng, ("free", "pro", "team", "enterprise"), n),
        _pick(rng, ("US", "DE", "FR", "GB", "IN", "BR", "JP"), n),
        _pick(rng, ("https://www.google.com/", "https://news.ycombinator.com/", "direct"), n),
        strict=True,
    )
    return [
        {
            "requestId": r,
            "tenant": t,
            "source": s,
            "userId": f"usr_{u}",
            "email": f"{u}@mail.example.org",
            "plan": plan,
            "country": c,
            "referrer": ref,
        }
        for r, t, s, u, plan, c, ref in fields
    ]


def _agents_output(rng: np.random.Generator, n: int) -> list[dict]:
    fields = zip(
        _ints(rng, 200, 9000, n),
        _ints(rng, 20, 1200, n),
        _ints(rng, 0, 6, n),
        (rng.random(n) < 0.7).tolist(),
        strict=True,
    )
    return [
        {
            "tokens": {"prompt": p, "completion": c},
            "toolCalls": tc,
            "resolved": ok,
        }
        for p, c, tc, ok in fields
    ]


def _billing_output(rng: np.random.Generator, n: int) -> list[dict]:
    fields = zip(
        _hex(rng, n, 16), _pick(rng, ("synced", "paid", "scheduled"), n), _ints(rng, 100, 2_500_000, n), strict=True
    )
    return [{"externalId": f"ch_{h}", "state": st, "amountCents": a} for h, st, a in fields]


def _documents_output(rng: np.random.Generator, n: int) -> list[dict]:
    fields = zip(_uuids(rng, n), _ints(rng, 1, 300, n), _ints(rng, 10_000, 40_000_000, n), strict=True)
    return [
        {"outputUrl": f"https://files.example.com/out/{u}.json", "pages": p, "bytesWritten": b} for u, p, b in fields
    ]


def _data_output(rng: np.random.Generator, n: int) -> list[dict]:
    fields = zip(_ints(rng, 1_000, 50_000_000, n), _ints(rng, 0, 500, n), _ints(rng, 10**6, 10**11, n), strict=True)
    return [{"rowsWritten": w, "rowsRejected": r, "bytesScanned": b} for w, r, b in fields]


def _notify_output(rng: np.random.Generator, n: int) -> list[dict]:
    fields = zip(_hex(rng, n, 20), _pick(rng, ("ses", "twilio", "fcm"), n), strict=True)
    return [{"messageId": f"<{h}@mail.example.com>", "provider": p, "delivered": True} for h, p in fields]


def _account_output(rng: np.random.Generator, n: int) -> list[dict]:
    fields = zip(_ints(rng, 1, 9, n), (rng.random(n) < 0.9).tolist(), strict=True)
    return [{"stepsCompleted": s, "created": c, "status": "ok"} for s, c in fields]


Builder = Callable[[np.random.Generator, int], list[dict]]
DOMAINS: dict[str, tuple[Builder, Builder]] = {
    "agents": (_agents_input, _agents_output),
    "billing": (_billing_input, _billing_output),
    "documents": (_documents_input, _documents_output),
    "data": (_data_input, _data_output),
    "notify": (_notify_input, _notify_output),
    "account": (_account_input, _account_output),
}


def _by_domain(rng: np.random.Generator, wf: np.ndarray, which: int) -> np.ndarray:
    """Serialised inputs (which=0) or outputs (which=1) for runs of the given workflow indexes."""
    out = np.empty(len(wf), dtype=object)
    for domain, builders in DOMAINS.items():
        rows = np.flatnonzero(_DOMAIN_OF[wf] == _DOMAIN_CODE[domain])
        if len(rows):
            out[rows] = _objects([_json(value) for value in builders[which](rng, len(rows))])
    return out


_DOMAIN_CODE = {name: code for code, name in enumerate(DOMAINS)}
_DOMAIN_OF = np.array([_DOMAIN_CODE[w.domain] for w in WORKFLOWS])
_NAME_JSON = [orjson.dumps(w.name) for w in WORKFLOWS]
_LOG_MEDIAN = np.log([w.median_s for w in WORKFLOWS])
_SIGMA = np.array([w.sigma for w in WORKFLOWS])
_BASE_FAILURE = np.array([w.failure_rate for w in WORKFLOWS])
_WEIGHT = np.array([w.weight for w in WORKFLOWS])
_BATCH = np.array([w.batch for w in WORKFLOWS])
_ERRORS = np.array([(w.errors * 3)[:3] for w in WORKFLOWS])


def _error_cumulative(workflow: Workflow) -> np.ndarray:
    weights = np.array(ERROR_SLOT_WEIGHTS[: len(workflow.errors)])
    return np.pad(np.cumsum(weights) / weights.sum(), (0, 3 - len(weights)), constant_values=1.0)


_ERROR_CUM = np.array([_error_cumulative(w) for w in WORKFLOWS])


def _extra_fields(code: int, index: int, workflow: Workflow) -> bytes:
    """The unknown top-level fields of extra-field ``code`` (a bit set), serialised with a leading comma."""
    fields = {"taskQueue": f"{workflow.domain}-workers", "attempt": 2 + index % 3}
    chosen = [key for bit, key in enumerate(fields) if code >> bit & 1]
    return b"".join(b"," + orjson.dumps(key) + b":" + orjson.dumps(fields[key]) for key in chosen)


_EXTRA_JSON = [[_extra_fields(code, i, w) for i, w in enumerate(WORKFLOWS)] for code in range(len(EXTRA_FIELD_P))]
# One record per status: runId, workflowName, createdAt, [completedAt,] input, [output | error,] extra fields.
_LINE_TEMPLATES = (
    b'{"runId":"%s","workflowName":%s,"status":"queued","createdAt":"%s","input":%s%s}',
    b'{"runId":"%s","workflowName":%s,"status":"running","createdAt":"%s","input":%s%s}',
    b'{"runId":"%s","workflowName":%s,"status":"completed","createdAt":"%s","completedAt":"%s","input":%s,'
    b'"output":%s%s}',
    b'{"runId":"%s","workflowName":%s,"status":"failed","createdAt":"%s","completedAt":"%s","input":%s,"error":%s%s}',
)


def _errors(rng: np.random.Generator, templates: np.ndarray) -> list[str]:
    """Error texts from ``ERROR_TEMPLATES`` indexes, with fresh ids, numbers, hex, UUIDs and quoted values."""
    n = len(templates)
    fields = zip(
        templates.tolist(),
        _ints(rng, 1000, 99_999, n),
        _hex(rng, n, 6),
        _uuids(rng, n),
        _pick(rng, (5000, 10000, 30000, 60000), n),
        _pick(rng, ACTIVITIES, n),
        _ints(rng, 10, 400, n),
        _ints(rng, 1, 64, n),
        _pick(rng, TENANTS, n),
        strict=True,
    )
    return [
        ERROR_TEMPLATES[t].format(n=num, h=h, u=u, ms=ms, q=q, line=line, w=w, tenant=ten)
        for t, num, h, u, ms, q, line, w, ten in fields
    ]


# ---------------------------------------------------------------------------------------------------------------
# the run model


@dataclass
class _RunBatch:
    """Runs as columns (times in UTC epoch microseconds; ``NEVER`` for a stuck run's missing transition)."""

    number: np.ndarray
    wf: np.ndarray
    created: np.ndarray
    start: np.ndarray
    end: np.ndarray
    failed: np.ndarray
    style: np.ndarray
    extra: np.ndarray
    inputs: np.ndarray  # serialised JSON objects
    results: np.ndarray  # serialised: the output object of a completed run, the error string of a failed run

    def take(self, rows: np.ndarray) -> _RunBatch:
        return _RunBatch(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))

    def concat(self, other: _RunBatch) -> _RunBatch:
        return _RunBatch(*(np.concatenate([getattr(self, f), getattr(other, f)]) for f in self.__dataclass_fields__))

    def status_at(self, at: int) -> np.ndarray:
        final = np.where(self.failed, FAILED, COMPLETED)
        return np.where(at < self.start, QUEUED, np.where(at < self.end, RUNNING, final))

    def changes_after(self, at: int) -> np.ndarray:
        """Which runs will change state after ``at`` (a stuck run's last state never changes)."""
        upcoming = np.where(self.start > at, self.start, self.end)
        return (upcoming > at) & (upcoming != NEVER)


def _empty_batch() -> _RunBatch:
    i64 = np.empty(0, dtype=np.int64)
    return _RunBatch(i64, i64, i64, i64, i64, np.empty(0, dtype=bool), i64, i64, _objects([]), _objects([]))


@dataclass(frozen=True)
class _Windows:
    """Incident windows [start, end), each hitting the runs of one workflow or of one domain's task queue."""

    key: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def hits(self, keys: np.ndarray, created: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """(window, mask of the runs created in it) for each window overlapping the sorted ``created``."""
        overlapping = (self.end > created[0]) & (self.start <= created[-1]) if len(created) else []
        for w in np.flatnonzero(overlapping).tolist():
            yield w, (keys == self.key[w]) & (created >= self.start[w]) & (created < self.end[w])


def _draw_windows(
    rng: np.random.Generator, t0: int, t1: int, keys: int, per_day: float, hours: tuple[float, float]
) -> _Windows:
    key = np.repeat(np.arange(keys), rng.poisson(per_day * (t1 - t0) / DAY_US, keys))
    start = t0 + (rng.random(len(key)) * (t1 - t0)).astype(np.int64)
    return _Windows(key, start, start + (rng.uniform(*hours, len(key)) * HOUR_US).astype(np.int64))


@dataclass(frozen=True)
class _Incidents:
    """Failure bursts of a workflow (a failure rate and a dominant error each) and outages of a domain's workers."""

    bursts: _Windows
    burst_rate: np.ndarray
    burst_template: np.ndarray
    outages: _Windows


def _draw_incidents(rng: np.random.Generator, t0: int, t1: int) -> _Incidents:
    bursts = _draw_windows(rng, t0, t1, len(WORKFLOWS), BURSTS_PER_WORKFLOW_DAY, (1, 6))
    rate = rng.uniform(0.3, 0.7, len(bursts.key))
    template = _ERRORS[bursts.key, rng.integers(0, 2, len(bursts.key))]
    outages = _draw_windows(rng, t0, t1, len(DOMAINS), OUTAGES_PER_DOMAIN_DAY, (1, 4))
    return _Incidents(bursts, rate, template, outages)


def _hourly_counts(runs: int, t0: int, hours: int) -> np.ndarray:
    """Runs created in each hour: a business-hours peak (UTC), quieter weekends, summing exactly to ``runs``."""
    starts = t0 + np.arange(hours, dtype=np.int64) * HOUR_US
    hour = (starts // HOUR_US % 24).astype(float)
    weekday = (starts // DAY_US + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Saturday, Sunday
    intensity = (0.25 + np.exp(-(((hour + 0.5 - 13.5) / 4.0) ** 2))) * np.where(weekday >= 5, 0.55, 1.0)
    cumulative = np.floor(np.cumsum(intensity) / intensity.sum() * runs + 0.5).astype(np.int64)
    return np.diff(cumulative, prepend=0)


def _workflow_cdf(batch_factor: float) -> np.ndarray:
    weight = _WEIGHT * np.where(_BATCH, batch_factor, 1.0)
    return np.cumsum(weight) / weight.sum()


_DAY_CDF = _workflow_cdf(0.6)
_NIGHT_CDF = _workflow_cdf(3.0)  # batch workflows run mostly from 22:00 to 06:00 UTC


def _draw_workflows(rng: np.random.Generator, created: np.ndarray) -> np.ndarray:
    hour = created // HOUR_US % 24
    u = rng.random(len(created))
    wf = np.where((hour < 6) | (hour >= 22), np.searchsorted(_NIGHT_CDF, u), np.searchsorted(_DAY_CDF, u))
    return np.minimum(wf, len(WORKFLOWS) - 1)


def _draw_starts(rng: np.random.Generator, wf: np.ndarray, created: np.ndarray, outages: _Windows) -> np.ndarray:
    """Start times: about a second after creation, or when the backlog drains after a worker outage."""
    start = created + (np.exp(np.log(0.8) + 1.2 * rng.standard_normal(len(wf))) * US).astype(np.int64)
    drain = (rng.random(len(wf)) * 15 * 60 * US).astype(np.int64)
    for w, hit in outages.hits(_DOMAIN_OF[wf], created):
        start = np.where(hit, outages.end[w] + drain, start)
    return start


def _draw_failures(
    rng: np.random.Generator, wf: np.ndarray, created: np.ndarray, incidents: _Incidents
) -> tuple[np.ndarray, np.ndarray]:
    """Which runs fail, and the error template a burst imposes on a run (-1 outside bursts)."""
    p_fail = _BASE_FAILURE[wf]
    burst_template = np.full(len(wf), -1)
    for w, hit in incidents.bursts.hits(wf, created):
        p_fail = np.where(hit, np.maximum(p_fail, incidents.burst_rate[w]), p_fail)
        burst_template[hit] = incidents.burst_template[w]
    return rng.random(len(wf)) < p_fail, burst_template


def _draw_errors(rng: np.random.Generator, wf: np.ndarray, burst_template: np.ndarray) -> list[str]:
    """Error texts: the workflow's usual templates, or mostly the burst's template during a burst."""
    slot = (rng.random(len(wf))[:, None] > _ERROR_CUM[wf]).sum(axis=1)
    templates = _ERRORS[wf, slot]
    bursty = (burst_template >= 0) & (rng.random(len(wf)) < 0.9)
    templates[bursty] = burst_template[bursty]
    return _errors(rng, templates)


@dataclass(frozen=True)
class _Slots:
    """Time slots of one chunk: ``count[i]`` runs are created uniformly in [start[i], start[i] + length[i])."""

    start: np.ndarray
    length: np.ndarray
    count: np.ndarray


def _new_runs(rng: np.random.Generator, first: int, slots: _Slots, incidents: _Incidents) -> _RunBatch:
    """The runs created in a chunk's time slots, numbered from ``first``."""
    n = int(slots.count.sum())
    offsets = rng.random(n) * np.repeat(slots.length, slots.count)
    created = np.sort(np.repeat(slots.start, slots.count) + offsets.astype(np.int64))
    wf = _draw_workflows(rng, created)
    start = _draw_starts(rng, wf, created, incidents.outages)
    failed, burst_template = _draw_failures(rng, wf, created, incidents)
    latency = np.exp(_LOG_MEDIAN[wf] + _SIGMA[wf] * rng.standard_normal(n))
    latency = np.where(failed, latency * rng.uniform(0.1, 1.0, n), latency)
    end = start + np.maximum((latency * US).astype(np.int64), 1000)
    stuck = np.flatnonzero(rng.random(n) < STUCK_RATE)
    end[stuck] = NEVER
    start[stuck[rng.random(len(stuck)) < 0.5]] = NEVER
    results = _by_domain(rng, wf, 1)
    rows = np.flatnonzero(failed)
    results[rows] = _objects([_json(e) for e in _draw_errors(rng, wf[rows], burst_template[rows])])
    style = rng.choice(len(TIME_STYLES), n, p=[s[2] for s in TIME_STYLES])
    extra = rng.choice(len(EXTRA_FIELD_P), n, p=EXTRA_FIELD_P)
    number = first + np.arange(n, dtype=np.int64)
    return _RunBatch(number, wf, created, start, end, failed, style, extra, _by_domain(rng, wf, 0), results)


def _records(batch: _RunBatch, at: int, seed: int) -> tuple[list[bytes], np.ndarray]:
    """Each run's record (serialised) in its state at time ``at``, and the status codes."""
    status = batch.status_at(at)
    final = status >= COMPLETED
    completed = np.empty(len(status), dtype=object)
    completed[final] = _format_times(batch.end[final], batch.style[final])
    rows = zip(
        _run_ids(batch.number, seed),
        batch.wf.tolist(),
        status.tolist(),
        _format_times(batch.created, batch.style).tolist(),
        completed.tolist(),
        batch.inputs.tolist(),
        batch.results.tolist(),
        batch.extra.tolist(),
        strict=True,
    )
    return [
        _LINE_TEMPLATES[st] % (run_id, _NAME_JSON[wf], created, ended, inp, result, _EXTRA_JSON[extra][wf])
        if st >= COMPLETED
        else _LINE_TEMPLATES[st] % (run_id, _NAME_JSON[wf], created, inp, _EXTRA_JSON[extra][wf])
        for run_id, wf, st, created, ended, inp, result, extra in rows
    ], status


# ---------------------------------------------------------------------------------------------------------------
# faults: invalid records, duplicates, earlier states


def _strip_zone(stamp: str) -> str:
    return stamp[:-1] if stamp.endswith("Z") else stamp[:-6]


def _bad_datetime(record: dict, choice: int) -> None:
    key = "completedAt" if "completedAt" in record and choice % 2 else "createdAt"
    stamp = record[key]
    variants = (stamp.replace("T", " "), _strip_zone(stamp) + "+0530", _strip_zone(stamp), stamp[:10])
    record[key] = variants[choice // 2 % 4]


def _schema_fault(record: dict, fault: str, choice: int) -> bytes:
    """An invalid copy of a valid record, serialised."""
    bad: dict | list = dict(record)
    if fault == "missing_key":
        del bad[("runId", "workflowName", "status")[choice % 3]]
    elif fault == "bad_status":
        bad["status"] = ("cancelled", "COMPLETED", "timed_out", "")[choice % 4]
    elif fault == "bad_run_id":
        rest = record["runId"][4:]
        bad["runId"] = (f"run-{rest}", f"RUN_{rest}", f"run_{rest}-retry", "run_")[choice % 4]
    elif fault == "number_for_string":
        key = ("runId", "workflowName", "status", "createdAt")[choice % 4]
        bad[key] = 1_793_000_000_000 + choice if key == "createdAt" else choice
    elif fault == "bad_datetime":
        _bad_datetime(bad, choice)
    elif fault == "input_not_object":
        bad["input"] = ([record["input"]], None)[choice % 2]
    else:  # not_object
        bad = [record]
    return orjson.dumps(bad)


def _line_fault(line: bytes, fault: str, choice: int) -> bytes:
    if fault == "garbage":
        return GARBAGE_LINES[choice % len(GARBAGE_LINES)]
    text = line.decode()
    return text[: len(text) // 4 + choice % (len(text) // 2)].encode()


@dataclass
class _FileStats:
    records: int = 0
    invalid: int = 0


def _with_faults(
    rng: np.random.Generator,
    lines: list[bytes],
    status: np.ndarray,
    ndjson: bool,
    invalid_ratio: float,
    stats: _FileStats,
) -> list[bytes]:
    """The records with earlier states, exact duplicates and invalid copies inserted next to some of them."""
    n = len(lines)
    inserts: list[tuple[int, bytes]] = []
    for row in np.flatnonzero((status >= COMPLETED) & (rng.random(n) < PROGRESSION_RATE)).tolist():
        earlier = orjson.loads(lines[row])
        for key in ("completedAt", "output", "error"):
            earlier.pop(key, None)
        inserts.append((row, orjson.dumps({**earlier, "status": "running"})))
    for row in np.flatnonzero(rng.random(n) < DUPLICATE_RATE).tolist():
        inserts.append((row + 1, lines[row]))
    faults = SCHEMA_FAULTS + LINE_FAULTS if ndjson else SCHEMA_FAULTS
    bad_rows = np.flatnonzero(rng.random(n) < invalid_ratio)
    kinds = rng.integers(0, len(faults), len(bad_rows)).tolist()
    choices = rng.integers(0, 1 << 30, len(bad_rows)).tolist()
    for row, kind, choice in zip(bad_rows.tolist(), kinds, choices, strict=True):
        fault = faults[kind]
        bad = (
            _line_fault(lines[row], fault, choice)
            if fault in LINE_FAULTS
            else _schema_fault(orjson.loads(lines[row]), fault, choice)
        )
        inserts.append((row + 1, bad))
    stats.invalid += len(bad_rows)
    stats.records += n + len(inserts)
    return _merge(lines, inserts)


def _merge(lines: list[bytes], inserts: list[tuple[int, bytes]]) -> list[bytes]:
    """``lines`` with each inserted line placed before the line at its position (stable)."""
    if not inserts:
        return lines
    out: list[bytes] = []
    done = 0
    for position, line in sorted(inserts, key=lambda item: item[0]):
        out.extend(lines[done:position])
        out.append(line)
        done = position
    out.extend(lines[done:])
    return out


# ---------------------------------------------------------------------------------------------------------------
# files


def _file_kind(fmt: str, index: int, snapshots_per_day: int) -> tuple[str, str]:
    """(layout, suffix) of the index-th snapshot; layout is ``lines``, ``array`` or ``wrapped``.

    ``mixed`` rotates the four kinds and shifts the rotation by one each day, so that every kind also holds the
    busy daytime snapshots."""
    if fmt == "mixed":
        day, slot = divmod(index, snapshots_per_day)
        kinds = (("lines", "jsonl"), ("array", "json"), ("wrapped", "json"), ("lines", "jsonl.gz"))
        return kinds[(slot + day) % len(kinds)]
    return ("lines" if fmt.startswith("jsonl") else "array"), fmt


class _SnapshotWriter:
    """Streams records into one export file in the given layout."""

    def __init__(self, stream: BinaryIO, layout: str, exported_at: str) -> None:
        self.stream = stream
        self.layout = layout
        self.exported_at = exported_at
        self.first = True
        if layout == "array":
            stream.write(b"[\n")
        elif layout == "wrapped":
            stream.write(b'{"runs": [\n')

    def write(self, lines: list[bytes]) -> None:
        if not lines:
            return
        if self.layout == "lines":
            self.stream.write(b"\n".join(lines))
            self.stream.write(b"\n")
            return
        if not self.first:
            self.stream.write(b",\n")
        self.stream.write(b",\n".join(lines))
        self.first = False

    def close(self) -> None:
        if self.layout == "array":
            self.stream.write(b"\n]\n")
        elif self.layout == "wrapped":
            self.stream.write(b'\n], "exportedAt": "' + self.exported_at.encode() + b'"}\n')


@contextmanager
def _open_snapshot(path: Path, layout: str, exported_at: str) -> Iterator[_SnapshotWriter]:
    """A writer into a hidden ``.part`` file that is renamed to ``path`` when complete, so that a sensor watching
    the folder never sees half a file."""
    partial = path.with_name(f".{path.name}.part")
    try:
        with partial.open("wb") as raw:
            if path.suffix == ".gz":
                with gzip.GzipFile(path.stem, "wb", GZIP_LEVEL, fileobj=raw, mtime=0) as gz:
                    writer = _SnapshotWriter(gz, layout, exported_at)
                    yield writer
                    writer.close()
            else:
                writer = _SnapshotWriter(raw, layout, exported_at)
                yield writer
                writer.close()
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------------------------
# the driver


@dataclass
class _State:
    """What survives from one snapshot to the next: runs that will change state (not the stuck ones, which would
    pile up) and earlier-state lines for stale re-exports."""

    in_flight: _RunBatch
    stale_pool: list[tuple[int, bytes]]


@dataclass(frozen=True)
class _Options:
    seed: int
    invalid_ratio: float


def _pool_stale(
    rng: np.random.Generator, state: _State, batch: _RunBatch, status: np.ndarray, lines: list[bytes]
) -> None:
    """Remember a few not-yet-final records of runs that will finish, to re-export them after they did."""
    if len(state.stale_pool) >= STALE_POOL_MAX:
        return
    rows = np.flatnonzero((status < COMPLETED) & (batch.end != NEVER) & (rng.random(len(status)) < STALE_RATE))
    state.stale_pool.extend((int(batch.end[row]), lines[row]) for row in rows.tolist())


def _emit(
    rng: np.random.Generator,
    state: _State,
    batch: _RunBatch,
    at: int,
    opts: _Options,
    writer: _SnapshotWriter,
    stats: _FileStats,
) -> None:
    """Write the runs' states at ``at`` (with faults) and keep those whose state will change in flight."""
    lines, status = _records(batch, at, opts.seed)
    _pool_stale(rng, state, batch, status, lines)
    writer.write(_with_faults(rng, lines, status, writer.layout == "lines", opts.invalid_ratio, stats))
    state.in_flight = state.in_flight.concat(batch.take(np.flatnonzero(batch.changes_after(at))))


def _write_snapshot(
    writer: _SnapshotWriter,
    state: _State,
    index: int,
    t0: int,
    t1: int,
    hourly: np.ndarray,
    first_run: int,
    incidents: _Incidents,
    opts: _Options,
) -> _FileStats:
    stats = _FileStats()
    rng = np.random.default_rng([opts.seed, 1, index])
    stale = [line for end, line in state.stale_pool if end <= t0]
    state.stale_pool = [(end, line) for end, line in state.stale_pool if end > t0]
    writer.write(stale)
    stats.records += len(stale)
    carried = state.in_flight
    is_changed = (carried.start > t0) & (carried.start <= t1) | (carried.end <= t1)
    changed = np.flatnonzero(is_changed)
    state.in_flight = carried.take(np.flatnonzero(~is_changed))
    _emit(
        rng, state, carried.take(changed[np.argsort(carried.created[changed], kind="stable")]), t1, opts, writer, stats
    )
    for chunk, slots in enumerate(_chunks(t0, hourly)):
        chunk_rng = np.random.default_rng([opts.seed, 2, index, chunk])
        _emit(chunk_rng, state, _new_runs(chunk_rng, first_run, slots, incidents), t1, opts, writer, stats)
        first_run += int(slots.count.sum())
    return stats


def _chunks(t0: int, hourly: np.ndarray) -> Iterator[_Slots]:
    """The period's hours (split when one holds more than ``CHUNK_RUNS`` runs), grouped into chunks of at most
    ``CHUNK_RUNS`` runs."""
    slots: list[tuple[int, int, int]] = []
    for hour, count in enumerate(hourly.tolist()):
        parts = max(1, math.ceil(count / CHUNK_RUNS))
        bounds = [t0 + hour * HOUR_US + part * HOUR_US // parts for part in range(parts + 1)]
        slots += [(bounds[p], bounds[p + 1] - bounds[p], count // parts + (p < count % parts)) for p in range(parts)]
    group: list[tuple[int, int, int]] = []
    for slot in slots:
        if group and sum(s[2] for s in group) + slot[2] > CHUNK_RUNS:
            yield _Slots(*(np.array(column, dtype=np.int64) for column in zip(*group, strict=True)))
            group = []
        group.append(slot)
    if group:
        yield _Slots(*(np.array(column, dtype=np.int64) for column in zip(*group, strict=True)))


def _check(runs: int, days: int, fmt: str, snapshots_per_day: int, start: datetime, invalid_ratio: float) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if snapshots_per_day < 1 or 24 % snapshots_per_day:
        raise ValueError(f"snapshots_per_day must divide 24, got {snapshots_per_day}")
    if runs < 0 or days < 1:
        raise ValueError("runs must be >= 0 and days >= 1")
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if not 0 <= invalid_ratio < 1:
        raise ValueError("invalid_ratio must be in [0, 1)")


def generate_exports(
    out_dir: Path,
    runs: int = 2000,
    days: int = 7,
    seed: int = 7,
    start: datetime = datetime(2026, 11, 1, tzinfo=UTC),
    fmt: str = "mixed",
    snapshots_per_day: int = 4,
    invalid_ratio: float = 0.01,
) -> GenerateSummary:
    """Write ``days * snapshots_per_day`` export snapshots holding ``runs`` distinct runs into ``out_dir``.

    ``snapshots_per_day`` must divide 24; about ``invalid_ratio`` of the records are invalid copies (see the
    module docstring). Files of the same names in ``out_dir`` are replaced; other files are left alone.
    """
    _check(runs, days, fmt, snapshots_per_day, start, invalid_ratio)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = int((start - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    period_hours = 24 // snapshots_per_day
    hourly = _hourly_counts(runs, t_start, days * 24)
    incidents = _draw_incidents(np.random.default_rng([seed, 0]), t_start, t_start + days * DAY_US)
    opts = _Options(seed, invalid_ratio)
    state = _State(_empty_batch(), [])
    records = invalid = 0
    first_run = 0
    files = days * snapshots_per_day
    for index in range(files):
        t0 = t_start + index * period_hours * HOUR_US
        t1 = t0 + period_hours * HOUR_US
        exported = datetime.fromtimestamp(t1 / US, tz=UTC)
        layout, suffix = _file_kind(fmt, index, snapshots_per_day)
        path = out_dir / f"runs-{exported:%Y-%m-%dT%H}.{suffix}"
        period_counts = hourly[index * period_hours : (index + 1) * period_hours]
        with _open_snapshot(path, layout, f"{exported:%Y-%m-%dT%H:%M:%S}Z") as writer:
            stats = _write_snapshot(writer, state, index, t0, t1, period_counts, first_run, incidents, opts)
        first_run += int(period_counts.sum())
        records += stats.records
        invalid += stats.invalid
    return GenerateSummary(files=files, records=records, invalid_records=invalid, runs=runs)
