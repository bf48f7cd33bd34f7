"""Streaming readers: every export shape cut into the same records whatever the chunk size (tests/reference.py)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st
from runlens import exports, readers
from runlens.config import Limits, Settings
from runlens.errors import ConfigError, NotLineDelimitedError
from runlens.ingest import POOL_MIN_BYTES, ingest_file
from runlens.readers import Batch, ByteSource, JsonSplitter, export_format, iter_ndjson, iter_records
from runlens.validation import RecordValidator

TRICKY = [
    "a]b",
    "c}d",
    "e,f",
    'q"uote',
    "back\\slash",
    "ends with a backslash\\",
    '\\"',
    '"]},[{',
    "Zürich 数据 😀",
    '"runs": [1, 2]',
    "line\nbreak\ttab",
    "\\\\\\",
]


def tricky_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for i, text in enumerate(TRICKY):
        records.append(
            {
                "runId": f"run_{i}",
                "workflowName": text,
                "status": "failed",
                "error": text * 2,
                "input": {"items": [text, {"runs": [text]}, [[], {}]], "k]": {"}": ","}},
                "createdAt": "2026-03-01T10:00:00Z",
            }
        )
    records.append({"runId": "run_empty", "workflowName": "", "status": "queued", "input": {}, "output": {"a": []}})
    return records


def documents() -> dict[str, str]:
    recs = tricky_records()
    meta = {"note": '"runs": [', "nested": {"data": [1, {"items": ["x"]}]}, "tricky": TRICKY}
    return {
        "compact_array": json.dumps(recs, separators=(",", ":")),
        "pretty_array": json.dumps(recs, indent=2, ensure_ascii=False),
        "pretty_array_escaped": json.dumps(recs, indent=4),
        "wrapper_runs": json.dumps({"meta": meta, "runs": recs, "exportedAt": "2026-03-02T00:00:00Z"}, indent=2),
        "wrapper_data_compact": json.dumps({"data": recs}, separators=(",", ":"), ensure_ascii=False),
        "wrapper_items_after_other_list": json.dumps({"tags": ["a]", "b"], "items": recs, "tail": {"x": [1]}}),
        "single_object": json.dumps(recs[3], indent=2),
        "objects_one_after_another": "\n".join(json.dumps(r, indent=1) for r in recs),
        "empty_array": "[\n]\n",
        # runs whose list fields are named like a wrapper key are runs (a review found them dropped or replaced)
        "runs_with_wrapper_named_lists": "\n".join(
            json.dumps({**r, "items": [], "data": [{"runId": "inner", "workflowName": "w", "status": "failed"}]})
            for r in recs[:3]
        ),
        # every list under a wrapper key of a wrapper object holds records, a repeated key's included
        "wrapper_two_lists": json.dumps({"runs": recs[:2], "data": recs[2:4]})[:-1]
        + ', "runs": '
        + json.dumps(recs[4:])
        + "}",
        # old Mac line ends: the records' lines count them (they were all line 1); CRLF counts once
        "pretty_array_cr": json.dumps(recs, indent=2).replace("\n", "\r"),
        "objects_cr_blank_lines": "\r\r".join(json.dumps(r, indent=1) for r in recs).replace("\n", "\r"),
        "pretty_array_crlf": json.dumps(recs, indent=2).replace("\n", "\r\n"),
        "pretty_array_cr_cr_lf": json.dumps(recs, indent=2).replace("\n", "\r\r\n"),
    }


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def collect(batches: Iterable[Batch]) -> list[tuple[bytes, int, str | None]]:
    out: list[tuple[bytes, int, str | None]] = []
    for packed in batches:
        batch = packed.unpack()
        assert batch.size == packed.size
        assert batch.first_index == len(out), "record indexes must continue across batches"
        out.extend((raw, batch.lines[i], batch.problems.get(i)) for i, raw in enumerate(batch.raws))
    return out


def expected_json(text: str) -> list[tuple[bytes, int, str | None]]:
    return [(item.raw.encode(), item.line, None) for item in ref.split_json(text)]


DOCS = documents()


@pytest.mark.parametrize("name", sorted(DOCS))
@pytest.mark.parametrize("size", [1, 2, 3, 7, 61, 10**9])
def test_json_splitter_matches_reference_for_any_chunk_size(name: str, size: int) -> None:
    text = DOCS[name]
    splitter = JsonSplitter(Limits())
    got = collect(splitter.split(chunked(text.encode(), size)))
    assert got == expected_json(text)
    assert splitter.warnings == []


def test_members_after_a_wrapper_list_that_look_like_a_run_are_reported() -> None:
    """A wrapper-shaped object whose run members come after the list: the list's items are its records, and the run
    members are named in a warning instead of vanishing."""
    text = b'{"items": [{"runId": "a", "workflowName": "w", "status": "queued"}], "runId": "b", "status": "failed"}'
    splitter = JsonSplitter(Limits())
    got = collect(splitter.split([text]))
    assert [json.loads(raw)["runId"] for raw, _, _ in got] == ["a"]
    assert len(splitter.warnings) == 1 and "runId, status" in splitter.warnings[0]


def test_reference_splitter_sees_the_records() -> None:
    """Sanity of the reference itself: wrappers and arrays give the records, a single object gives itself."""
    recs = tricky_records()
    for name in ("compact_array", "wrapper_runs", "wrapper_data_compact", "wrapper_items_after_other_list"):
        assert [json.loads(i.raw) for i in ref.split_json(DOCS[name])] == recs, name
    assert [json.loads(i.raw) for i in ref.split_json(DOCS["single_object"])] == [recs[3]]
    assert ref.split_json(DOCS["empty_array"]) == []


@given(
    records=st.lists(
        st.dictionaries(
            st.text(alphabet='ab"\\[]{},:\n é', max_size=4),
            st.one_of(
                st.text(alphabet='xy"\\[]{},:\n\t/ü', max_size=12),
                st.integers(),
                st.lists(st.text(alphabet='"\\]}', max_size=3), max_size=3),
            ),
            max_size=4,
        ),
        max_size=6,
    ),
    indent=st.sampled_from([None, 0, 2, 70]),
    wrap=st.sampled_from([None, "runs", "data", "items"]),
    size=st.one_of(st.integers(min_value=1, max_value=40), st.sampled_from([150, 400, 10**9])),
    noise=st.text(alphabet='runsdataitems"\\: [{', max_size=12).filter(lambda t: t not in ref.WRAPPER_KEYS),
)
@settings(max_examples=80, deadline=None, database=None)
def test_json_splitter_property(
    records: list[dict[str, Any]], indent: int | None, wrap: str | None, size: int, noise: str
) -> None:
    """Random records (strings full of quotes, backslashes and brackets), random layout, random chunk size; the
    text before the wrapped list also holds look-alikes of a wrapper key."""
    doc: Any = records
    if wrap is not None:
        doc = {"before": ["]", "}"], "note": noise, noise: [noise, {"runs": [1]}], wrap: records, "after": "x"}
    text = json.dumps(doc, indent=indent, ensure_ascii=False)
    assert collect(JsonSplitter(Limits()).split(chunked(text.encode(), size))) == expected_json(text)


@given(
    items=st.lists(
        st.one_of(
            st.sampled_from(['{"a": 1}', '{"b": "x,]}"}', "[1, 2]", '"s"', "7", "", " ", "\n\n", '{"c": "\\\\"}']),
            st.integers(min_value=0, max_value=90).map(lambda n: " " * n + '{"pad": true}' + "\n" * (n % 3)),
        ),
        max_size=12,
    ),
    wrap=st.sampled_from([None, "runs"]),
    cap=st.sampled_from([10, 30, 64 * 2**20]),
    tail=st.sampled_from(["]", "", "] trailing", "]]"]),
)
@settings(max_examples=150, deadline=None, database=None)
def test_json_splitter_output_does_not_depend_on_chunk_size(
    items: list[str], wrap: str | None, cap: int, tail: str
) -> None:
    """Malformed lists too (empty items, stray commas, long white space, items over a small cap, a missing or extra
    bracket): one-byte chunks (every item cut one event at a time) and one whole chunk (items between two commas
    cut with array operations) give the same records, lines, problems and warnings."""
    body = "[" + ",".join(items) + tail
    text = '{"runs": ' + body + "}" if wrap else body

    def split(size: int) -> tuple[list[tuple[bytes, int, str | None]], list[str]]:
        splitter = JsonSplitter(Limits(max_record_bytes=cap))
        return collect(splitter.split(chunked(text.encode(), size))), splitter.warnings

    assert split(10**9) == split(1)


@given(
    lines=st.lists(
        st.sampled_from(['{"a": 1}', "", "   ", '{"b": "' + "x" * 40 + '"}', "[1]\r", "not json"]), max_size=10
    ),
    cap=st.sampled_from([8, 20, 64 * 2**20]),
    newline_at_end=st.booleans(),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
)
@settings(max_examples=100, deadline=None, database=None)
def test_ndjson_output_does_not_depend_on_chunk_size(
    lines: list[str], cap: int, newline_at_end: bool, ending: str
) -> None:
    """Over-long lines (a small cap) are flagged and keep the same start whatever the chunking, the last line too,
    with any line ending."""
    text = ending.join(lines) + (ending if newline_at_end else "")

    def split(size: int) -> list[tuple[bytes, int, str | None]]:
        return collect(iter_ndjson(chunked(text.encode(), size), Limits(max_record_bytes=cap)))

    whole = split(10**9)
    assert whole == split(1) == split(7)
    assert all((problem is not None) == (len(raw) > cap) for raw, _, problem in whole)


NDJSON_TEXT = (
    '{"runId": "run_1", "workflowName": "a]b}c,d", "status": "queued"}\n'
    "\n"
    "   \n"
    '{"runId": "run_2", "workflowName": "q\\"uote\\\\", "status": "running"}\r\n'
    '{"runId": "run_3", "workflowN\n'
    "<html>502 Bad Gateway</html>\n"
    '{"runId": "run_4", "workflowName": "Zürich 数据", "status": "completed"}'
)


@pytest.mark.parametrize("size", [1, 2, 5, 17, 10**9])
def test_ndjson_lines_match_reference_for_any_chunk_size(size: int) -> None:
    got = collect(iter_ndjson(chunked(NDJSON_TEXT.encode(), size), Limits()))
    expected = [(item.raw.encode(), item.line, None) for item in ref.split_ndjson(NDJSON_TEXT)]
    assert got == expected
    assert [line for _, line, _ in got] == [1, 4, 5, 6, 7]


@pytest.mark.parametrize("size", [1, 2, 5, 17, 10**9])
@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n"])
def test_ndjson_lines_ending_in_cr_alone_are_lines(size: int, ending: str) -> None:
    """Old Mac line endings (CR alone) split records as LF and CRLF do, with the same lines, whatever the chunking;
    they used to read as one record ("unexpected content after document")."""
    text = NDJSON_TEXT.replace("\r\n", "\n").replace("\n", ending)
    got = collect(iter_ndjson(chunked(text.encode(), size), Limits()))
    assert got == [(item.raw.encode(), item.line, None) for item in ref.split_ndjson(text)]
    assert [line for _, line, _ in got] == [1, 4, 5, 6, 7]
    records = [item.raw.rstrip("\r").encode() for item in ref.split_ndjson(NDJSON_TEXT)]
    assert [raw.rstrip(b"\r") for raw, _, _ in got] == records


@pytest.mark.parametrize("size", [1, 3, 10**9])
def test_a_cr_inside_a_line_ends_no_line_when_the_first_line_ends_in_lf(size: int) -> None:
    """The first line end decides: in a file whose lines end in LF, a CR alone is the JSON white space it is."""
    text = '{"runId": "run_1"}\r\n{"runId": "run_2",\r"status": "queued"}\n'
    got = collect(iter_ndjson(chunked(text.encode(), size), Limits()))
    assert got == [(b'{"runId": "run_1"}\r', 1, None), (b'{"runId": "run_2",\r"status": "queued"}', 2, None)]


RUN = '{"runId": "run_2", "workflowName": "w", "status": "completed"}'
LINE_END_CASES = {
    # a lone CR after part of the first record is JSON white space: it used to turn CR lines on and cut the records
    "a CR inside the first record": (
        '{"runId": "run_1",\r"workflowName": "w", "status": "completed"}\n' + RUN + "\n",
        [('{"runId": "run_1",\r"workflowName": "w", "status": "completed"}', 1), (RUN, 2)],
    ),
    # blank lines before CR lines used to decide for LF and join the whole file into one line
    "a blank line before CR lines": ("\n" + RUN + "\r" + RUN + "\r", [(RUN, 2), (RUN, 3)]),
    "a CRLF blank line before CR lines": ("\r\n \r" + RUN + "\r" + RUN, [(RUN, 3), (RUN, 4)]),
    # CR CR LF is one line end, as CR LF is (it used to count as two lines)
    "CR CR LF": (RUN + "\r\r\n" + RUN + "\r\r\n", [(RUN + "\r\r", 1), (RUN + "\r\r", 2)]),
    # a CR-only file without any LF: its damaged first line ends at a CR all the same
    "a damaged first line in a CR file": (
        '{"runId": "run_1", "input": {\r' + RUN + "\r",
        [('{"runId": "run_1", "input": {', 1), (RUN, 2)],
    ),
}


@pytest.mark.parametrize("size", [1, 4, 10**9])
@pytest.mark.parametrize("name", sorted(LINE_END_CASES))
def test_lone_crs_end_lines_after_a_whole_first_record(name: str, size: int) -> None:
    """The file's first non-blank line decides: a lone CR ends it when the record before it is whole (or the file has
    no LF at all), whatever the chunking."""
    text, expected = LINE_END_CASES[name]
    got = collect(iter_ndjson(chunked(text.encode(), size), Limits()))
    assert got == [(raw.encode(), line, None) for raw, line in expected]
    assert got == [(item.raw.encode(), item.line, None) for item in ref.split_ndjson(text)]


@pytest.mark.parametrize("size", [4096, 10**9])
def test_lines_after_an_over_long_line_keep_their_numbers(size: int) -> None:
    """A line over the record cap read across many chunks is skipped to its end and flagged at its line; the lines
    after it keep their own numbers, as when the whole text is one chunk (the quarantine names records by line)."""
    long_line = '{"runId": "big", "error": "' + "x" * (readers.KEEP_OVERSIZED_BYTES * 2) + '"}'
    text = RUN + "\n" + long_line + "\n" + RUN + "\n\n" + RUN + "\n"
    got = collect(iter_ndjson(chunked(text.encode(), size), Limits(max_record_bytes=100)))
    assert [(line, problem is not None) for _, line, problem in got] == [(1, False), (2, True), (3, False), (5, False)]
    assert got[1][0] == long_line.encode()[: 64 * 2**10]  # its first 64 KiB are kept (docs/reliability.md)


@pytest.mark.parametrize("over", [0, 1])
def test_an_ndjson_record_one_byte_over_the_record_cap_is_flagged(over: int) -> None:
    """RUNLENS_MAX_RECORD_BYTES: a line of exactly the cap is a record, one byte more is flagged as too long, also
    where the lines of a chunk are checked together by their longest."""
    long_run = RUN[:-1] + " " * over + "}"
    text = RUN + "\n" + long_run + "\n" + RUN + "\n" + RUN + "\n"
    got = collect(iter_ndjson([text.encode()], Limits(max_record_bytes=len(RUN))))
    assert [raw for raw, _, _ in got] == [RUN.encode(), long_run.encode(), RUN.encode(), RUN.encode()]
    assert [problem is not None for _, _, problem in got] == [False, bool(over), False, False]


@pytest.mark.parametrize("over", [0, 1])
def test_a_json_record_of_exactly_the_record_cap_is_not_flagged(over: int) -> None:
    """The same cap in a .json file, in an array, alone or after another item, pretty-printed or not: exactly the cap
    is a record, one byte more is flagged, as in an NDJSON file. The white space around an item is not counted: an
    item of a pretty-printed array was flagged a few bytes (its line end and indentation) under the cap (found by a
    review)."""
    item = RUN[:-1] + " " * over + "}"
    pretty = ("[\n  " + item + "\n]", "[" + item + ",\n" + item + "]", "[\r\n\t" + item + " ,\r\n\t" + item + "\r\n]")
    for text in ("[" + item + "]", item, "[" + item + "," + item + "]", *pretty):
        got = collect(JsonSplitter(Limits(max_record_bytes=len(RUN))).split([text.encode()]))
        assert [raw for raw, _, _ in got] == [item.encode()] * text.count(item), text
        assert all((problem is not None) == bool(over) for _, _, problem in got), text


def test_an_over_long_json_record_keeps_its_start_as_an_ndjson_line_does() -> None:
    """docs/reliability.md: a record over the cap is quarantined with its first 64 KiB, however small the cap, in a
    .json file as for an NDJSON line (not only the cap's bytes), so the quarantine shows enough to find it."""
    big = '{"runId": "big", "error": "' + "y" * 200 + '"}'
    limits = Limits(max_record_bytes=100)  # RUN and the white space before it fit, big does not
    got = collect(JsonSplitter(limits).split([("[" + RUN + ",\n" + big + ",\n" + RUN + "]").encode()]))
    assert [(raw, line, problem is not None) for raw, line, problem in got] == [
        (RUN.encode(), 1, False),
        (big.encode(), 2, True),
        (RUN.encode(), 3, False),
    ]
    [(kept, _, problem)] = collect(iter_ndjson([big.encode() + b"\n"], limits))
    assert (kept, problem) == (big.encode(), got[1][2])


def test_content_outside_any_value_is_kept_up_to_the_record_cap() -> None:
    """Text between a .json file's values that is no JSON container is one quarantined record, cut at the record
    cap, so that a file of garbage costs no more memory than one over-long record."""
    cap, junk = len(RUN), "not json " * 20
    got = collect(JsonSplitter(Limits(max_record_bytes=cap)).split([(RUN + "\n" + junk).encode()]))
    assert got == [
        (RUN.encode(), 1, None),
        (junk.strip()[:cap].encode(), 2, "content outside any JSON object or array"),
    ]


def test_a_wrapper_with_a_stray_comma_before_its_list_is_noted_as_not_read() -> None:
    """`{, "runs": [...]}`: the list's items are the records, and a note says the object's start before the list is
    not valid JSON and was not read, so the wrapper's metadata is not lost without a word."""
    splitter = JsonSplitter(Limits())
    assert collect(splitter.split([('{, "runs": [' + RUN + "]}").encode()])) == [(RUN.encode(), 1, None)]
    assert len(splitter.warnings) == 1
    assert "is not valid JSON (or UTF-8) and was not read" in splitter.warnings[0]


@pytest.mark.parametrize("suffix", [".json", ".json.gz", ".jsonl", ".ndjson.gz"])
def test_byte_source_streams_files_in_small_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """Large files are read in chunks: tiny CHUNK_BYTES give the same records as one read of the whole file."""
    records = tricky_records()
    ndjson = ref.is_ndjson(suffix)
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) if ndjson else DOCS["wrapper_runs"]
    data = text.encode()
    path = tmp_path / f"export{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    fmt = export_format(path)
    assert fmt == ("ndjson" if ndjson else "json")

    whole = collect(iter_records(ByteSource(path, Limits(), path.name), fmt, Limits()))
    monkeypatch.setattr(readers, "CHUNK_BYTES", 7)
    source = ByteSource(path, Limits(), path.name)
    small = collect(iter_records(source, fmt, Limits()))
    assert source.error is None
    assert source.bytes_read == len(data)
    assert small == whole == [(i.raw.encode(), i.line, None) for i in ref.split_file(path)]


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + DOCS["pretty_array"].encode())
    got = collect(iter_records(ByteSource(path, Limits(), path.name), "json", Limits()))
    assert got == [(i.raw.encode(), i.line, None) for i in ref.split_file(path)]
    assert json.loads(got[0][0]) == tricky_records()[0]


