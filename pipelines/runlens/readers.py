"""Streaming readers that cut export files into raw records without loading them whole.

Shapes: NDJSON (``.jsonl`` / ``.ndjson``: one record per line), and ``.json`` holding a JSON array, a single run
object, an object wrapping the list under one key (``runs``, ``data``, ``items``, ...), or several top-level
values one after the other. Each may be gzipped (``.gz``). Bytes are decoded from UTF-8 (a BOM is dropped);
UTF-16 and UTF-32 with a BOM are transcoded.

The JSON splitter is vectorised with numpy: per chunk it finds the structural characters outside strings and their
depth, so Python only touches one event per record. Records come out as raw bytes, byte for byte as in the file;
parsing and validation happen later (``runlens.ingest``). Whatever cannot be a record (content after the end of the
document, a file cut off inside a value, an over-long record) still comes out as a raw record with a reason, so
nothing is dropped; an NDJSON file that holds a JSON document (spread over several lines, or an array on one
line) is refused whole before its first record (``NotLineDelimitedError``), so that it can be renamed and read.
``DepthCheck`` finds the records nested deeper than ``RUNLENS_MAX_NESTING_DEPTH`` before they are parsed.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

import numpy as np

from runlens.config import Limits
from runlens.errors import DecompressedCapError, ExportReadError, NotLineDelimitedError

CHUNK_BYTES = 8 * 2**20
KEEP_OVERSIZED_BYTES = 64 * 2**10
TRUNCATED = f"only its first {KEEP_OVERSIZED_BYTES} bytes are kept"  # in the problem of a record cut short
WHITESPACE_SLACK = 4096  # bytes of a JSON value kept past the cap, so white space around it is not counted
ENCODING_SNIFF_BYTES = 1024  # what the encoding of a file without a BOM is told from
MIN_ASCII_UNITS = 4  # ASCII code units a BOM-less UTF-16/32 head must hold (see _detect_encoding)
LINE_END_HEAD_BYTES = 8 * 2**20  # a file's head (decoded): what decides how it is split, read whatever the cap
WRAPPER_KEYS = frozenset({"runs", "data", "items", "results", "records", "workflowRuns", "executions"})
# Members only a run has: an object holding one of them before a list under a wrapper key is a run, not a wrapper.
RUN_KEYS = frozenset({"runId", "workflowName", "status"})
_RUN_NAMES = frozenset(f'"{key}"'.encode() for key in RUN_KEYS)  # as written in a file, for ``_member_names``
NDJSON_SUFFIXES = (".jsonl", ".ndjson")


def gzipped(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def export_format(path: Path) -> str | None:
    """``ndjson`` or ``json`` (``.gz`` allowed on both), or None for a file runlens does not read."""
    name = path.name.lower()
    if gzipped(path):
        name = name[:-3]
    if name.endswith(NDJSON_SUFFIXES):
        return "ndjson"
    if name.endswith(".json"):
        return "json"
    return None


MAX_DEFLATE_RATIO = 1032  # deflate never expands more than this (a run of one byte: 258 bytes per ~2 bits)


def decoded_size_hint(path: Path) -> int:
    """About how many bytes reading ``path`` yields: its size, or for gzip the size its trailer records (the
    decompressed size modulo 4 GiB, exact for a single-member file under 4 GiB), whichever is larger. The trailer
    of a cut-off file is compressed data, any number: no more than deflate's largest ratio allows is believed (a
    few KB read as 4 GB started a pool of worker processes)."""
    size = path.stat().st_size
    if not gzipped(path) or size < 18:
        return size
    with open(path, "rb") as handle:
        handle.seek(-4, 2)
        return max(size, min(int.from_bytes(handle.read(4), "little"), size * MAX_DEFLATE_RATIO))


class Readable(Protocol):
    """A file opened for reading in binary mode, or anything reading like one."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass
class RawBatch:
    """Consecutive raw records: their bytes, the 1-based line where each starts, and reader-found problems."""

    first_index: int
    raws: list[bytes] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: dict[int, str] = field(default_factory=dict)

    def add(self, raw: bytes, line: int, problem: str | None = None) -> None:
        if problem is not None:
            self.problems[len(self.raws)] = problem
        self.raws.append(raw)
        self.lines.append(line)

    @property
    def size(self) -> int:
        return len(self.raws)

    def unpack(self) -> RawBatch:
        return self


@dataclass(frozen=True)
class PackedLines:
    """Consecutive NDJSON lines that are all plain records (none blank, padded or over the cap), kept as the one
    buffer they were read in: handing it to a worker process copies one bytes object instead of one per line, and
    the worker cuts it (``unpack``)."""

    first_index: int
    first_line: int
    body: bytes  # the buffer read: its first ``size`` lines, each ending with a newline, then maybe a partial line
    size: int

    def unpack(self) -> RawBatch:
        raws = self.body.split(b"\n")
        raws.pop()  # the partial line after the last newline (empty when the buffer ends with one)
        return RawBatch(self.first_index, raws, list(range(self.first_line, self.first_line + self.size)))


Batch = RawBatch | PackedLines


def records_from(batches: Iterable[Batch], start: int) -> Iterator[Batch]:
    """The records of ``batches`` from the ``start``-th of the file on, with their indexes and lines: an earlier
    reading that stopped at the decompression cap read those before whole, and a reading under a larger cap goes
    on from there without reading them twice."""
    for packed in batches:
        if packed.first_index >= start:
            yield packed
        elif packed.first_index + packed.size > start:
            batch, cut = packed.unpack(), start - packed.first_index
            problems = {pos - cut: problem for pos, problem in batch.problems.items() if pos >= cut}
            yield RawBatch(start, batch.raws[cut:], batch.lines[cut:], problems)


