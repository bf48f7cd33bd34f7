"""The ``runlens`` console command. It imports the command line inside a guard of its own, so a Ctrl-C in the first
moments (while Python imports runlens's modules, before ``runlens.cli.main`` catches it) ends the command with the
usual line and exit code instead of a traceback."""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from runlens.cli import main as command
    except KeyboardInterrupt:
        print("runlens: interrupted", file=sys.stderr)  # what runlens.interrupts.ending says of a Ctrl-C
        return 130
    return command()