@pytest.mark.parametrize("name", ["pretty_array_cr", "objects_cr_blank_lines"])
def test_json_files_with_cr_line_ends_are_numbered_by_their_cr_lines_through_a_byte_source(
    tmp_path: Path, name: str
) -> None:
    """A .json file with old Mac line ends read from disk: the records' lines count its lone CRs, as they do when the
    splitter is given the text (the file's head decides); taken for LF, every record would be line 1."""
    path = tmp_path / f"{name}.json"
    path.write_bytes(DOCS[name].encode())
    got = collect(iter_records(ByteSource(path, Limits(), path.name), "json", Limits()))
    assert got == expected_json(DOCS[name])
    assert len({line for _, line, _ in got}) == len(got) > 1


def test_truncated_gzip_is_reported_not_raised(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(json.dumps(r) for r in tricky_records()) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    source = ByteSource(path, Limits(), path.name)
    list(iter_records(source, "ndjson", Limits()))
    assert source.error is not None
    assert "cut.jsonl.gz" in str(source.error)


NAMES = [
    "a.json",
    "B.JSON",
    "c.jsonl",
    "d.ndjson",
    "e.json.gz",
    "f.jsonl.gz",
    "g.ndjson.GZ",
    "h.txt",
    "i.csv",
    "j.gz",
    "k.json.bak",
    "json",
    "l.parquet",
    "m.jsonl.gz.tmp",
]


@pytest.mark.parametrize("name", NAMES)
def test_export_format(name: str) -> None:
    expected = None if not ref.is_export(name) else ("ndjson" if ref.is_ndjson(name) else "json")
    assert export_format(Path(name)) == expected


def test_discover_reads_exports_and_reports_other_files(data_dir: Path) -> None:
    folder = data_dir / "exports"
    for name in NAMES:
        (folder / name).write_text("[]")
    (folder / "sub").mkdir()
    (folder / "sub" / "z.jsonl").write_text("")
    (folder / ".hidden.json.part").write_text("[")
    found = exports.discover(Settings.from_env(data_dir))
    assert [f.name for f in found.files] == ref.export_names(folder)
    other = {n for n in NAMES if not ref.is_export(n)}
    assert set(found.ignored) == other
    assert not {f.name for f in found.files} & set(found.ignored)


def test_exports_are_discovered_in_the_order_of_their_names(data_dir: Path) -> None:
    """Path order (ingest sequence numbers, the partition range) is the order of the relative names as strings:
    `a-c.json` < `a.json` < `a/b.json`, not folder by folder (which puts `a/b.json` first)."""
    folder = data_dir / "exports"
    (folder / "a").mkdir()
    for name in ("a/b.json", "a-c.json", "a.json"):
        (folder / name).write_text("[]")
    assert [f.name for f in exports.discover(Settings.from_env(data_dir)).files] == ["a-c.json", "a.json", "a/b.json"]


def test_files_inside_hidden_folders_are_neither_read_nor_listed(data_dir: Path) -> None:
    """Hidden folders are skipped whole (an exporter's `.partial/` holds files still being written), not only hidden
    file names."""
    folder = data_dir / "exports"
    (folder / ".partial" / "deep").mkdir(parents=True)
    for name in (".partial/a.json", ".partial/deep/b.jsonl", ".partial/notes.txt", "c.json"):
        (folder / name).write_text("[]")
    found = exports.discover(Settings.from_env(data_dir))
    assert [f.name for f in found.files] == ["c.json"] and found.ignored == []


def test_a_link_to_an_export_file_is_listed_as_ignored_not_read(data_dir: Path, tmp_path: Path) -> None:
    """Links are not followed, to files as to folders: a link to an export elsewhere is listed as ignored."""
    (tmp_path / "elsewhere.json").write_text("[]")
    folder = data_dir / "exports"
    (folder / "linked.json").symlink_to(tmp_path / "elsewhere.json")
    (folder / "real.json").write_text("[]")
    found = exports.discover(Settings.from_env(data_dir))
    assert [f.name for f in found.files] == ["real.json"] and found.ignored == ["linked.json"]


def test_a_folder_that_cannot_be_listed_is_named_not_skipped(
    data_dir: Path, unlistable: set[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Path.rglob` skipped a folder it could not list (`chmod 000`) without a word, and the exports in it (found by a
    review): discovery names it with the reason, and new_exports with the files it cannot read, in path order. Hidden
    folders and the lake are not looked into, so one of them that cannot be listed is not named."""
    folder = data_dir / "exports"
    for name in ("a.json", "locked/b.json", "open/deep/c.json", "open/locked/d.json", ".partial/e.json", "z.jsonl"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("[]")
    (folder / "z.jsonl").write_text("[\n]\n")  # a JSON document in a .jsonl: unreadable once discovered
    settings = Settings.from_env(data_dir)
    unlistable.update(settings.exports_dir / name for name in ("locked", "open/locked", ".partial"))
    found = exports.discover(settings)
    assert [f.name for f in found.files] == ["a.json", "open/deep/c.json", "z.jsonl"] and found.ignored == []
    assert found.unreadable == {"locked/": "Permission denied", "open/locked/": "Permission denied"}
    unreadable = exports.new_exports(settings, found).unreadable
    assert list(unreadable) == ["locked/", "open/locked/", "z.jsonl"]

    monkeypatch.setenv("RUNLENS_EXPORTS_DIR", str(data_dir))  # the data root: its lake is not looked into
    (data_dir / "lake").mkdir()
    settings = Settings.from_env(data_dir)
    unlistable.add(settings.lake_dir)
    assert list(exports.discover(settings).unreadable) == ["exports/locked/", "exports/open/locked/"]


def test_an_exports_folder_that_cannot_be_listed_is_a_config_error(data_dir: Path, unlistable: set[Path]) -> None:
    """Like an exports folder that is a file: what to fix, not a run that finds no export."""
    settings = Settings.from_env(data_dir)
    unlistable.add(settings.exports_dir)
    with pytest.raises(ConfigError, match=r"exports folder .* cannot be listed \(Permission denied\)"):
        exports.discover(settings)


def test_of_several_files_with_the_same_bytes_only_the_first_is_new(data_dir: Path) -> None:
    """README: of several files with the same bytes the first (path order) is new, so one batch does not ingest the
    same content twice; a file of other bytes is new too."""
    folder = data_dir / "exports"
    for name, body in (("b.jsonl", RUN), ("a.jsonl", RUN), ("c.jsonl", RUN.replace("run_2", "run_3"))):
        (folder / name).write_text(body + "\n")
    settings = Settings.from_env(data_dir)
    new = exports.new_exports(settings, exports.discover(settings))
    assert [f.name for f in new.files] == ["a.jsonl", "c.jsonl"] and new.unreadable == {}


def test_decoded_size_hint_reads_the_gzip_trailer(tmp_path: Path) -> None:
    payload = b'{"runId": "run_1"}\n' * 5000
    packed = tmp_path / "runs.jsonl.gz"
    packed.write_bytes(gzip.compress(payload))
    plain = tmp_path / "runs.jsonl"
    plain.write_bytes(payload)
    assert packed.stat().st_size < len(payload)
    assert readers.decoded_size_hint(packed) == len(payload) == readers.decoded_size_hint(plain)


def test_the_size_hint_of_a_cut_off_gzip_file_is_not_its_last_bytes(tmp_path: Path) -> None:
    """A cut-off gzip file ends in compressed data, not the size trailer: its last 4 bytes read as up to 4 GiB
    started a pool of ingest workers for a few KB. A genuine file, even of zeros (deflate's largest ratio), keeps its
    exact size."""
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(b'{"runId": "run_1"}\n' * 200)[:-9] + b"\xff\xff\xff\xf0")
    assert readers.decoded_size_hint(cut) <= cut.stat().st_size * 1032 < POOL_MIN_BYTES
    zeros = tmp_path / "zeros.jsonl.gz"
    zeros.write_bytes(gzip.compress(b"\0" * 20_000_000, compresslevel=9))
    assert readers.decoded_size_hint(zeros) == 20_000_000


ONE_DOCUMENT = {
    "pretty_array": DOCS["pretty_array"],
    "wrapper_runs": DOCS["wrapper_runs"],
    "single_object": DOCS["single_object"],
    "array_one_record_per_line": "[\n" + ",\n".join(json.dumps(r) for r in tricky_records()) + "\n]\n",
    "array_and_object_on_the_first_line": "[ {\n" + DOCS["pretty_array_escaped"][7:],
    "wrapper_key_on_the_first_line": '\n\n  {"runs": [\r\n' + DOCS["pretty_array"][1:] + "}",
    "cr_line_ends": DOCS["pretty_array"].replace("\n", "\r"),
}
ARRAY_LINE = json.dumps(list(tricky_records()))
# The array that a .jsonl holding a JSON array on one line was read as: one record, quarantined with a message that
# repeated the whole array, and without the rename hint the pretty-printed case gets.
ONE_LINE_ARRAY = {
    "one_line_array": ARRAY_LINE + "\n",
    "one_line_array_without_a_line_end": "\n \n" + ARRAY_LINE,
    "arrays_on_their_lines": ARRAY_LINE + "\r\n" + ARRAY_LINE + "\r\n",
    "one_line_arrays_cr_line_ends": ARRAY_LINE + "\r" + ARRAY_LINE + "\r",
    "one_line_array_then_a_fragment": ARRAY_LINE + '\n  "runId": 1\n',
}
NOT_ONE_DOCUMENT = {
    "records": "\n".join(json.dumps(r) for r in tricky_records()),
    "a cut first record": NDJSON_TEXT.split("\n", 4)[-1],
    "an opener inside a string": '{"runId": "run_1", "error": "ends with \\" {\n{"runId": "run_2"}\n',
    # a first line cut by a raw newline in a string after a `{`: the opener is inside the string, and the next line
    # (the string's end) is no whole value; it is not a pretty-printed document
    "an opener in a string cut by a raw newline": '{"runId": "run_1", "error": "see {\nmore"}\n' + RUN + "\n",
    "one line only": "[",
    # a damaged first line ending in an opener, then whole records: they used to be refused as one document
    "a first record cut after an opener": '{"runId": "run_1", "status": "completed", "input": {\n' + RUN + "\n" + RUN,
    "a stray [ first": "[\n" + RUN + "\n" + RUN + "\n",
    "a stray { first": "\n{\r\n" + RUN + "\r\n",
    "a CR after an opener in the first record": '{"runId": "run_1", "input": {\r"a": 1}}\n' + RUN + "\n",
    "a stray array before records": "[1, 2]\n" + RUN + "\n" + RUN,
    "an array that is not whole": "[1, 2] x\n" + RUN,
}


@pytest.mark.parametrize("suffix", [".jsonl", ".NDJSON.gz", ".Jsonl.GZ"])
@pytest.mark.parametrize("name", sorted(ONE_DOCUMENT | ONE_LINE_ARRAY))
def test_an_ndjson_file_holding_one_document_is_refused_whole(tmp_path: Path, name: str, suffix: str) -> None:
    """Read line by line, each line of a pretty-printed document used to be quarantined with a parse error that did
    not say why; the file is refused before any record, with what is wrong and the fix. So is a JSON array on one
    line (a record is an object), which was one record whose message repeated the array. Suffixes are read in any
    case, and the fix names the one to give in lower case (it said `rename it to .json.GZ`)."""
    data = (ONE_DOCUMENT | ONE_LINE_ARRAY)[name].encode()
    path = tmp_path / f"export{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.lower().endswith(".gz") else data)
    source = ByteSource(path, Limits(), "shown/name")
    assert collect(iter_records(source, "ndjson", Limits())) == []
    gz = ".gz" if suffix.lower().endswith(".gz") else ""
    held = (
        "a JSON array on one line"
        if name in ONE_LINE_ARRAY
        else "pretty-printed JSON (values spread over several lines)"
    )
    reason = f"this {suffix} file holds {held}, not one record per line: rename it to .json{gz}"
    assert isinstance(source.error, NotLineDelimitedError)
    assert str(source.error) == f"shown/name: {reason}"
    assert readers.one_document_problem(path, Limits(), "shown/name") == reason
    as_json = path.with_name(f"export.json{gz}")
    path.rename(as_json)
    assert readers.one_document_problem(as_json, Limits(), "shown/name") is None
    assert collect(iter_records(ByteSource(as_json, Limits(), as_json.name), "json", Limits()))


@pytest.mark.parametrize("name", sorted(NOT_ONE_DOCUMENT))
def test_an_ndjson_file_of_records_is_not_taken_for_one_document(tmp_path: Path, name: str) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(NOT_ONE_DOCUMENT[name])
    source = ByteSource(path, Limits(), path.name)
    assert collect(iter_records(source, "ndjson", Limits())) == [
        (item.raw.encode(), item.line, None) for item in ref.split_file(path)
    ]
    assert source.error is None
    assert readers.one_document_problem(path, Limits(), path.name) is None


def capped_rec(i: int) -> str:
    return json.dumps({"runId": f"run_m{i}", "workflowName": "wf", "status": "completed", "input": {"i": "x" * i}})


RECS = [capped_rec(i) for i in range(10)]
# Line-end styles whose split a head cut by the decompression cap used to decide otherwise (a damaged first line ending
# in a lone CR followed by a CRLF beyond the cap read as CR lines under the cap, as one long line without it).
CAP_STYLES = {
    "lf": "\n".join(RECS) + "\n",
    "crlf": "\r\n".join(RECS),
    "cr": "\r".join(RECS) + "\r",
    "damaged first line, CR then LF": '{"runId": "broken\r' + "\r".join(RECS[:6]) + "\r\n" + "\n".join(RECS[6:]) + "\n",
    "damaged first line, CR only": '{"runId": "broken\r' + "\r".join(RECS),
    "mixed": "\n".join(RECS[:3]) + "\r" + "\r\n".join(RECS[3:6]) + "\r" + "\r".join(RECS[6:]),
    "pretty json, CR": json.dumps([json.loads(r) for r in RECS], indent=1).replace("\n", "\r"),
    "pretty json, LF": json.dumps({"runs": [json.loads(r) for r in RECS]}, indent=1),
}


def read_on_under(path: Path, caps: list[int]) -> list[tuple[int, bytes, int, str | None]]:
    """The records of ``path`` read as runlens reads a file over several ingests: under each cap in turn from the
    first record not read yet (``ingest.export_identity``), until a reading is not stopped by its cap."""
    fmt = export_format(path)
    assert fmt is not None
    got: list[tuple[int, bytes, int, str | None]] = []
    for cap in [*caps, Limits().max_decompressed_bytes]:
        limits = Limits(max_decompressed_bytes=cap)
        source = ByteSource(path, limits, path.name)
        for packed in readers.records_from(iter_records(source, fmt, limits), len(got)):
            batch = packed.unpack()
            assert batch.first_index == len(got)
            got.extend((len(got), raw, batch.lines[i], batch.problems.get(i)) for i, raw in enumerate(batch.raws))
        if not source.stopped_at_cap():
            return got
    raise AssertionError("the reading under the default cap stopped at it")


@pytest.mark.parametrize("blocks", [(readers.CHUNK_BYTES, readers.LINE_END_HEAD_BYTES), (16, 100), (7, 2000)])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("style", sorted(CAP_STYLES))
@given(data=st.data())
@settings(max_examples=8, deadline=None, database=None)
def test_readings_under_raising_caps_read_every_record_of_one_uncapped_reading_once(
    tmp_path_factory: pytest.TempPathFactory,
    style: str,
    gz: bool,
    encoding: str,
    blocks: tuple[int, int],
    data: st.DataObject,
) -> None:
    """Every decision on how a file is split (encoding, line ends, a held document) is taken on its head whatever
    the decompression cap, so readings under raising caps, each reading on from the first record the ones before did
    not read, give exactly the records of one uncapped reading: same raw text, index and line, each once. Different
    caps used to split a file differently, and records were lost between the readings."""
    text = CAP_STYLES[style].encode(encoding)
    suffix = (".json" if style.startswith("pretty json") else ".jsonl") + (".gz" if gz else "")
    path = tmp_path_factory.mktemp("capped") / f"export{suffix}"
    path.write_bytes(gzip.compress(text, mtime=0) if gz else text)
    caps = sorted(data.draw(st.sets(st.integers(1, len(text)), max_size=5)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(readers, "CHUNK_BYTES", blocks[0])
        patch.setattr(readers, "LINE_END_HEAD_BYTES", blocks[1])
        assert read_on_under(path, caps) == read_on_under(path, [])


@pytest.mark.parametrize("past_the_head", [False, True])
@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_a_file_exactly_as_long_as_the_decompression_cap_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, past_the_head: bool
) -> None:
    """README: reading stops *past* RUNLENS_MAX_DECOMPRESSED_BYTES; a file of exactly the cap is read whole, not
    reported partly read with its last record left out, whether the cap falls in the head or after it."""
    recs = tricky_records()
    text = "".join(json.dumps(r) + "\n" for r in recs) if suffix == ".jsonl" else json.dumps(recs)
    data = text.encode()
    path = tmp_path / f"exact{suffix}"
    path.write_bytes(data)
    if past_the_head:
        monkeypatch.setattr(readers, "CHUNK_BYTES", 7)
        monkeypatch.setattr(readers, "LINE_END_HEAD_BYTES", 64)
    limits = Limits(max_decompressed_bytes=len(data))
    source = ByteSource(path, limits, path.name)
    got = collect(iter_records(source, "ndjson" if suffix == ".jsonl" else "json", limits))
    assert source.error is None and not source.stopped_at_cap()
    assert [json.loads(raw) for raw, _, problem in got if problem is None] == recs


@pytest.mark.parametrize("prefix", [b"\n\0\n", b"\0\n", b"\0\0\n", b"{\0\n", b"\n\0\0\0\n", b"\n\0\n\0\n"])
def test_stray_nuls_at_the_start_of_a_utf8_file_do_not_make_it_utf16_or_utf32(prefix: bytes) -> None:
    """NUL bytes in damaged UTF-8 lines at the file's start used to make it UTF-16 from its first two bytes."""
    body = "\n".join(json.dumps({"runId": f"run_{i}", "workflowName": "w", "status": "queued"}) for i in range(3))
    assert readers._detect_encoding(prefix + body.encode()) == "utf-8"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_bomless_utf16_and_utf32_are_told_apart_with_non_ascii_text_early(encoding: str) -> None:
    records = [{"runId": "r", "workflowName": "数据" * 60, "status": "queued"}]
    assert readers._detect_encoding(json.dumps(records, ensure_ascii=False).encode(encoding)) == encoding


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("first", ["error", "workflowName"])
def test_bomless_utf16_and_utf32_are_read_when_non_latin_text_fills_the_first_kib(encoding: str, first: str) -> None:
    """A first record whose values hold hundreds of CJK characters: under a rule that a quarter of the first KiB's
    code units be ASCII, such a genuine UTF-16 file was read as UTF-8 and every record quarantined (found by a
    review); its quotes, colons and key names are ASCII all the same."""
    message = "数据库连接失败\uff0c请稍后重试\u3002" * 40  # with a full-width comma and full stop
    record = {first: message, "runId": "run_1", "workflowName": "工作流", "status": "failed"}
    text = json.dumps(record, ensure_ascii=False) + "\n"
    assert readers._detect_encoding(text.encode(encoding)) == encoding


def test_a_bomless_utf16_file_with_exactly_four_ascii_units_in_its_first_kib_is_utf16(tmp_path: Path) -> None:
    """docs/reliability.md: a BOM-less file is UTF-16 when its first two code units are ASCII and at least four of its
    first 1 KiB are: exactly four (`[ {"` before 500 CJK characters) is enough, or its records are garbled."""
    record = {"数据" * 300: 1}
    text = "[ " + json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "]"
    assert sum(ch.isascii() for ch in text[:512]) == 4  # 512 UTF-16 code units: the first 1 KiB
    path = tmp_path / "cjk.json"
    path.write_bytes(text.encode("utf-16-le"))
    got = collect(iter_records(ByteSource(path, Limits(), path.name), "json", Limits()))
    assert [json.loads(raw) for raw, _, _ in got] == [record]


@pytest.mark.parametrize("size", [1, 2, 5, 10**9])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_ndjson_lines_of_form_feeds_or_vertical_tabs_are_records_not_blank(size: int, ending: str) -> None:
    """JSON's white space is space, tab, \\r and \\n: a line of form feeds or vertical tabs is not blank but a record
    (which the ingest quarantines as invalid JSON); such lines were dropped without a word, the last line too."""
    rec = '{"runId": "r", "workflowName": "w", "status": "queued"}'
    lines = [rec, "\x0c", "\x0b \x0b", " \t", "", rec, " \x0c ", "\x0b"]
    text = ending.join(lines)
    got = collect(iter_ndjson(chunked(text.encode(), size), Limits()))
    cr = b"\r" if ending == "\r\n" else b""  # a line keeps the \\r of its CRLF (JSON white space)
    assert got == [
        (rec.encode() + cr, 1, None),
        (b"\x0c" + cr, 2, None),
        (b"\x0b \x0b" + cr, 3, None),
        (rec.encode() + cr, 6, None),
        (b" \x0c " + cr, 7, None),
        (b"\x0b", 8, None),
    ]


# -- behaviours a mutation audit of readers.py found unpinned --

KEEP = readers.KEEP_OVERSIZED_BYTES


def too_long(cap: int, whole: bool) -> str:
    """The problem of a record over the record cap, as docs/reliability.md words it."""
    kept = "kept whole in quarantine" if whole else f"only its first {KEEP} bytes are kept"
    return f"record longer than {cap} bytes (RUNLENS_MAX_RECORD_BYTES); {kept}"


def test_a_reading_on_from_an_over_long_record_keeps_it_flagged(tmp_path: Path) -> None:
    """A reading stopped by RUNLENS_MAX_DECOMPRESSED_BYTES inside a line over RUNLENS_MAX_RECORD_BYTES, then read on
    under a larger cap from that line (``records_from``): the line is still flagged too long, and so is a later one,
    each at its own index, as in one uncapped reading; a record handed on unflagged is quarantined for another
    reason, or its problem lands on another record."""
    big = capped_rec(300)
    lines = [*RECS[:5], big, *RECS[5:7], big.replace("run_m300", "run_m301"), *RECS[7:]]
    path = tmp_path / "export.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    first = Limits(max_record_bytes=200, max_decompressed_bytes=sum(len(line) + 1 for line in lines[:5]) + 10)
    source = ByteSource(path, first, path.name)
    assert [raw for raw, _, _ in collect(iter_records(source, "ndjson", first))] == [r.encode() for r in RECS[:5]]
    assert source.stopped_at_cap()
    more = Limits(max_record_bytes=200)
    rest: list[tuple[int, bytes, int, str | None]] = []
    for packed in readers.records_from(iter_records(ByteSource(path, more, path.name), "ndjson", more), 5):
        batch = packed.unpack()
        rest.extend(
            (batch.first_index + i, raw, batch.lines[i], batch.problems.get(i)) for i, raw in enumerate(batch.raws)
        )
    whole = [
        (i, line.encode(), i + 1, too_long(200, whole=True) if len(line) > 200 else None)
        for i, line in enumerate(lines)
    ]
    assert rest == whole[5:]
    assert [problem is not None for *_, problem in rest] == [True, False, False, True, False, False, False]


@pytest.mark.parametrize("past_the_head", [False, True])
def test_a_utf16_file_cut_inside_its_last_code_unit_is_reported_after_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, past_the_head: bool
) -> None:
    """A UTF-16 file whose last code unit is cut in half (an odd byte at its end) is not read whole: its records are
    read and the reading fails as not valid UTF-16, whether the file ends in its head or after it. The decoder only
    says so when told the file has ended; the byte vanished without a word otherwise."""
    data = "".join(r + "\n" for r in RECS).encode("utf-16") + b"{"
    path = tmp_path / "cut.jsonl"
    path.write_bytes(data)
    if past_the_head:
        monkeypatch.setattr(readers, "CHUNK_BYTES", 7)
        monkeypatch.setattr(readers, "LINE_END_HEAD_BYTES", 64)
    source = ByteSource(path, Limits(), path.name)
    assert [raw for raw, _, _ in collect(iter_records(source, "ndjson", Limits()))] == [r.encode() for r in RECS]
    assert not source.stopped_at_cap()
    assert str(source.error) == f"cut.jsonl at byte {len(data)}: not valid utf-16: truncated data"


def test_broken_compressed_data_is_reported_after_the_records_before_it(tmp_path: Path) -> None:
    """A gzip file whose compressed data breaks (here a second member of garbage) keeps the records decompressed
    before the break and is reported with zlib's reason; zlib's error escaped the reader (it is no BadGzipFile)."""
    body = "".join(r + "\n" for r in RECS).encode()
    good = gzip.compress(body, mtime=0)
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(good + good[:10] + b"\xff" * 20)
    source = ByteSource(path, Limits(), path.name)
    assert [raw for raw, _, _ in collect(iter_records(source, "ndjson", Limits()))] == [r.encode() for r in RECS]
    reason = "not a readable gzip stream (Error -3 while decompressing data: invalid block type)"
    assert str(source.error) == f"broken.jsonl.gz at byte {len(body)}: {reason}"


def test_a_gz_file_that_is_not_gzip_is_reported_with_the_reason(tmp_path: Path) -> None:
    """A plain NDJSON file named .gz gives no record and says why: not a gzip file, with what it starts with."""
    path = tmp_path / "plain.jsonl.gz"
    path.write_bytes((RUN + "\n").encode())
    source = ByteSource(path, Limits(), path.name)
    assert collect(iter_records(source, "ndjson", Limits())) == []
    assert str(source.error) == "plain.jsonl.gz at byte 0: not a readable gzip stream (Not a gzipped file (b'{\"'))"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_a_bomless_utf16_or_utf32_file_shorter_than_four_code_units_is_read_in_its_encoding(
    tmp_path: Path, encoding: str
) -> None:
    """An export of `[]` or `{}` is two code units: all of them ASCII is enough (four are asked of a longer head).
    Read as UTF-8, `[]` in UTF-16 gave a record of a NUL byte, quarantined, for an empty export."""
    for text, records in (("[]", []), ("{}", [b"{}"]), (" []", [])):
        path = tmp_path / "short.json"
        path.write_bytes(text.encode(encoding))
        splitter_source = ByteSource(path, Limits(), path.name)
        assert readers._detect_encoding(text.encode(encoding)) == encoding
        assert [raw for raw, _, _ in collect(iter_records(splitter_source, "json", Limits()))] == records, text
        assert splitter_source.error is None


@pytest.mark.parametrize("cut", [False, True])
def test_a_record_of_exactly_the_kept_start_over_a_smaller_cap_is_kept_whole(cut: bool) -> None:
    """docs/reliability.md: a record over the cap is kept with its first 64 KiB; one of exactly 64 KiB is kept whole,
    and its message says so (not "only its first 65536 bytes are kept"), in NDJSON and JSON alike, also when a chunk
    ends right after it and its line end comes in the next (``cut``). One byte more is cut to 64 KiB."""
    big = '{"runId": "big", "error": "' + "x" * (KEEP - 29) + '"}'
    assert len(big) == KEEP
    longer = big[:-2] + 'y"}'

    def chunks(*parts: str) -> list[bytes]:
        return [part.encode() for part in parts] if cut else ["".join(parts).encode()]

    limits = Limits(max_record_bytes=100)
    got = collect(iter_ndjson(chunks(RUN + "\n", big, "\n" + RUN + "\n", longer, "\n"), limits))
    assert got == [
        (RUN.encode(), 1, None),
        (big.encode(), 2, too_long(100, whole=True)),
        (RUN.encode(), 3, None),
        (longer.encode()[:KEEP], 4, too_long(100, whole=False)),
    ]
    got = collect(JsonSplitter(limits).split(chunks("[" + RUN + ",\n", big, ",\n" + RUN + ",\n", longer, "]")))
    assert got == [
        (RUN.encode(), 1, None),
        (big.encode(), 2, too_long(100, whole=True)),
        (RUN.encode(), 3, None),
        (longer.encode()[:KEEP], 4, too_long(100, whole=False)),
    ]


@pytest.mark.parametrize("last", ["   ", "\t", " \r ", "\r"])
@pytest.mark.parametrize("size", [1, 10**9])
def test_a_blank_last_line_without_a_line_end_is_no_record(last: str, size: int) -> None:
    """A file ending in a line of JSON white space with no line end after it has no record there (it was one, read
    as invalid JSON and quarantined), as a blank line anywhere else."""
    text = RUN + "\n" + RUN + "\n" + last
    got = collect(iter_ndjson(chunked(text.encode(), size), Limits()))
    assert got == [(RUN.encode(), 1, None), (RUN.encode(), 2, None)]


@pytest.mark.parametrize("over", [0, 1])
def test_a_pretty_printed_item_of_exactly_a_record_cap_above_64_kib_is_not_flagged(over: int) -> None:
    """The white space around an item does not count toward RUNLENS_MAX_RECORD_BYTES, also with a cap above the 64 KiB
    kept of an over-long record: an item of exactly the cap in a pretty-printed array is a record, one byte more is
    flagged and cut to its first 64 KiB."""
    cap = KEEP + 1000
    item = '{"runId": "r", "error": "' + "x" * (cap - 27) + '"}'
    assert len(item) == cap
    item = item[:-1] + " " * over + "}"
    text = "[\n    " + item + ",\n    " + item + "\n]\n"
    got = collect(JsonSplitter(Limits(max_record_bytes=cap)).split([text.encode()]))
    if over:
        assert got == [(item.encode()[:KEEP], line, too_long(cap, whole=False)) for line in (2, 3)]
    else:
        assert got == [(item.encode(), 2, None), (item.encode(), 3, None)]


@pytest.mark.parametrize("stray", ["]", "}", "]]"])
@pytest.mark.parametrize("size", [1, 10**9])
def test_a_stray_closing_bracket_after_a_json_document_is_quarantined_not_dropped(stray: str, size: int) -> None:
    """Nothing is dropped (module docstring): a closing bracket after the end of the document is content outside any
    JSON value, one record with that reason, not a byte skipped without a word."""
    text = "[" + RUN + "]" + stray + "\n"
    splitter = JsonSplitter(Limits())
    got = collect(splitter.split(chunked(text.encode(), size)))
    assert got == [(RUN.encode(), 1, None), (stray.encode(), 1, "content outside any JSON object or array")]


@pytest.mark.parametrize(
    ("text", "kept", "line"),
    [
        ('{"runId": "run_1", "status": ', '{"runId": "run_1", "status":', 1),
        (RUN + '\n{"runId": "run_3", "input": {"a": [1]}, ', '{"runId": "run_3", "input": {"a": [1]},', 2),
        ("[\n" + RUN + ', {"runId": "run_3"', '{"runId": "run_3"', 2),
    ],
)
def test_a_json_file_cut_inside_a_value_is_noted_as_truncated(text: str, kept: str, line: int) -> None:
    """A .json file that ends inside a value (a top-level object, or an array) keeps what it holds of the value as a
    record, and a note says the file ends inside the value that started at its line, so that a cut-off export is not
    taken for a whole one."""
    splitter = JsonSplitter(Limits())
    got = collect(splitter.split([text.encode()]))
    assert got[-1] == (kept.encode(), line, None)
    assert splitter.warnings == [f"the file ends inside a value that started at line {line} (truncated?)"]


def test_a_json_file_of_text_only_is_one_record_and_not_said_to_be_empty() -> None:
    """A .json file holding no JSON value but text is one quarantined record; the note for a file that is empty or
    only white space is not given, since it is neither."""
    splitter = JsonSplitter(Limits())
    assert collect(splitter.split([b"  not json at all\n"])) == [
        (b"not json at all", 1, "content outside any JSON object or array")
    ]
    assert splitter.warnings == []
    empty = JsonSplitter(Limits())
    assert collect(empty.split([b" \n "])) == []
    assert empty.warnings == ["the file holds no JSON value (it is empty or only white space)"]


def test_an_object_longer_than_the_record_cap_before_a_wrapper_key_list_is_one_record() -> None:
    """What comes before the list of an object longer than RUNLENS_MAX_RECORD_BYTES cannot be told a wrapper's
    metadata or a run's members: the object is one record (flagged too long), with a note, never unwrapped into its
    list's items."""
    text = '{"meta": "' + "x" * 200 + '", "runs": [' + RUN + ", " + RUN + "]}"
    splitter = JsonSplitter(Limits(max_record_bytes=100))
    assert collect(splitter.split([text.encode()])) == [(text.encode(), 1, too_long(100, whole=True))]
    assert len(splitter.warnings) == 1
    assert "longer than the record cap): the object is read as one record" in splitter.warnings[0]


def test_members_after_a_wrapper_list_longer_than_the_record_cap_are_noted_as_not_read() -> None:
    """A wrapper's members after its list that are longer than RUNLENS_MAX_RECORD_BYTES are not read; a note says so,
    as for members that are not valid JSON (they might hold a run)."""
    text = '{"runs": [' + RUN + '], "meta": "' + "x" * 200 + '"}'
    splitter = JsonSplitter(Limits(max_record_bytes=100))
    assert collect(splitter.split([text.encode()])) == [(RUN.encode(), 1, None)]
    assert len(splitter.warnings) == 1
    assert "members after it that could not be read (not valid JSON, or longer" in splitter.warnings[0]


@pytest.mark.parametrize("key", ["runs", "data", "items", "results", "records", "workflowRuns", "executions"])
def test_every_documented_wrapper_key_holds_records(key: str) -> None:
    """docs/architecture.md: the list under any of the seven wrapper keys of an object without a run's members is read
    as records (the reference reader knows only three of them)."""
    recs = tricky_records()[:3]
    text = json.dumps({"exportedAt": "2026-03-02T00:00:00Z", key: recs, "next": None}, indent=2)
    splitter = JsonSplitter(Limits())
    assert [json.loads(raw) for raw, _, _ in collect(splitter.split([text.encode()]))] == recs
    assert splitter.warnings == []
    other = text.replace(f'"{key}"', '"runList"')
    assert [json.loads(raw) for raw, _, _ in collect(JsonSplitter(Limits()).split([other.encode()]))] == [
        json.loads(other)
    ]


@pytest.mark.parametrize("chunk_bytes", [7, 48, 64])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_line_ends_are_told_from_the_first_head_bytes_whatever_the_blocks_and_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int, encoding: str
) -> None:
    """How a file is split is decided on its first LINE_END_HEAD_BYTES decoded, not on however many the blocks read
    for the head decoded to (which varies with the block size and the encoding): a .jsonl whose lines end in lone CR
    and whose first line runs past the head has, by that rule, no line end in its head, and is one line, the same
    one in UTF-8 and UTF-16 whatever the block size."""
    monkeypatch.setattr(readers, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(readers, "LINE_END_HEAD_BYTES", 64)
    first = '{"runId": "run_1", "workflowName": "w", "status": "queued", "input": {"pad": "xxxx"}}'
    assert 72 < len(first) < 96  # past the head, within a second block of 48 bytes (a third one of UTF-16)
    text = first + "\r" + RUN + "\r" + RUN + "\r"
    path = tmp_path / "cr.jsonl"
    path.write_bytes(text.encode(encoding))
    source = ByteSource(path, Limits(), path.name)
    assert collect(iter_records(source, "ndjson", Limits())) == [(text.encode(), 1, None)]
    assert source.error is None


def test_stray_nuls_after_accented_letters_in_a_utf8_file_do_not_make_it_utf16(tmp_path: Path) -> None:
    """Only ASCII code units tell a BOM-less UTF-16 file (_detect_encoding): a byte of 0x80 or more before a NUL is
    the end of a UTF-8 letter (é is C3 A9), not a Latin-1 character in UTF-16. NUL-damaged lines of accented text at
    a UTF-8 file's start leave it UTF-8: those lines are records (quarantined later), the ones after them are read."""
    body = "\n".join(json.dumps({"runId": f"run_{i}", "workflowName": "Café", "status": "queued"}) for i in range(3))
    text = "\n\0\n\0Café\0Café\0\n" + body + "\n"
    data = text.encode()
    assert [data[i : i + 2] for i in (0, 2, 8, 14)] == [b"\n\0", b"\n\0", b"\xa9\0", b"\xa9\0"]  # UTF-16-LE code units
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(data)
    source = ByteSource(path, Limits(), path.name)
    got = collect(iter_records(source, "ndjson", Limits()))
    assert got == [(item.raw.encode(), item.line, None) for item in ref.split_ndjson(text)]
    assert [json.loads(raw)["runId"] for raw, _, _ in got[-3:]] == ["run_0", "run_1", "run_2"]
    assert source.error is None


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_records_that_end_before_the_decompression_cap_in_a_block_past_the_head_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """The bytes up to RUNLENS_MAX_DECOMPRESSED_BYTES count past the head as in it: of the block that crosses the
    cap, the records that end before the cap are read, and only the line the cap cuts is left for a reading under a
    larger cap (blocks and head made 100 bytes, so the cap falls in the fifth block)."""
    monkeypatch.setattr(readers, "CHUNK_BYTES", 100)
    monkeypatch.setattr(readers, "LINE_END_HEAD_BYTES", 100)
    recs = [json.dumps({"runId": f"run_{i}", "workflowName": "w", "status": "queued"}) for i in range(12)]
    text = "".join(r + "\n" for r in recs).encode()
    ends = [len("".join(r + "\n" for r in recs[: i + 1])) for i in range(len(recs))]
    cap = ends[6] + 5
    assert 100 < cap // 100 * 100 < ends[6] < cap < len(text)  # a record ends in the crossing block, before the cap
    path = tmp_path / f"capped{suffix}"
    path.write_bytes(gzip.compress(text, mtime=0) if suffix.endswith(".gz") else text)
    limits = Limits(max_decompressed_bytes=cap)
    source = ByteSource(path, limits, path.name)
    got = collect(iter_records(source, "ndjson", limits))
    assert got == [(r.encode(), i + 1, None) for i, r in enumerate(recs) if ends[i] <= cap]
    assert len(got) == 7 and source.stopped_at_cap()


def test_an_ndjson_file_whose_reading_fails_before_its_first_block_is_left_to_the_ingest_not_unread(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """one_document_problem names only an NDJSON file holding a JSON document; any other read error is the
    ingest's to report. A UTF-32 .jsonl with a code point beyond U+10FFFF within a small decompression cap fails
    before its first block is yielded: it is still a new file (not listed unreadable and tried again at every run),
    and its ingest records a partial reading that names the error."""
    record_line = json.dumps({"runId": "run_1", "workflowName": "w", "status": "queued"}) + "\n"
    data = (record_line * 5).encode("utf-32")
    data = data[:40] + (0x110000).to_bytes(4, "little") + data[44:]  # the 10th character (after the 4-byte BOM)
    monkeypatch.setenv("RUNLENS_MAX_DECOMPRESSED_BYTES", "100")
    settings = Settings.from_env(data_dir)
    path = settings.exports_dir / "bad.jsonl"
    path.write_bytes(data)
    source = ByteSource(path, settings.limits, path.name)
    assert collect(iter_records(source, "ndjson", settings.limits)) == []
    assert source.error is not None and source.error.reason.startswith("not valid utf-32")
    assert readers.one_document_problem(path, settings.limits, path.name) is None
    new = exports.new_exports(settings, exports.discover(settings))
    assert ([f.name for f in new.files], new.unreadable) == (["bad.jsonl"], {})
    validator = RecordValidator.from_file(settings.schema_path)
    result = ingest_file(path, settings, validator, "bad.jsonl")
    assert (result.outcome, result.records_read) == ("partial", 0)
    assert result.message.startswith("not valid utf-32"), result.message