class ByteSource:
    """The decoded bytes of one export file in chunks; a read failure ends the stream and is kept in ``error``.

    Every decision on how the file is split into records (its encoding; for NDJSON, whether it holds a JSON document
    instead, ``_held_document``; what ends its lines, ``line_end``) is taken on its head, its first
    ``LINE_END_HEAD_BYTES`` decoded (or all of it when shorter), which is read whatever
    ``RUNLENS_MAX_DECOMPRESSED_BYTES`` is: the cap only cuts what is yielded. So readings under different caps split
    the file alike, and a reading under a larger cap can read on from the first record an earlier one did not read
    (``ingest.export_identity``). The head is bounded (a decoded byte takes at most four bytes of the file), so the
    cap still stops a gzip bomb in bounded memory. The lone ``\\r`` line ends of an NDJSON file come out as ``\\n``."""

    def __init__(self, path: Path, limits: Limits, display: str, handle: Readable | None = None) -> None:
        self.path = path
        self.limits = limits
        self.display = display
        self.handle = handle  # the file opened already (read from where it stands, left open), or None to open it
        self.error: ExportReadError | None = None
        self.bytes_read = 0
        self.line_end = b"\n"  # what ends the file's lines: b"\r" when they end in a lone \r; decided on the head

    def __iter__(self) -> Iterator[bytes]:
        try:
            with open(self.path, "rb") if self.handle is None else contextlib.nullcontext(self.handle) as handle:
                raw = self._gunzipped(handle) if gzipped(self.path) else iter(partial(handle.read, CHUNK_BYTES), b"")
                blocks = self._decoded(raw)
                first = next(blocks, None)
                if first is None:
                    return
                ndjson_crs = self.line_end == b"\r" and export_format(self.path) == "ndjson"
                yield from _lone_crs_as_newlines(_chain(first, blocks)) if ndjson_crs else _chain(first, blocks)
        except ExportReadError as exc:
            self.error = exc

    def _decoded(self, raw: Iterator[bytes]) -> Iterator[bytes]:
        """The decoded blocks up to the cap, the head first (``_decide`` runs on it before it is yielded)."""
        cap = self.limits.max_decompressed_bytes
        head_raw: list[bytes] = []
        parts: list[bytes] = []
        size, ended, pending = 0, False, None
        decode = _as_is
        try:
            first = next(raw, b"")
            self.bytes_read = len(first)
            head_raw.append(first)
            decode = self._decoder(first)
            parts.append(decode(first))
            size = len(parts[0])
            while size < LINE_END_HEAD_BYTES:
                block = next(raw, None)
                if block is None:
                    parts.append(decode(b"", True))
                    ended = True
                    break
                self.bytes_read += len(block)
                head_raw.append(block)
                parts.append(decode(block))
                size += len(parts[-1])
        except ExportReadError as exc:  # decided on what was read before it, and raised after it is yielded
            pending = exc
        head = b"".join(parts)
        parts.clear()
        self._decide(head[:LINE_END_HEAD_BYTES])
        if self.bytes_read > cap:  # the head read past the cap: what is yielded stops at it
            yield from self._cut(head_raw, cap)
            raise DecompressedCapError(self.display, cap, self.bytes_read)
        head_raw.clear()  # not kept while the rest of the file is read
        yield head
        if pending is not None:
            raise pending
        for block in raw:
            room = cap - self.bytes_read
            self.bytes_read += len(block)
            if self.bytes_read > cap:  # the bytes up to the cap still count: the records before it are read
                if room > 0:
                    yield decode(block[:room])
                raise DecompressedCapError(self.display, cap, self.bytes_read)
            yield decode(block)
        if not ended:
            tail = decode(b"", True)
            if tail:
                yield tail

    def _cut(self, head_raw: list[bytes], cap: int) -> Iterator[bytes]:
        """The head's decoded blocks as a reading that stopped at ``cap`` yields them: decoded again from the start,
        block by block, up to the cap."""
        decode, room = self._decoder(head_raw[0]), cap
        for block in head_raw:
            if room <= 0:
                return
            yield decode(block[:room])
            room -= len(block)

    def _decide(self, head: bytes) -> None:
        """How the file is split, from its head: an NDJSON file holding a JSON document is refused, and ``line_end``
        says what ends the file's lines."""
        if export_format(self.path) == "ndjson":
            held = _held_document(head)
            if held is not None:
                raise NotLineDelimitedError(self.display, _one_document_reason(self.path, held))
            self.line_end = b"\r" if _lone_cr_line_ends(head, whole=True) else b"\n"
        else:
            self.line_end = _json_line_end(head, whole=True) or b"\n"

    def _decoder(self, first: bytes) -> Callable[[bytes, bool], bytes]:
        """What turns the file's blocks, in order, into UTF-8: nothing for UTF-8 but a BOM dropped; a transcoder for
        UTF-16 and UTF-32 (``first``: the file's first block tells which)."""
        encoding = _detect_encoding(first)
        if encoding == "utf-8":
            return _without_bom() if first.startswith(codecs.BOM_UTF8) else _as_is
        # A lone surrogate passes through as the bytes UTF-8 would give it (ED A0 80 ...), which are not valid UTF-8:
        # its record is quarantined as in a UTF-8 file, instead of being stored with U+FFFD in its place.
        decoder = codecs.getincrementaldecoder(encoding)(errors="surrogatepass")

        def decode(block: bytes, final: bool = False) -> bytes:
            try:
                return decoder.decode(block, final).encode("utf-8", "surrogatepass")
            except UnicodeDecodeError as exc:
                raise self._fail(f"not valid {encoding}: {exc.reason}") from None

        return decode

    def _gunzipped(self, handle: Readable) -> Iterator[bytes]:
        """Decompressed blocks of up to ``CHUNK_BYTES``. A broken stream first yields everything decompressed before
        the break (``GzipFile.read`` would drop it with the exception), then fails."""
        stream = gzip.GzipFile(fileobj=handle)
        pieces: list[bytes] = []
        size = 0
        problem = ""
        while True:
            try:
                piece = stream.read1(CHUNK_BYTES - size)
            except EOFError:
                piece, problem = b"", "the gzip stream ends early (truncated file?)"
            except (gzip.BadGzipFile, zlib.error) as exc:
                piece, problem = b"", f"not a readable gzip stream ({exc})"
            pieces.append(piece)
            size += len(piece)
            if piece and size < CHUNK_BYTES:
                continue
            if size:
                yield b"".join(pieces)
            if not piece:
                break
            pieces, size = [], 0
        if problem:
            raise self._fail(problem)

    def stopped_at_cap(self) -> bool:
        """Whether the stream stopped at ``RUNLENS_MAX_DECOMPRESSED_BYTES``, before the end of the file: then the
        splitters leave out the record it ends in, which a reading under a larger cap reads whole."""
        return isinstance(self.error, DecompressedCapError)

    def _fail(self, message: str) -> ExportReadError:
        return ExportReadError(self.display, message, self.bytes_read)


