"""What the commands print on success and pass on to the code they run (each found unpinned by a mutation audit)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from conftest import CliRunner
from runlens import cli

PROJECT = Path(__file__).resolve().parents[1]


def test_generate_writes_the_format_and_share_of_invalid_records_asked_for_and_says_what_it_wrote(
    tmp_path: Path, run_cli: CliRunner
) -> None:
    """`runlens generate --format jsonl --invalid-ratio 0.2`: only .jsonl files, about a fifth of their records
    invalid, and one line counting the files, the records, the invalid ones (as `runlens validate` finds them) and
    the runs asked for. The format or the ratio not passed on to the generator, or the records counted as the runs,
    went unseen."""
    out = tmp_path / "exports"
    arguments = (
        "--runs",
        "60",
        "--days",
        "2",
        "--snapshots-per-day",
        "2",
        "--format",
        "jsonl",
        "--invalid-ratio",
        "0.2",
    )
    result = run_cli("generate", "--out", out, *arguments)
    assert result.code == 0, result.err
    files = sorted(out.iterdir())
    assert len(files) == 2 * 2 and all(path.name.endswith(".jsonl") for path in files), files
    records = sum(1 for path in files for line in path.read_bytes().splitlines() if line.strip())
    checked = run_cli("validate", *files)
    found = re.search(r"^(\d+) record\(s\) checked, (\d+) invalid", checked.err, re.M)
    assert found is not None, checked.err
    assert int(found[1]) == records
    invalid = int(found[2])
    assert 0.1 < invalid / records < 0.3, (invalid, records)
    said = f"wrote {len(files)} export file(s) to {out}: {records} records ({invalid} deliberately invalid) for 60 runs"
    assert result.out == said + "\n"


def test_version_is_the_projects(capsys: pytest.CaptureFixture[str]) -> None:
    """`runlens --version` names the version pyproject.toml gives (a bug report's first question; before, the option
    was an error asking for a command)."""
    with pytest.raises(SystemExit) as ended:
        cli.main(["--version"])
    assert ended.value.code == 0
    expected = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out == f"runlens {expected}\n"