def _held_document(head: bytes) -> str | None:
    """What the NDJSON file that starts with ``head`` holds instead of one record per line, or None when it may hold
    records. ``PRETTY``: a JSON document pretty-printed over several lines: its first non-blank line opens an array
    or object and ends with an opener outside any string (``[``, ``{``, ``[ {``, ``{"runs": [``), and the next
    non-blank line is not a whole array or object (``_closes_a_value``). A record written on one line never starts
    so; a damaged first line (a record cut after an opener, a stray ``[``) is followed by whole records, while a
    document's second line is ``{``, ``"runId": "x",`` or an item and its comma. ``ONE_LINE_ARRAY``: its first
    non-blank line is a whole JSON array, and the next one (if any) is not a whole object: a record is an object, so
    that line is a JSON document (an array of records) written on one line, as are arrays on the lines after it; a
    stray array before records is read line by line. A first line that opens an array and runs past the head
    (``LINE_END_HEAD_BYTES``), where its brackets cannot tell, is no record either: ``ONE_LINE_ARRAY``. A ``\\r`` ends
    a line here only in a file whose line ends are lone ``\\r`` (``_lone_cr_line_ends``); a first line with no end in
    ``head`` is all of ``head``."""
    line_end = _CR_OR_LF if _lone_cr_line_ends(head, whole=True) else _LF
    start = _LEADING_SPACE.match(head).end()
    end = line_end.search(head, start)
    line = head[start : end.start() if end else len(head)].rstrip()
    if line[:1] not in (b"[", b"{"):
        return None
    if end is None and line[:1] == b"[" and len(head) >= LINE_END_HEAD_BYTES:
        return ONE_LINE_ARRAY
    if end is not None and line[-1:] in (b"[", b"{"):
        if _unescaped_quotes(np.frombuffer(line, dtype=np.uint8)).size % 2:
            return None
        return None if _closes_a_value(_next_line(head, end.end(), line_end)) else PRETTY
    if line[:1] == b"[" and _closes_a_value(line):
        after = _next_line(head, end.end(), line_end) if end else b""
        return None if after.lstrip()[:1] == b"{" and _closes_a_value(after) else ONE_LINE_ARRAY
    return None


def _next_line(head: bytes, at: int, line_end: re.Pattern[bytes]) -> bytes:
    """The first non-blank line of ``head`` from ``at`` on (to the end of ``head`` when it has no end there)."""
    start = _LEADING_SPACE.match(head, at).end()
    end = line_end.search(head, start)
    return head[start : end.start() if end else len(head)]


PRETTY = "pretty-printed JSON (values spread over several lines)"
ONE_LINE_ARRAY = "a JSON array on one line"


def _closes_a_value(line: bytes) -> bool:
    """Whether ``line`` is one JSON array or object as far as its brackets show: after white space it opens with
    ``[`` or ``{``, and its brackets outside strings first balance at its last byte. A record written on one line
    is (damaged inside or not); no line of a pretty-printed document is, but an item alone on its line without a
    comma after it."""
    text = line.strip()
    if text[:1] not in (b"[", b"{"):
        return False
    data = np.frombuffer(text, dtype=np.uint8)
    brackets = np.flatnonzero(_OPENERS[data])
    outside = brackets[np.searchsorted(_unescaped_quotes(data), brackets) % 2 == 0]
    balanced = np.flatnonzero(np.cumsum(_OPENERS[data[outside]], dtype=np.int64) == 0)
    return bool(balanced.size) and int(outside[balanced[0]]) == len(text) - 1


def _one_document_reason(path: Path, held: str) -> str:
    """What is wrong with an NDJSON file holding a JSON document (``held``: ``_held_document``), and the fix: its
    suffix as written, and the one to give it (in lower case: suffixes are read in any case)."""
    gz = path.name[-3:] if gzipped(path) else ""
    base = path.name[: len(path.name) - len(gz)]
    return (
        f"this {base[base.rfind('.') :]}{gz} file holds {held}, not one record per line: rename it to .json{gz.lower()}"
    )


def one_document_problem(path: Path, limits: Limits, display: str, handle: Readable | None = None) -> str | None:
    """``_one_document_reason`` for an NDJSON file whose head ``ByteSource`` refuses as a JSON document
    (``_held_document``); None for any other file (read errors are left to the ingest, which reports them).
    ``handle``: the file, opened (``ingest.checked_sha256`` hashes what this reads)."""
    if export_format(path) != "ndjson":
        return None
    source = ByteSource(path, limits, display, handle)
    next(iter(source), None)  # the check runs on the head; the generator is dropped (and the file closed)
    return source.error.reason if isinstance(source.error, NotLineDelimitedError) else None


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _detect_encoding(head: bytes) -> str:
    """The encoding of the file that starts with ``head``: UTF-32 or UTF-16 by their BOM; without one, the first
    of UTF-32LE, UTF-32BE, UTF-16LE and UTF-16BE in which the first two code units of the file's first
    ``ENCODING_SNIFF_BYTES`` are ASCII characters (a JSON text starts with two, as RFC 4627 has it: ``[``, ``{``,
    white space, a quote) and at least ``MIN_ASCII_UNITS`` of them are (a JSON export's quotes, colons and keys
    are, however much non-Latin text its values hold); else UTF-8. A NUL byte in UTF-8 text (a damaged line) only
    looks like UTF-16 at the one code unit it stands in: the file was read as UTF-16 from two bytes, its records
    garbled into one. UTF-32LE is tried before UTF-16LE, which its ASCII also matches for one code unit in two. (A
    share of ASCII units, a quarter, was tried first: a first record of a few hundred CJK characters fell below it,
    and a genuine UTF-16 file was read as UTF-8, found by a review.)"""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if 0 not in head[:ENCODING_SNIFF_BYTES]:
        return "utf-8"
    data = np.frombuffer(head, dtype=np.uint8, count=min(len(head), ENCODING_SNIFF_BYTES))
    for encoding, width, low in _BOMLESS:
        units = data[: data.size // width * width].reshape(-1, width)
        ascii_units = (units[:, low] > 0) & (units[:, low] < 0x80) & (units.sum(axis=1) == units[:, low])
        if (
            ascii_units.size >= 2
            and ascii_units[:2].all()
            and ascii_units.sum() >= min(MIN_ASCII_UNITS, units.shape[0])
        ):
            return encoding
    return "utf-8"


def iter_records(source: ByteSource, fmt: str, limits: Limits) -> Iterator[Batch]:
    """Raw record batches of one file, one batch per chunk read."""
    if fmt == "ndjson":
        return iter_ndjson(source, limits, source.stopped_at_cap)
    return JsonSplitter(limits).split(source, source.stopped_at_cap)


def _never() -> bool:
    return False


def iter_ndjson(chunks: Iterable[bytes], limits: Limits, stopped: Callable[[], bool] = _never) -> Iterator[Batch]:
    """One record per non-blank line; ``\\r\\n`` endings are fine (JSON treats ``\\r`` as white space), and so are
    old Mac ones, ``\\r`` alone (``_cr_lines_as_newlines``). A chunk whose lines are all plain records comes out packed
    (``PackedLines``); otherwise line by line (``RawBatch``). ``stopped``: whether the chunks stopped before the end of
    the file (at the decompression cap), asked once they end: then the line they end in is not read whole, and left
    out (a reading under a larger cap reads it)."""
    cap = limits.max_record_bytes
    carry = b""
    line_no = 1  # line number of the first line in the current buffer
    index = 0
    skipping: tuple[bytes, int] | None = None  # (kept head, line) of an over-long line being skipped
    for chunk in _cr_lines_as_newlines(chunks):
        batch = RawBatch(index)
        if skipping is not None:
            end = chunk.find(b"\n")
            if end < 0:
                continue
            batch.add(skipping[0], skipping[1], _too_long(cap, truncated=True))
            skipping, chunk, line_no = None, chunk[end + 1 :], line_no + 1
        data = carry + chunk if carry else chunk
        end = data.rfind(b"\n") + 1
        newlines = _newlines(data, end)
        if not batch.raws and newlines.size and _plain_lines(data, newlines, cap):
            packed = PackedLines(index, line_no, data, newlines.size)
            carry, line_no, index = data[end:], line_no + packed.size, index + packed.size
            yield packed
        else:
            lines = data[:end].split(b"\n")
            lines.pop()
            carry = data[end:]
            _add_lines(batch, lines, line_no, cap, _padded_lines(data, newlines))
            line_no += len(lines)
            index += len(batch.raws)
            if batch.raws:
                yield batch
        if len(carry) > max(cap, KEEP_OVERSIZED_BYTES):  # over the cap, and its kept start is complete
            skipping, carry = (carry[:KEEP_OVERSIZED_BYTES], line_no), b""
    if stopped():
        return
    tail = RawBatch(index)
    if skipping is not None:
        tail.add(skipping[0], skipping[1], _too_long(cap, truncated=True))
    else:
        _add_lines(tail, [carry], line_no, cap, padded=True)  # one line: the per-line path strips it, caps it
    if tail.raws:
        yield tail


def _cr_lines_as_newlines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks of an NDJSON file, with its line ends made ``\\n`` when they are lone ``\\r`` (old Mac line endings,
    which the ``\\n`` splitter would read as one line; ``_lone_cr_line_ends`` decides on the file's start): then
    ``\\r\\n``, ``\\r`` and ``\\n`` each end a line, as Python's universal newlines and Hadoop's line reader have it.
    Any other file passes untouched (no cost per chunk, and a ``\\r`` inside one of its records stays the JSON white
    space it is). The chunks are held back only until the file's start decides. A ``ByteSource`` has decided on its
    head already, whatever the decompression cap, and made its line ends ``\\n``: it passes untouched."""
    if isinstance(chunks, ByteSource):
        yield from chunks
        return
    rest = iter(chunks)
    head = b""
    cr_lines: bool | None = None
    while cr_lines is None:
        chunk = next(rest, None)
        if chunk is None:
            cr_lines = _lone_cr_line_ends(head, whole=True)
        else:
            head += chunk
            cr_lines = _lone_cr_line_ends(head[:LINE_END_HEAD_BYTES], whole=len(head) >= LINE_END_HEAD_BYTES)
    if not cr_lines:
        if head:
            yield head
        yield from rest
        return
    yield from _lone_crs_as_newlines(_chain(head, rest))


def _lone_crs_as_newlines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks of a file whose lines end in lone ``\\r``, with ``\\r\\n``, ``\\r`` and ``\\n`` each made ``\\n``."""
    held = b""  # a \r that ended the last chunk: whether a \n follows shows in the next one
    for chunk in chunks:
        if held:
            chunk, held = held + chunk, b""
        if chunk.endswith(b"\r"):
            chunk, held = chunk[:-1], b"\r"
        if b"\n" in chunk:  # \r\n is one line end; finding it costs 3x replacing \r, so only where \n is
            chunk = chunk.replace(b"\r\n", b"\n")
        yield chunk.replace(b"\r", b"\n")
    if held:  # the file ends in a \r: the end of its last line
        yield b"\n"


def _as_is(block: bytes, final: bool = False) -> bytes:
    return block


def _without_bom() -> Callable[[bytes, bool], bytes]:
    """``ByteSource._decoder`` for UTF-8 with a BOM: the blocks as they are, but the BOM at the start."""
    skip = len(codecs.BOM_UTF8)

    def decode(block: bytes, final: bool = False) -> bytes:
        nonlocal skip
        if skip:
            block, skip = block[skip:], max(skip - len(block), 0)
        return block

    return decode


def _lone_cr_line_ends(head: bytes, whole: bool) -> bool | None:
    """Whether lone ``\\r`` end the lines of the NDJSON file that starts with ``head``: its first non-blank line ends
    in ``\\r`` (one or more) with no ``\\n`` after them, and either that line is a whole JSON array or object
    (``_closes_a_value``; otherwise the ``\\r`` is white space inside a record) or ``head`` holds no ``\\n`` at all (a
    CR-only file whose first line is damaged, or a pretty-printed document). None while ``head`` is too short to
    tell, unless it is ``whole``: all there is to look at. Blank lines before the first line do not count, and
    ``\\r\\r\\n`` ends a line as ``\\r\\n`` does."""
    start = _LEADING_SPACE.match(head).end()
    end = _FIRST_LINE_END.search(head, start)
    if end is None:
        return False if whole else None
    if end.group().endswith(b"\n"):
        return False
    if end.end() == len(head) and not whole:
        return None
    if _closes_a_value(head[start : end.start()]):
        return True
    if head.find(b"\n", end.end()) >= 0:
        return False
    return True if whole else None


def _add_lines(batch: RawBatch, lines: list[bytes], first_line: int, cap: int, padded: bool) -> None:
    """Append the non-blank lines; the common case (no empty, padded or over-long line) takes no per-line Python.
    ``padded``: whether some line starts or ends with white space (it may be blank). Blank is JSON's white space
    only (space, tab, ``\r``): a line of form feeds or vertical tabs is not JSON, so it is a record, quarantined
    (``bytes.strip`` also strips ``\x0b`` and ``\x0c``, and such lines were dropped without a word)."""
    if lines and not padded and min(map(len, lines)) > 0 and max(map(len, lines)) <= cap:
        batch.raws.extend(lines)
        batch.lines.extend(range(first_line, first_line + len(lines)))
        return
    for offset, line in enumerate(lines):
        if line.strip(_WHITESPACE):
            if len(line) > cap:
                too_long = _too_long(cap, truncated=len(line) > KEEP_OVERSIZED_BYTES)
                batch.add(line[:KEEP_OVERSIZED_BYTES], first_line + offset, too_long)
            else:
                batch.add(line, first_line + offset)


def _newlines(data: bytes, end: int) -> np.ndarray:
    """Positions of the newlines in ``data[:end]``."""
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8, count=end) == 10) if end > 0 else np.empty(0, np.int64)


def _plain_lines(data: bytes, newlines: np.ndarray, cap: int) -> bool:
    """Whether every line ending at ``newlines`` is a plain record: not empty, not padded, not over the cap."""
    lengths = np.diff(newlines, prepend=-1) - 1
    return bool(lengths.min() > 0 and lengths.max() <= cap) and not _padded_lines(data, newlines)


def _padded_lines(data: bytes, newlines: np.ndarray) -> bool:
    """Whether a line ending at one of ``newlines`` starts or ends with white space, found on the bytes around the
    newlines at once. A blank line is such a line; a JSON line is not, unless it is padded (the slow path handles
    both)."""
    if not newlines.size:
        return False
    region = np.frombuffer(data, dtype=np.uint8, count=int(newlines[-1]) + 1)
    starts, ends = np.append(0, newlines[:-1] + 1), newlines - 1
    inside = (starts < newlines) & (ends >= 0)
    return bool(_SPACE[region[starts[inside]]].any() or _SPACE[region[ends[inside]]].any())


def _too_long(cap: int, truncated: bool) -> str:
    """The problem of a record over the cap: quarantined with its first ``KEEP_OVERSIZED_BYTES`` (``truncated``), or
    whole when it is no longer than those (a cap set below them)."""
    kept = TRUNCATED if truncated else "kept whole in quarantine"
    return f"record longer than {cap} bytes (RUNLENS_MAX_RECORD_BYTES); {kept}"


# What bytes.isspace() and bytes.strip() treat as white space: a line starting or ending with one takes the slow
# path, which tells blank lines (JSON white space only) from records.
_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(b" \t\n\r\x0b\x0c")] = True
# Encodings told without a BOM: a code unit's width and the position of an ASCII character's one non-zero byte.
_BOMLESS = (("utf-32-le", 4, 0), ("utf-32-be", 4, 3), ("utf-16-le", 2, 0), ("utf-16-be", 2, 1))
_OPENERS = np.zeros(256, dtype=np.int8)
_OPENERS[[ord("{"), ord("[")]] = 1
_OPENERS[[ord("}"), ord("]")]] = -1
_KEY_BEFORE = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:\s*$')
# The member name before a list is looked for in the last KEY_WINDOW bytes only: searched over a whole object, the
# end-anchored regex is tried from every quote to the end, and a 60 KB string of escaped quotes before the list
# took 14 s (found by a review); wrapper keys are short.
KEY_WINDOW = 512
# A string (and whether a colon follows it: then it is a member name) or a bracket, for ``_member_names``.
_NAME_TOKENS = re.compile(rb'("(?:[^"\\]|\\.)*")[ \t\r\n]*:|"(?:[^"\\]|\\.)*"|[{}\[\]]', re.DOTALL)
_WHITESPACE = b" \t\r\n"  # JSON's white space (no \x0b or \x0c, unlike _SPACE)
_WHITE = np.zeros(256, dtype=bool)
_WHITE[list(_WHITESPACE)] = True
MAX_WHITE_STEPS = 64
_LEADING_SPACE = re.compile(rb"[ \t\n\r\x0b\x0c]*")  # blank lines and a line's indent (bytes.strip's white space)
_FIRST_LINE_END = re.compile(rb"\r+\n?|\n")
_CR_OR_LF = re.compile(rb"[\r\n]")
_LF = re.compile(rb"\n")


class JsonSplitter:
    """Cuts a JSON document into its records: array items, wrapper-list items, or top-level values.

    State carried across chunks: whether the chunk starts inside a string, the nesting depth, and the pieces of the
    value being collected. ``record_depth`` is the depth inside the records list (1 for a top-level array, 2 for a
    list inside a wrapper object) and 0 while reading top-level values.
    """

    def __init__(self, limits: Limits) -> None:
        self.cap = limits.max_record_bytes
        self.in_string = False
        self.depth = 0
        self.record_depth = 0
        self.in_wrapper_rest = False
        self.a_run = False  # the top-level object being collected was judged a run (with list fields), not a wrapper
        self.after_comma = False
        self.collecting = False
        self.seen_value = False
        self.index = 0
        self.line = 1
        self.pieces: list[bytes] = []
        self.size = 0
        self.start_line = 1
        self.tail = b""
        self.junk: list[bytes] = []
        self.junk_line = 1
        self.warnings: list[str] = []
        self.line_end = b"\n"  # what ends a line, for line numbers: \r in a file whose first line ends in \r alone

    # -- collecting one value's bytes across chunks --
    def _begin(self, line: int) -> None:
        self.pieces, self.size, self.start_line, self.collecting = [], 0, line, True
        self.seen_value, self.a_run = True, False

    def _collect(self, piece: bytes) -> None:
        """Keep the value's bytes up to the cap (or up to ``KEEP_OVERSIZED_BYTES`` when the cap is smaller), and
        ``WHITESPACE_SLACK`` more, so an over-long value's first ``KEEP_OVERSIZED_BYTES`` are known wherever the
        chunks were cut, and the white space around a value near the cap can be left out of its size."""
        room = max(self.cap, KEEP_OVERSIZED_BYTES) + WHITESPACE_SLACK - self.size
        if room > 0:
            self.pieces.append(piece[:room])
        self.size += len(piece)

    def _pending(self) -> bytes:
        return b"".join(self.pieces).strip(_WHITESPACE)

    def _over_cap(self) -> bool:
        """Whether the value collected is longer than the cap, the white space around it (a pretty-printed array's
        line ends and indentation) not counted, as a padded NDJSON line's is not."""
        if self.size <= self.cap:
            return False
        kept = b"".join(self.pieces)
        if len(kept) < self.size:  # more than the cap and the slack: over, whatever white space it holds
            return True
        return len(kept.strip(_WHITESPACE)) > self.cap

    def _value_start(self) -> tuple[bytes, int]:
        """The value collected, from its first character, and the line that character is on (collecting begins at
        the comma or bracket before it, so the line ends and indentation in between are counted)."""
        text = b"".join(self.pieces)
        raw = text.lstrip(_WHITESPACE)
        return raw, self.start_line + text[: len(text) - len(raw)].count(self.line_end)

    def _emit(self, batch: RawBatch, problem: str | None = None) -> None:
        raw, line = self._value_start()
        raw = raw.rstrip(_WHITESPACE)
        if self._over_cap():
            problem, raw = _too_long(self.cap, len(raw) > KEEP_OVERSIZED_BYTES), raw[:KEEP_OVERSIZED_BYTES]
        batch.add(raw, line, problem)
        self._drop()

    def _drop(self) -> None:
        self.pieces, self.size, self.collecting = [], 0, False

    def split(self, chunks: Iterable[bytes], stopped: Callable[[], bool] = _never) -> Iterator[RawBatch]:
        """The records of the document ``chunks`` hold. ``stopped``: whether they stopped before the end of the file (at
        the decompression cap), asked once they end: then the value they end in, and any content after the last
        value, is not read whole and left out (a reading under a larger cap reads it)."""
        carry = b""
        for chunk in self._line_end_known(chunks):
            buf = carry + chunk if carry else chunk
            cut = len(buf.rstrip(b"\\"))  # never split a run of backslashes
            buf, carry = buf[:cut], buf[cut:]
            batch = RawBatch(self.index)
            self._scan(buf, batch)
            self.index += len(batch.raws)
            if batch.raws:
                yield batch
        if stopped():
            return
        batch = RawBatch(self.index)
        if carry:
            self._scan(carry, batch)
        self._finish(batch)
        if batch.raws:
            yield batch

    def _line_end_known(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The chunks, the first ones held back (joined) only until they show what ends the file's lines
        (``_json_line_end``), which is then ``line_end``: at once for a file with a line end in its first chunk. A
        ``ByteSource`` has decided on its head before its first chunk, whatever the decompression cap."""
        if isinstance(chunks, ByteSource):
            for chunk in chunks:
                self.line_end = chunks.line_end
                yield chunk
            return
        rest = iter(chunks)
        head = b""
        for chunk in rest:
            head += chunk
            line_end = _json_line_end(head, whole=len(head) >= LINE_END_HEAD_BYTES)
            if line_end is not None:
                break
        else:
            line_end = _json_line_end(head, whole=True)
        self.line_end = line_end or b"\n"
        yield head
        yield from rest

    def _scan(self, buf: bytes, batch: RawBatch) -> None:
        data = np.frombuffer(buf, dtype=np.uint8)
        newlines = np.flatnonzero(data == self.line_end[0])
        positions, deltas = self._structure(data)
        depth_before = self.depth + np.cumsum(deltas, dtype=np.int64) - deltas
        if depth_before.size and (depth_before + deltas).min() < 0:
            depth_before = self._clamped_depths(deltas)
        start, i = 0, 0
        while i < positions.size:
            mode = self.record_depth
            shallow = np.flatnonzero(depth_before[i:] <= max(mode, 1)) + i
            i = positions.size
            if mode:
                events = (positions, deltas, depth_before, newlines)
                start, shallow = self._whole_items(buf, data, batch, events, shallow, start)
            for j in shallow.tolist():
                line = self.line + int(np.searchsorted(newlines, positions[j]))
                start = self._event(buf, batch, int(positions[j]), int(deltas[j]), int(depth_before[j]), start, line)
                if self.record_depth != mode:  # a list opened or closed: what counts as shallow changed
                    i = j + 1
                    break
        if depth_before.size:
            self.depth = max(int(depth_before[-1] + deltas[-1]), 0)
        if self.collecting:
            self._collect(buf[start:])
        else:
            self._gap(buf[start:], self.line + int(np.searchsorted(newlines, start)))
        self.line += newlines.size
        self.tail = (self.tail + buf)[-512:]

    def _whole_items(
        self,
        buf: bytes,
        data: np.ndarray,
        batch: RawBatch,
        events: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        shallow: np.ndarray,
        start: int,
    ) -> tuple[int, np.ndarray]:
        """Inside a records list, cut the items that lie whole between two commas of this chunk with array
        operations, exactly as ``_event`` would one by one: each item is its text between the commas without the
        white space around it, at the line of its first byte. The first comma (which ends the item being collected)
        and everything from the list's closing bracket on still go through ``_event``; a chunk with an empty item
        or one longer than the cap is left to ``_event`` whole. Returns the new start and the events left."""
        positions, deltas, depth_before, newlines = events
        ends = shallow[(depth_before[shallow] == self.record_depth) & (deltas[shallow] <= 0)]
        closers = ends[deltas[ends] < 0]
        commas = positions[ends[: np.searchsorted(ends, closers[0]) if closers.size else ends.size]]
        if commas.size < 3:
            return start, shallow
        seg_start, seg_end = commas[:-1] + 1, commas[1:]
        if int((seg_end - seg_start).max()) > self.cap:
            return start, shallow
        first, last = _skip_white(data, seg_start, seg_end, 1), _skip_white(data, seg_end - 1, seg_start - 1, -1)
        if first is None or last is None or (first > last).any():
            return start, shallow
        line_of = self.line + np.searchsorted(newlines, np.append(first, commas[-1]))
        for j in shallow[: int(np.searchsorted(shallow, ends[0])) + 1].tolist():
            line = self.line + int(np.searchsorted(newlines, positions[j]))
            start = self._event(buf, batch, int(positions[j]), int(deltas[j]), int(depth_before[j]), start, line)
        lo, hi = first.tolist(), (last + 1).tolist()
        batch.raws.extend([buf[a:b] for a, b in zip(lo, hi, strict=True)])
        batch.lines.extend(line_of[:-1].tolist())
        self.after_comma = True
        self._begin(int(line_of[-1]))
        last_comma = np.searchsorted(shallow, np.searchsorted(positions, commas[-1]))
        return int(commas[-1]) + 1, shallow[last_comma + 1 :]

    def _structure(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions and depth changes of the structural characters outside strings."""
        quotes = _unescaped_quotes(data)
        folded = data | 0x20  # { and [ fold to 0x7B, } and ] to 0x7D; no other byte does
        candidates = np.flatnonzero((folded == 0x7B) | (folded == 0x7D) | (data == 44))
        outside = (np.searchsorted(quotes, candidates) + int(self.in_string)) % 2 == 0
        if quotes.size % 2:
            self.in_string = not self.in_string
        positions = candidates[outside]
        return positions, _OPENERS[data[positions]].astype(np.int64)

    def _clamped_depths(self, deltas: np.ndarray) -> np.ndarray:
        """Depths for a malformed chunk with more closers than openers: never below zero."""
        depth, out = self.depth, np.empty_like(deltas)
        for i, delta in enumerate(deltas.tolist()):
            out[i] = depth
            depth = max(depth + delta, 0)
        return out

    def _event(self, buf: bytes, batch: RawBatch, pos: int, delta: int, depth: int, start: int, line: int) -> int:
        """Handle one shallow structural character; returns where the bytes not yet handled begin."""
        if self.record_depth and depth == self.record_depth and delta <= 0:
            self._item_end(buf[start:pos], batch, line, closes_list=delta < 0)
            return pos + 1
        if depth == 0:
            if delta <= 0:  # a comma between top-level values, or a closer with nothing open
                self._gap(buf[start : pos + (delta < 0)], line)
                return pos + 1
            self._gap(buf[start:pos], line)
            self._flush_junk(batch)
            if buf[pos] == ord("["):
                self._open_list(1, line)
                return pos + 1
            self._begin(line)
            return pos
        if depth == 1 and delta < 0 and not self.record_depth:  # a top-level object ends
            self._collect(buf[start : pos + 1])
            if self.in_wrapper_rest:
                self.in_wrapper_rest = False
                self._check_wrapper_rest(line)
                self._drop()
            else:
                self._emit(batch)
            return pos + 1
        wrapper_list = depth == 1 and not self.record_depth and buf[pos] == ord("[")
        if wrapper_list and self._wrapper_key(buf, pos):
            if self.in_wrapper_rest:  # another list of records in the same wrapper: its items are records too
                self._open_list(2, line)
                return pos + 1
            # once judged a run, an object stays one (what made it one is still before its next list): judged
            # again at each list, a broken run with thousands of them cost the square of its size, one note each
            if not self.a_run:
                self.a_run = self._run_keys_before(buf[start:pos], line)
                if not self.a_run:
                    self._open_list(2, line)
                    return pos + 1
        return start

    def _open_list(self, record_depth: int, line: int) -> None:
        self.record_depth, self.after_comma = record_depth, False
        self._begin(line)

    def _item_end(self, text: bytes, batch: RawBatch, line: int, closes_list: bool) -> None:
        self._collect(text)
        if self._pending() or self._over_cap():
            self._emit(batch)
        elif not closes_list or self.after_comma:
            self.warnings.append(f"an empty list item (a stray comma) before line {line}")
        self.after_comma = not closes_list
        if closes_list:
            self.in_wrapper_rest = self.record_depth == 2
            self.record_depth = 0
            self._drop()
            if self.in_wrapper_rest:
                self._begin(line)
        else:
            self._begin(line)

    def _run_keys_before(self, text: bytes, line: int) -> bool:
        """Whether the top-level object collected so far (``pieces`` + ``text``, which ends with a wrapper key and
        its colon) is a run with a list field rather than a wrapper: it has a member that only a run has. When what
        it holds before the list cannot be parsed (not valid JSON or UTF-8), its top-level member names are found by
        a tolerant scan (``_member_names``): with a run-only one it is one record (quarantined as invalid, so
        nothing of the run vanishes and no item of its list is taken for a run); without, it is a wrapper whose
        metadata before the list is not read (said in a note), and its list's items are records, each validated on
        its own. An object longer than the record cap before its list cannot be told: it is one record."""
        head, over_cap = b"".join(self.pieces) + text, self.size + len(text) > self.cap
        members = None if over_cap else _members_of(head, cut=True)
        if members is not None:
            return not RUN_KEYS.isdisjoint(members)
        # Names compared as written: an escaped one ("run\u0049d") is not recognised, and such a run is unwrapped.
        if not over_cap and _RUN_NAMES.isdisjoint(_member_names(head)):
            self.warnings.append(
                f"the object starting at line {self.start_line} has a list under a wrapper key at line {line} and "
                "no member only a run has, but its metadata before the list is not valid JSON (or UTF-8) and was "
                "not read: the object is read as a wrapper, the items of its list as records"
            )
            return False
        self.warnings.append(
            f"the object starting at line {self.start_line} has a list under a wrapper key at line {line}, but "
            "what comes before the list could not be read (not valid JSON, or longer than the record cap): the "
            "object is read as one record, not as a wrapper of records"
        )
        return True

    def _check_wrapper_rest(self, line: int) -> None:
        """The members of a wrapper object after its list(s) of records are not records (metadata such as a page
        token); say so when they look like a run's, so nothing of a run goes unmentioned."""
        rest = b"{" + b"".join(self.pieces).lstrip(_WHITESPACE + b",")
        members = None if self.size > self.cap else _members_of(rest)
        found = sorted(RUN_KEYS.intersection(members or ()))
        if members is None:
            self.warnings.append(
                f"the object ending at line {line} holds a list under a wrapper key, read as its records, and "
                "members after it that could not be read (not valid JSON, or longer than the record cap): they "
                "were not read as a record"
            )
        elif found:
            self.warnings.append(
                f"the object ending at line {line} holds a list under a wrapper key, read as its records, and also "
                f"{', '.join(found)} after it: those members were not read as a record"
            )

    def _wrapper_key(self, buf: bytes, pos: int) -> bool:
        before = (self.tail + buf[:pos])[-KEY_WINDOW:] if pos < KEY_WINDOW else buf[pos - KEY_WINDOW : pos]
        match = _KEY_BEFORE.search(before)
        return bool(match) and match.group(1).decode("utf-8", "replace") in WRAPPER_KEYS

    def _gap(self, text: bytes, line: int) -> None:
        """Bytes between top-level values: white space, or content that is not a JSON container (kept as junk)."""
        if self.junk or text.strip(_WHITESPACE):
            if not self.junk:
                self.junk_line = line
            if sum(map(len, self.junk)) <= self.cap:
                self.junk.append(text)

    def _flush_junk(self, batch: RawBatch) -> None:
        text = b"".join(self.junk)
        self.junk = []
        raw = text.lstrip(_WHITESPACE)
        if raw:
            line = self.junk_line + text[: len(text) - len(raw)].count(self.line_end)
            batch.add(raw.rstrip(_WHITESPACE)[: self.cap], line, "content outside any JSON object or array")

    def _finish(self, batch: RawBatch) -> None:
        if self.collecting and (self.depth > 0 or self.record_depth):
            _, line = self._value_start()
            self.warnings.append(f"the file ends inside a value that started at line {line} (truncated?)")
        if self.collecting and not self.in_wrapper_rest and (self._pending() or self._over_cap()):
            self._emit(batch)
        self._drop()
        self._flush_junk(batch)
        if not self.seen_value and not self.index and not batch.raws:
            self.warnings.append("the file holds no JSON value (it is empty or only white space)")


def _json_line_end(head: bytes, whole: bool) -> bytes | None:
    """What ends the lines of the ``.json`` file that starts with ``head``, for line numbers: ``\\r`` when its first
    line end is ``\\r`` alone (old Mac line endings: one or more, with no ``\\n`` after them, as ``\\r\\r\\n`` has),
    else ``\\n`` (``\\r\\n`` is one line end). None while ``head`` is too short to tell, unless it is ``whole``: all
    there is to look at (then a file with no line end has one line, read as ``\\n``). JSON reads both as white space,
    so they only change the numbers; one search on the file's start."""
    end = _FIRST_LINE_END.search(head)
    if end is None or (end.end() == len(head) and not end.group().endswith(b"\n")):
        return (b"\r" if end else b"\n") if whole else None
    return b"\n" if end.group().endswith(b"\n") else b"\r"


def _members_of(text: bytes, cut: bool = False) -> set[str] | None:
    """The member names of a top-level object, whole (``{...}``) or, when ``cut``, cut short before its next
    member's value (``{"a": 1, "key":``); None when it cannot be told: the text is not valid UTF-8 or not JSON as
    runlens reads it (``NaN`` and ``Infinity`` are not JSON; an integer of more than 4,300 digits is, and is not
    converted)."""
    head = text
    if cut:
        key = _KEY_BEFORE.search(text, max(0, len(text) - KEY_WINDOW))  # the wrapper key _wrapper_key found
        head = (text[: key.start()] if key else text).rstrip(_WHITESPACE)
        if head.endswith(b","):  # the comma before the key; one after the brace alone is a stray one
            head = head[:-1]
            if head.rstrip(_WHITESPACE) == b"{":
                return None
        head += b"}"
    try:
        value = json.loads(head.decode("utf-8"), parse_int=len, parse_float=len, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return None
    return set(value) if isinstance(value, dict) else None


def _member_names(text: bytes) -> set[bytes]:
    """The top-level member names of an object that is not valid JSON (or UTF-8), as written with their quotes: a
    string at depth 1 followed by a colon, found by one scan of strings and brackets that reads nothing else. Raw
    bytes are compared, so a name written with an escape (``"run\\u0049d"``) is not recognised as ``runId``."""
    depth, names = 0, set()
    for token in _NAME_TOKENS.finditer(text):
        first = token.group()[:1]
        if first == b'"':
            if depth == 1 and token.group(1) is not None:
                names.add(token.group(1))
        else:
            depth += 1 if first in b"{[" else -1
    return names


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _skip_white(data: np.ndarray, at: np.ndarray, limit: np.ndarray, step: int) -> np.ndarray | None:
    """From each position in ``at``, step over JSON white space towards ``limit`` (exclusive); the first byte that
    is not white space, or ``limit`` when there is none. None after ``MAX_WHITE_STEPS`` steps (left to the slow
    path: pretty-printed files indent by a few bytes)."""
    pos = at.copy()
    for _ in range(MAX_WHITE_STEPS):
        white = pos != limit
        white[white] = _WHITE[data[pos[white]]]
        if not white.any():
            return pos
        pos[white] += step
    return None


def _unescaped_quotes(data: np.ndarray) -> np.ndarray:
    """Positions of the double quotes that open or close a string (not those escaped by a backslash): a quote is
    escaped when an odd number of backslashes precedes it, counted for all escaped-looking quotes at once."""
    quotes = np.flatnonzero(data == 34)
    escaped = quotes[(quotes > 0) & (data[quotes - 1] == 92)]
    if not escaped.size:
        return quotes
    run = np.ones(escaped.size, dtype=np.int64)  # backslashes right before each quote, counted one step at a time
    going = np.ones(escaped.size, dtype=bool)
    while going.any():
        before = escaped - run - 1
        going &= before >= 0
        going[going] = data[before[going]] == 92
        run += going
    keep = np.ones(quotes.size, dtype=bool)
    keep[np.searchsorted(quotes, escaped[run % 2 == 1])] = False
    return quotes[keep]


# The deepest nesting every parser in the chain handles from any call depth: msgspec stops at Python's recursion
# limit (1000 frames, counting the frames already on the stack: above ~700 levels, records were refused as
# "maximum recursion depth exceeded" depending on the caller), orjson at 1024. RUNLENS_MAX_NESTING_DEPTH above it
# is treated as this.
PARSER_MAX_DEPTH = 512
_ALL_BUT_OPENERS = bytes(b for b in range(256) if b not in b"{[\x00")


class DepthCheck:
    """Finds the raw records nested deeper than a cap (a top-level object is depth 1).

    Depth never exceeds the number of ``{`` and ``[`` bytes in a record, so one pass over a whole batch (join,
    delete every other byte, look for a run of more than ``cap`` openers) clears almost every batch at C speed. Only
    the records it cannot clear get an exact, string-aware count.
    """

    def __init__(self, cap: int) -> None:
        self.cap = min(cap, PARSER_MAX_DEPTH)
        self._openers_run = re.compile(rb"[{\[]{%d}" % (self.cap + 1))

    def too_deep(self, raws: list[bytes]) -> list[int]:
        """Positions in ``raws`` of the records nested deeper than the cap.

        The records are joined on NUL, a byte valid JSON never holds raw: a record that contains one can only have
        its run of openers split (counted lower), and it is quarantined as invalid JSON anyway.
        """
        if not self._openers_run.search(b"\0".join(raws).translate(None, _ALL_BUT_OPENERS)):
            return []
        return [
            i
            for i, raw in enumerate(raws)
            if raw.count(b"{") + raw.count(b"[") > self.cap and nesting_depth(raw) > self.cap
        ]


def nesting_depth(raw: bytes) -> int:
    """How deep containers nest in one JSON text; brackets inside strings do not count."""
    data = np.frombuffer(raw, dtype=np.uint8)
    quotes = _unescaped_quotes(data)
    brackets = np.flatnonzero(_OPENERS[data])
    outside = brackets[np.searchsorted(quotes, brackets) % 2 == 0]
    return int(np.cumsum(_OPENERS[data[outside]], dtype=np.int64).max(initial=0))
